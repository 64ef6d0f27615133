import Foundation
import FaceNetKernels

/// Keras `PReLU`: f(x) = x for x ≥ 0, alpha · x otherwise, alpha shared over `shared_axes`.
/// With one alpha per channel after a Conv2D or Dense the planner folds it into the GEMM
/// epilogue (`ExecutionPlan`); otherwise it runs unfused over a `StridedWalk`.
package struct PReLULayer: LayerDefinition {
    let config: PReLUConfig

    package static let kerasClassNames = ["PReLU"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        // Keras writes null (nothing shared), or the axes as a list (an int is accepted too).
        let raw = c["shared_axes"]
        let axes: [Int]
        if raw == nil || raw is NSNull { axes = [] } else if raw is [Any] { axes = try r.ints(c, "shared_axes") } else {
            axes = [try r.int(try r.value(c, "shared_axes"), "shared_axes")]
        }
        guard axes.allSatisfy({ $0 >= 1 }) else {
            throw r.error("shared_axes \(axes): axes count from 1 (the batch is axis 0 and cannot be shared)")
        }
        return .prelu(PReLUConfig(sharedAxes: axes))
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let s = try inputs.single()
        if let outside = config.sharedAxes.first(where: { $0 > s.count }) {
            throw inputs.fail("PReLU shared axis \(outside) is outside the input \(describe(s)) (axes 1…\(s.count))")
        }
        guard (1...3).contains(s.count) else {
            throw inputs.fail("PReLU input \(describe(s)) has \(s.count) per-sample axes; 1 to 3 are supported")
        }
        return s
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] {
        guard let input = inputs.shapes.first, let shape = config.alphaShape(for: input) else {
            throw inputs.fail("PReLU alpha's shape would depend on the open sizes of the input \(describe(inputs.shapes.first ?? [])); "
                + "share those axes (shared_axes) or give the input a fixed size")
        }
        return [WeightSpec(name: "alpha", shape: shape)]
    }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp {
        let alpha = try binding.weights.tensor("alpha")
        let expected = binding.inputShapes.first.flatMap(config.alphaShape(for:))
        guard alpha.shape == expected else {
            throw FaceNetError.weightShapeMismatch(path: binding.weights.path, layer: binding.weights.layer, weight: "alpha",
                                                   expected: expected ?? [], found: alpha.shape)
        }
        return .layer(PReLUSlopes(alpha: alpha.scalars, shape: alpha.shape))
    }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        let alpha = try weights.tensor("alpha")
        let expected = config.alphaShape(for: inputs[0].shape.dropFirst().map(Optional.some))
        guard alpha.shape == expected else {
            throw FaceNetError.weightShapeMismatch(path: weights.path, layer: weights.layer, weight: "alpha",
                                                   expected: expected ?? [], found: alpha.shape)
        }
        return PReLUReference.apply(inputs[0], alpha: alpha)
    }
}

extension PReLUSlopes: BoundLayer {
    package func forward(inputs: [UnsafePointer<Float>], inputShapes: [[Int]], output: UnsafeMutablePointer<Float>,
                         outputShape: [Int]) {
        alpha.withUnsafeBufferPointer { alpha in
            guard let alpha = alpha.baseAddress else { return }
            PReLUKernel.apply(StridedWalk(broadcasting: shape, over: inputShapes[0]), alpha: alpha,
                              input: inputs[0], output: output)
        }
    }
}
