import FaceNetKernels

/// Keras `BatchNormalization` at inference, over the channel (last) axis; folded at load
/// into y = x · scale + shift (`BatchNormFolded`). After a Conv2D or Dense the planner folds
/// it into the GEMM epilogue (`ExecutionPlan`); elsewhere it runs unfused.
package struct BatchNormalizationLayer: LayerDefinition {
    let config: BatchNormConfig

    package static let kerasClassNames = ["BatchNormalization"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        let axisRaw = try r.value(c, "axis")
        let axes = try ((axisRaw as? [Any]) ?? [axisRaw]).map { try r.int($0, "axis") }
        guard axes.count == 1, axes[0] == -1 || axes[0] >= 1 else {
            throw r.unsupported("normalisation over axes \(axes); only the channel (last) axis")
        }
        let epsilon = try r.double(c, "epsilon")
        guard epsilon >= 0, epsilon.isFinite else { throw r.error("epsilon \(epsilon) is not a finite non-negative number") }
        return .batchNormalization(BatchNormConfig(
            center: try r.bool(c, "center", default: true), scale: try r.bool(c, "scale", default: true),
            epsilon: Float(epsilon), axis: axes[0]))
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let s = try inputs.single()
        guard sampleAxis(config.axis, rank: s.count) == s.count - 1, let last = s.last, last != nil else {
            throw inputs.fail("BatchNormalization axis \(config.axis) must be the known last (channel) axis of \(describe(s))")
        }
        return s
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] {
        let c = try inputs.channels()
        var specs: [WeightSpec] = []
        if config.scale { specs.append(WeightSpec(name: "gamma", shape: [c])) }
        if config.center { specs.append(WeightSpec(name: "beta", shape: [c])) }
        specs.append(WeightSpec(name: "moving_mean", shape: [c]))
        specs.append(WeightSpec(name: "moving_variance", shape: [c]))
        return specs
    }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp {
        let bn = config, w = binding.weights
        return .layer(BatchNormFolded(
            config: bn, gamma: bn.scale ? try w.scalars("gamma") : nil, beta: bn.center ? try w.scalars("beta") : nil,
            mean: try w.scalars("moving_mean"), variance: try w.scalars("moving_variance")))
    }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        let bn = config
        return BatchNormReference.apply(inputs[0], config: bn,
                                        gamma: bn.scale ? try weights.scalars("gamma") : nil,
                                        beta: bn.center ? try weights.scalars("beta") : nil,
                                        mean: try weights.scalars("moving_mean"),
                                        variance: try weights.scalars("moving_variance"))
    }
}

extension BatchNormFolded: BoundLayer {
    package func forward(inputs: [UnsafePointer<Float>], inputShapes: [[Int]], output: UnsafeMutablePointer<Float>,
                         outputShape: [Int]) {
        apply(input: inputs[0], output: output, count: outputShape.reduce(1, *))
    }
}
