import FaceNetKernels

/// Keras `Activation` (linear, relu, sigmoid, tanh, softmax) and the `Softmax` layer (last
/// axis only). After a Conv2D or Dense the planner folds it into the GEMM epilogue
/// (`ExecutionPlan`); elsewhere it runs unfused, in place on a copy of its input.
package struct ActivationLayer: LayerDefinition, BoundLayer {
    let function: ActivationFunction

    package static let kerasClassNames = ["Activation", "Softmax"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        guard className == "Softmax" else { return .activation(try r.activation(c)) }
        // The axis is an int, or (Keras 3) may be a list; only the last axis is supported.
        let raw = c["axis"] ?? -1
        let axes = try ((raw as? [Any]) ?? [raw]).map { try r.int($0, "axis") }
        guard axes == [-1] else { throw r.unsupported("softmax over axis \(axes); only the last axis (-1)") }
        return .activation(.softmax)
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape { try inputs.elementwise() }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp { .layer(self) }

    package func forward(inputs: [UnsafePointer<Float>], inputShapes: [[Int]], output out: UnsafeMutablePointer<Float>,
                         outputShape: [Int]) {
        let count = outputShape.reduce(1, *)
        if UnsafePointer(out) != inputs[0] { out.update(from: inputs[0], count: count) }
        ActivationKernel.apply(function, to: out, count: count, lastDimension: outputShape.last ?? 1)
    }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        ActivationReference.apply(function, inputs[0])
    }
}
