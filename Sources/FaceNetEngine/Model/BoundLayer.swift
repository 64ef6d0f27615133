import FaceNetKernels

/// A layer with its weights checked and repacked for its kernel, once, at load.
package enum BoundOp: Sendable {
    case input
    /// Kernel HWIO = (K × filters), the GEMM's B matrix, stored for the GEMM backend; for
    /// 3×3, 1×7 and 7×1 stride-1 convolutions with enough channels its Winograd transform instead.
    case conv2D(Conv2DConfig, kernel: ConvWeights, bias: [Float]?)
    case batchNormalization(BatchNormFolded)
    case activation(ActivationFunction)
    case maxPooling2D(Pool2DConfig)
    case averagePooling2D(Pool2DConfig)
    case globalAveragePooling2D
    /// Axis into the per-sample shape.
    case concatenate(sampleAxis: Int)
    case add
    /// Dropout at inference: the output is the input buffer itself.
    case identity
    /// Kernel (in × units), stored for the GEMM backend.
    case dense(DenseConfig, kernel: GEMMWeights, bias: [Float]?)
    case scale(Float)
    case prelu(PReLUSlopes)
    /// Output axis i is input per-sample axis `sampleAxes[i]` (0-based).
    case permute(sampleAxes: [Int])
    /// Flatten and Reshape: a view of the input buffer under the new shape (nothing moves).
    case reshape

    /// Binds one layer to the weights loaded for it (already shape-checked by the reader),
    /// packed for `gemm`, convolutions made Winograd under `winograd`.
    package init(layer: LayerNode, weights: [String: Tensor], inputShapes: [SymbolicShape], source: String, gemm: GEMMBackend,
                 winograd: WinogradPolicy) throws {
        func tensor(_ name: String) throws -> Tensor {
            guard let t = weights[name] else {
                throw FaceNetError.invalidWeights(path: source, layer: layer.name, reason: "weight '\(name)' was not loaded")
            }
            return t
        }
        func weight(_ name: String) throws -> [Float] { try tensor(name).scalars }
        switch layer.kind {
        case .input:
            self = .input
        case .conv2D(let c):
            let kernel = try weight("kernel")
            let inChannels = c.filters > 0 ? kernel.count / (c.kernel.height * c.kernel.width * c.filters) : 0
            let packed: ConvWeights
            let sample = inputShapes.first ?? []  // (height, width, channels) per sample
            if let tile = Conv2DWinograd.tile(config: c, inChannels: inChannels, height: sample.count == 3 ? sample[0] : nil,
                                              width: sample.count == 3 ? sample[1] : nil, policy: winograd) {
                packed = .winograd(try GEMMWeights(rowMajor: Conv2DWinograd.transformKernel(kernel, inChannels: inChannels,
                                                                                        filters: c.filters, tile: tile),
                                               depth: inChannels, columns: c.filters, count: tile.positions, backend: gemm), tile)
            } else {
                packed = .direct(try GEMMWeights(rowMajor: kernel, depth: kernel.count / max(c.filters, 1), columns: c.filters,
                                             backend: gemm))
            }
            self = .conv2D(c, kernel: packed, bias: c.useBias ? try weight("bias") : nil)
        case .dense(let d):
            let kernel = try weight("kernel")
            self = .dense(d, kernel: try GEMMWeights(rowMajor: kernel, depth: kernel.count / max(d.units, 1), columns: d.units,
                                                 backend: gemm),
                          bias: d.useBias ? try weight("bias") : nil)
        case .batchNormalization(let bn):
            self = .batchNormalization(BatchNormFolded(
                config: bn, gamma: bn.scale ? try weight("gamma") : nil, beta: bn.center ? try weight("beta") : nil,
                mean: try weight("moving_mean"), variance: try weight("moving_variance")))
        case .activation(let f):
            self = .activation(f)
        case .maxPooling2D(let p):
            self = .maxPooling2D(p)
        case .averagePooling2D(let p):
            self = .averagePooling2D(p)
        case .globalAveragePooling2D:
            self = .globalAveragePooling2D
        case .concatenate(let axis):
            guard let rank = inputShapes.first?.count, let a = sampleAxis(axis, rank: rank) else {
                throw FaceNetError.invalidTopology(path: source, layer: layer.name, reason: "bad concatenation axis \(axis)")
            }
            self = .concatenate(sampleAxis: a)
        case .add:
            self = .add
        case .dropout:
            self = .identity
        case .scale(let s):
            self = .scale(s)
        case .prelu(let p):
            let alpha = try tensor("alpha")
            let expected = inputShapes.first.flatMap(p.alphaShape(for:))
            guard alpha.shape == expected else {
                throw FaceNetError.weightShapeMismatch(path: source, layer: layer.name, weight: "alpha",
                                                       expected: expected ?? [], found: alpha.shape)
            }
            self = .prelu(PReLUSlopes(alpha: alpha.scalars, shape: alpha.shape))
        case .permute(let dims):
            self = .permute(sampleAxes: dims.map { $0 - 1 })
        case .flatten, .reshape:
            self = .reshape
        }
    }
}
