import Foundation
import FaceNetKernels

/// Keras `MaxPooling2D` and `AveragePooling2D` on NHWC: `same` or `valid`, strides (the
/// pool size when absent). Padding cells never count.
///
/// The planner gives pooling a step of its own (`PlannedStep.pool`), whose output may be a
/// channel slice of the concatenation that reads it (`ExecutionPlan`); the loops are
/// `PoolingKernel` in FaceNetKernels/Ops.
package struct Pooling2DLayer: LayerDefinition {
    let config: Pool2DConfig
    let average: Bool

    package static let kerasClassNames = ["MaxPooling2D", "AveragePooling2D"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        try r.requireChannelsLast(c)
        let pool = try r.pair(c, "pool_size")
        let strides = (c["strides"] == nil || c["strides"] is NSNull) ? pool : try r.pair(c, "strides")
        let config = Pool2DConfig(pool: pool, strides: strides, padding: try r.padding(c))
        return className == "MaxPooling2D" ? .maxPooling2D(config) : .averagePooling2D(config)
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let p = config
        let (h, w, ch) = try inputs.image()
        return [try inputs.spatial(h, p.pool.height, p.strides.height, p.padding),
                try inputs.spatial(w, p.pool.width, p.strides.width, p.padding), ch]
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp {
        average ? .averagePooling2D(config) : .maxPooling2D(config)
    }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        PoolingReference.run(inputs[0], config: config, average: average)
    }
}
