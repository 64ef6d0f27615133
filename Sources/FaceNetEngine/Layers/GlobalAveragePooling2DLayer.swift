import FaceNetKernels

/// Keras `GlobalAveragePooling2D`: the mean over H and W, NHWC → (N, C), or (N, 1, 1, C)
/// with `keepdims` (the same floats). Unfused.
package struct GlobalAveragePooling2DLayer: LayerDefinition, BoundLayer {
    let keepDims: Bool

    package static let kerasClassNames = ["GlobalAveragePooling2D"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        try r.requireChannelsLast(c)
        return .globalAveragePooling2D(keepDims: try r.bool(c, "keepdims", default: false))
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let (_, _, ch) = try inputs.image()
        return keepDims ? [1, 1, ch] : [ch]
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp { .layer(self) }

    package func forward(inputs: [UnsafePointer<Float>], inputShapes: [[Int]], output: UnsafeMutablePointer<Float>,
                         outputShape: [Int]) {
        let s = inputShapes[0]
        PoolingKernel.globalAverage(batch: s[0], pixels: s[1] * s[2], channels: s[3], input: inputs[0], output: output)
    }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        let g = PoolingReference.globalAverage(inputs[0])
        return keepDims ? try g.reshaped([g.shape[0], 1, 1, g.shape[1]]) : g
    }
}
