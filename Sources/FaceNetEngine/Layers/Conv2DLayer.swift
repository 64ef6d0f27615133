import FaceNetKernels

/// Keras `Conv2D`: NHWC input, HWIO kernel, `same` or `valid` padding, strides, optional
/// bias and activation. Refused: dilation, groups, channels-first data.
///
/// The planner gives convolutions their own steps (`PlannedStep.conv`, `.siblings`):
/// Conv2D → BatchNormalization → activation → per-channel PReLU fold into the GEMM
/// epilogue, a residual up-projection accumulates onto its shortcut, sibling pointwise
/// convs share one GEMM, and the output may be a channel slice of a concatenation. Those
/// rules, and running the step (pointwise, im2col, implicit GEMM, Winograd; split across
/// threads), live in `ExecutionPlan`, `SiblingGroups` and `InferenceSession`; the kernels in
/// FaceNetKernels/Ops (`Conv2DKernel`, `Conv2DWinograd`).
package struct Conv2DLayer: LayerDefinition {
    let config: Conv2DConfig

    package static let kerasClassNames = ["Conv2D"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        try r.requireChannelsLast(c)
        if c["dilation_rate"] != nil, try r.pair(c, "dilation_rate") != (1, 1) {
            throw r.unsupported("dilation_rate other than 1")
        }
        if let groups = c["groups"], try r.int(groups, "groups") != 1 { throw r.unsupported("grouped convolution") }
        let filters = try r.int(try r.value(c, "filters"), "filters")
        guard filters > 0 else { throw r.error("filters must be positive") }
        return .conv2D(Conv2DConfig(
            filters: filters, kernel: try r.pair(c, "kernel_size"),
            strides: c["strides"] == nil ? (1, 1) : try r.pair(c, "strides"),
            padding: try r.padding(c), useBias: try r.bool(c, "use_bias", default: true),
            activation: try r.activation(c)))
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let c = config
        let (h, w, _) = try inputs.image()
        return [try inputs.spatial(h, c.kernel.height, c.strides.height, c.padding),
                try inputs.spatial(w, c.kernel.width, c.strides.width, c.padding), c.filters]
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] {
        let c = config
        var specs = [WeightSpec(name: "kernel", shape: [c.kernel.height, c.kernel.width, try inputs.channels(), c.filters])]
        if c.useBias { specs.append(WeightSpec(name: "bias", shape: [c.filters])) }
        return specs
    }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        let c = config
        let cin = inputShapes.first?.last ?? 0
        return 2 * outputShape.reduce(1, *) * c.kernel.height * c.kernel.width * cin
    }

    /// The kernel stored for the GEMM backend (`ConvWeights.direct`), or for a 3×3, 1×7 or 7×1
    /// stride-1 conv with enough channels its Winograd transform instead (`.winograd`).
    package func bind(_ binding: LayerBinding) throws -> BoundOp {
        let c = config, gemm = binding.gemm
        let kernel = try binding.weights.scalars("kernel")
        let inChannels = c.filters > 0 ? kernel.count / (c.kernel.height * c.kernel.width * c.filters) : 0
        let packed: ConvWeights
        let sample = binding.inputShapes.first ?? []  // (height, width, channels) per sample
        if let tile = Conv2DWinograd.tile(config: c, inChannels: inChannels, height: sample.count == 3 ? sample[0] : nil,
                                          width: sample.count == 3 ? sample[1] : nil, policy: binding.winograd) {
            packed = .winograd(try GEMMWeights(rowMajor: Conv2DWinograd.transformKernel(kernel, inChannels: inChannels,
                                                                                    filters: c.filters, tile: tile),
                                           depth: inChannels, columns: c.filters, count: tile.positions, backend: gemm), tile)
        } else {
            packed = .direct(try GEMMWeights(rowMajor: kernel, depth: kernel.count / max(c.filters, 1), columns: c.filters,
                                         backend: gemm))
        }
        return .conv2D(c, kernel: packed, bias: c.useBias ? try binding.weights.scalars("bias") : nil)
    }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        Conv2DReference.run(inputs[0], kernel: try weights.tensor("kernel"),
                            bias: config.useBias ? try weights.scalars("bias") : nil, config: config)
    }
}
