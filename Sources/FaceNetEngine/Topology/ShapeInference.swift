import FaceNetKernels

/// Shapes, weights and FLOPs of one layer, from its definition (`LayerKind.definition`,
/// in `Layers/`).
extension LayerNode {
    /// The output shape of this layer for the given input shapes, checking that the
    /// inputs fit. Works on symbolic shapes: unknown sizes stay unknown.
    public func outputShape(for inputShapes: [SymbolicShape]) throws -> SymbolicShape {
        try kind.definition.outputShape(LayerInputs(layer: name, shapes: inputShapes))
    }

    /// The weights this layer needs, in Keras's order, given its input shapes.
    public func weightSpecs(for inputShapes: [SymbolicShape]) throws -> [WeightSpec] {
        try kind.definition.weightSpecs(LayerInputs(layer: name, shapes: inputShapes))
    }

    /// Multiply-adds × 2 for one sample (Conv2D and Dense only, as the reference counts).
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        kind.definition.flops(inputShapes: inputShapes, outputShape: outputShape)
    }
}
