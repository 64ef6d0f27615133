import FaceNetKernels

/// Keras `Flatten` (channels-last): all per-sample axes into one, row-major. The planner
/// makes it a view of its input's buffer (`BoundOp.reshape`): no step, nothing moves.
package struct FlattenLayer: LayerDefinition {
    package static let kerasClassNames = ["Flatten"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        try r.requireChannelsLast(c)
        return .flatten
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let s = try inputs.single()
        guard !s.isEmpty else { throw inputs.fail("Flatten needs per-sample axes, got \(describe(s))") }
        return [try inputs.count(s)]
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp { .reshape }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        let x = inputs[0]
        return try x.reshaped([x.shape[0], x.shape.dropFirst().reduce(1, *)])
    }
}
