import Foundation
import FaceNetKernels

/// FaceNet's `Lambda`, `x * scale`: the bytecode cannot run here, so only a Lambda whose
/// arguments are exactly `{"scale": number}` is read, as that. Inside a residual
/// up-projection (Conv2D → Lambda → Add) the planner folds it into the conv's GEMM as its
/// alpha (`ExecutionPlan`); elsewhere it runs unfused.
package struct ScaleLayer: LayerDefinition, BoundLayer {
    let factor: Float

    package static let kerasClassNames = ["Lambda"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        // The bytecode cannot run here; FaceNet's Lambda is `x * scale`, recognised by its
        // arguments being exactly {"scale": number}.
        guard let arguments = c["arguments"] as? [String: Any], arguments.count == 1,
              let scale = arguments["scale"] as? NSNumber, !isJSONBoolean(scale),
              scale.doubleValue.isFinite else {
            throw r.unsupported("only FaceNet's Lambda (x * arguments.scale, with arguments exactly {\"scale\": number}) can run; this one has arguments \(c["arguments"] ?? "none")")
        }
        return .scale(Float(scale.doubleValue))
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape { try inputs.elementwise() }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp { .layer(self) }

    package func forward(inputs: [UnsafePointer<Float>], inputShapes: [[Int]], output: UnsafeMutablePointer<Float>,
                         outputShape: [Int]) {
        ElementwiseKernel.scale(inputs[0], by: factor, count: outputShape.reduce(1, *), output: output)
    }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        ElementwiseReference.scale(inputs[0], by: factor)
    }
}
