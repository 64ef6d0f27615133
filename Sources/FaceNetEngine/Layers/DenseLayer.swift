import FaceNetKernels

/// Keras `Dense` on a flat (N, features) input: (in, units) kernel, optional bias and
/// activation.
///
/// The planner gives it a step of its own (`PlannedStep.dense`, one GEMM) with the same
/// epilogue fusion as Conv2D (BatchNormalization, activation, per-channel PReLU), in
/// `ExecutionPlan`; the kernel is `DenseKernel` in FaceNetKernels/Ops.
package struct DenseLayer: LayerDefinition {
    let config: DenseConfig

    package static let kerasClassNames = ["Dense"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        let units = try r.int(try r.value(c, "units"), "units")
        guard units > 0 else { throw r.error("units must be positive") }
        return .dense(DenseConfig(units: units, useBias: try r.bool(c, "use_bias", default: true),
                                  activation: try r.activation(c)))
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let s = try inputs.single()
        guard s.count == 1, s[0] != nil else {
            throw inputs.fail("Dense expects a flat (features) input, got \(describe(s))")
        }
        return [config.units]
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] {
        let d = config
        var specs = [WeightSpec(name: "kernel", shape: [try inputs.channels(), d.units])]
        if d.useBias { specs.append(WeightSpec(name: "bias", shape: [d.units])) }
        return specs
    }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        2 * (inputShapes.first?.last ?? 0) * config.units
    }

    /// The kernel (in × units) stored for the GEMM backend.
    package func bind(_ binding: LayerBinding) throws -> BoundOp {
        let d = config, gemm = binding.gemm
        let kernel = try binding.weights.scalars("kernel")
        return .dense(d, kernel: try GEMMWeights(rowMajor: kernel, depth: kernel.count / max(d.units, 1), columns: d.units,
                                             backend: gemm),
                      bias: d.useBias ? try binding.weights.scalars("bias") : nil)
    }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        DenseReference.run(inputs[0], kernel: try weights.tensor("kernel"),
                           bias: config.useBias ? try weights.scalars("bias") : nil, activation: config.activation)
    }
}
