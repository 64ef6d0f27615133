import FaceNetKernels

/// Runs a whole model with the naive reference kernels, layer by layer on `Tensor`s, from
/// the weights as loaded (nothing folded). Slow; it is the oracle for the fast engine.
package enum ReferenceExecutor {
    package static func run(topology: ModelTopology, weights: LoadedWeights,
                           inputs: [String: Tensor], outputs: [String]) throws -> [String: Tensor] {
        var values: [String: Tensor] = [:]
        for layer in topology.layers {
            let xs = try layer.inputs.map { name -> Tensor in
                guard let v = values[name] else { throw FaceNetError.unknownLayer(name: name) }
                return v
            }
            let w = weights.tensors[layer.name] ?? [:]
            func weight(_ name: String) throws -> Tensor {
                guard let t = w[name] else {
                    throw FaceNetError.missingWeight(path: weights.path, layer: layer.name, weight: name, expectedShape: [])
                }
                return t
            }
            let y: Tensor
            switch layer.kind {
            case .input:
                guard let x = inputs[layer.name] else {
                    throw FaceNetError.inputShapeMismatch(layer: layer.name, expected: "a tensor", found: [])
                }
                y = x
            case .conv2D(let c):
                y = Conv2DReference.run(xs[0], kernel: try weight("kernel"),
                                        bias: c.useBias ? try weight("bias").scalars : nil, config: c)
            case .batchNormalization(let bn):
                y = BatchNormReference.apply(xs[0], config: bn,
                                             gamma: bn.scale ? try weight("gamma").scalars : nil,
                                             beta: bn.center ? try weight("beta").scalars : nil,
                                             mean: try weight("moving_mean").scalars,
                                             variance: try weight("moving_variance").scalars)
            case .activation(let f):
                y = ActivationReference.apply(f, xs[0])
            case .maxPooling2D(let p):
                y = PoolingReference.run(xs[0], config: p, average: false)
            case .averagePooling2D(let p):
                y = PoolingReference.run(xs[0], config: p, average: true)
            case .globalAveragePooling2D(let keepDims):
                let g = PoolingReference.globalAverage(xs[0])
                y = keepDims ? try g.reshaped([g.shape[0], 1, 1, g.shape[1]]) : g
            case .concatenate(let axis):
                guard let a = sampleAxis(axis, rank: xs[0].rank - 1) else {
                    throw FaceNetError.invalidTopology(path: topology.source, layer: layer.name, reason: "bad axis")
                }
                y = ConcatenateReference.run(xs, sampleAxis: a)
            case .add:
                y = ElementwiseReference.add(xs)
            case .dropout:
                y = xs[0]
            case .dense(let d):
                y = DenseReference.run(xs[0], kernel: try weight("kernel"),
                                       bias: d.useBias ? try weight("bias").scalars : nil, activation: d.activation)
            case .scale(let s):
                y = ElementwiseReference.scale(xs[0], by: s)
            case .prelu(let p):
                let alpha = try weight("alpha")
                let expected = p.alphaShape(for: xs[0].shape.dropFirst().map(Optional.some))
                guard alpha.shape == expected else {
                    throw FaceNetError.weightShapeMismatch(path: weights.path, layer: layer.name, weight: "alpha",
                                                           expected: expected ?? [], found: alpha.shape)
                }
                y = PReLUReference.apply(xs[0], alpha: alpha)
            case .permute(let dims):
                y = PermuteReference.run(xs[0], dims: dims)
            case .flatten, .reshape:
                let batch = xs[0].shape[0]
                let perSample = xs[0].shape.dropFirst().reduce(1, *)
                var sample: SymbolicShape? = [perSample]
                if case .reshape(let target) = layer.kind {
                    sample = ReshapeRule.outputShape(target: target, inputCount: perSample)
                }
                guard let sample else {
                    throw FaceNetError.invalidTopology(path: topology.source, layer: layer.name,
                                                       reason: "cannot reshape \(perSample) elements per sample")
                }
                y = try xs[0].reshaped([batch] + sample.map { $0 ?? 0 })
            }
            values[layer.name] = y
        }
        var result: [String: Tensor] = [:]
        for name in outputs {
            guard let v = values[name] else { throw FaceNetError.unknownLayer(name: name) }
            result[name] = v
        }
        return result
    }
}
