import FaceNetKernels

/// Runs a whole model with the naive reference kernels, layer by layer on `Tensor`s, from
/// the weights as loaded (nothing folded): each layer's `LayerDefinition.reference`. Slow;
/// it is the oracle for the fast engine.
package enum ReferenceExecutor {
    package static func run(topology: ModelTopology, weights: LoadedWeights,
                           inputs: [String: Tensor], outputs: [String]) throws -> [String: Tensor] {
        var values: [String: Tensor] = [:]
        for layer in topology.layers {
            let xs = try layer.inputs.map { name -> Tensor in
                guard let v = values[name] else { throw FaceNetError.unknownLayer(name: name) }
                return v
            }
            let w = LayerWeights(reference: layer.name, tensors: weights.tensors[layer.name] ?? [:], path: weights.path,
                                 topologySource: topology.source)
            let y: Tensor
            if case .input = layer.kind {
                // The model input, as given, is the input layer's only input.
                guard let x = inputs[layer.name] else {
                    throw FaceNetError.inputShapeMismatch(layer: layer.name, expected: "a tensor", found: [])
                }
                y = try layer.kind.definition.reference([x], weights: w)
            } else {
                y = try layer.kind.definition.reference(xs, weights: w)
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
