import Foundation
import FaceNetKernels

/// Keras `InputLayer`: a model input of a fixed per-sample shape (nil sizes accepted at any
/// size, checked against the tensor given when a session is planned: `ConcreteShapes`).
package struct InputLayer: LayerDefinition {
    let shape: [Int?]

    package static let kerasClassNames = ["InputLayer"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        let key = c["batch_shape"] != nil ? "batch_shape" : "batch_input_shape"
        let dims = try r.array(c, key)
        guard dims.count >= 2 else { throw r.error("'\(key)' \(dims) has no per-sample dimensions") }
        let shape: [Int?] = try dims.dropFirst().map { $0 is NSNull ? nil : try r.int($0, key) }
        guard shape.allSatisfy({ ($0 ?? 1) > 0 }) else { throw r.error("'\(key)' \(dims) has a non-positive size") }
        if let dtype = c["dtype"] as? String, dtype != "float32" {
            throw r.unsupported("input dtype \(dtype); only float32")
        }
        return .input(shape: shape)
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape { shape }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    /// The session copies the input into its buffer.
    package func bind(_ binding: LayerBinding) throws -> BoundOp { .input }

    /// The model input, as given.
    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor { inputs[0] }
}
