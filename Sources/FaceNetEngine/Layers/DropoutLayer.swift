import FaceNetKernels

/// Keras `Dropout`: the identity at inference. The planner aliases its output to its
/// input's buffer (`BoundOp.identity`): no step, nothing copied.
package struct DropoutLayer: LayerDefinition {
    package static let kerasClassNames = ["Dropout"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind { .dropout }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape { try inputs.elementwise() }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp { .identity }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor { inputs[0] }
}
