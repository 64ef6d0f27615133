import FaceNetKernels

/// Keras `Add` of two or more inputs of one shape. As the end of a residual up-projection
/// (Conv2D → Lambda(scale) → Add) the planner folds it into the conv's GEMM, accumulating
/// onto the shortcut (`ExecutionPlan`); elsewhere it runs unfused.
package struct AddLayer: LayerDefinition, BoundLayer {
    package static let kerasClassNames = ["Add"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind { .add }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let inputShapes = inputs.shapes
        guard inputShapes.count >= 2, let first = inputShapes.first else {
            throw inputs.fail("Add needs at least 2 inputs, has \(inputShapes.count)")
        }
        for s in inputShapes where s.count != first.count || zip(s, first).contains(where: { a, b in
            if let a, let b { return a != b }
            return false
        }) {
            throw inputs.fail("Add inputs have different shapes: \(inputShapes.map(describe))")
        }
        return first
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp { .layer(self) }

    package func forward(inputs: [UnsafePointer<Float>], inputShapes: [[Int]], output: UnsafeMutablePointer<Float>,
                         outputShape: [Int]) {
        ElementwiseKernel.add(inputs[0], inputs[1...], count: outputShape.reduce(1, *), output: output)
    }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        ElementwiseReference.add(inputs)
    }
}
