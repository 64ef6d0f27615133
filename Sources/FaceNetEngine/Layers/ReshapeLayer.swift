import FaceNetKernels

/// Keras `Reshape`: a new per-sample shape of the same element count (one size may be −1).
/// The planner makes it a view of its input's buffer (`BoundOp.reshape`): no step, nothing
/// moves. The shape rule is `ReshapeRule` (FaceNetKernels/Ops/Reshape.swift).
package struct ReshapeLayer: LayerDefinition {
    let targetShape: [Int]

    package static let kerasClassNames = ["Reshape"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        let target = try r.ints(c, "target_shape")
        guard !target.isEmpty, target.allSatisfy({ $0 > 0 || $0 == -1 }), target.filter({ $0 == -1 }).count <= 1 else {
            throw r.error("'target_shape' \(target) must be positive sizes with at most one -1")
        }
        return .reshape(targetShape: target)
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let s = try inputs.single()
        let inputCount = try inputs.count(s)
        guard let out = ReshapeRule.outputShape(target: targetShape, inputCount: inputCount) else {
            throw inputs.fail("Reshape to \(describe(targetShape.map(Optional.some))) does not fit the input \(describe(s)) of \(inputCount ?? 0) elements"
                              + " (the sizes must multiply to the input's element count; -1 takes what is left)")
        }
        return out
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp { .reshape }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        let x = inputs[0]
        let perSample = x.shape.dropFirst().reduce(1, *)
        guard let sample = ReshapeRule.outputShape(target: targetShape, inputCount: perSample) else {
            throw weights.topologyError("cannot reshape \(perSample) elements per sample")
        }
        return try x.reshaped([x.shape[0]] + sample.map { $0 ?? 0 })
    }
}
