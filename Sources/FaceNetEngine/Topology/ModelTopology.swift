import FaceNetKernels

/// The JSON dialect a topology was written in.
public enum KerasDialect: String, Sendable {
    /// Keras ≤ 2.3: nested-list `inbound_nodes`, `batch_input_shape`.
    case keras2 = "keras-2"
    /// tf_keras 2.x: as Keras 2, plus `module`, `registered_name`, `build_config`.
    case tfKeras = "tf_keras-2"
    /// Keras 3: nodes as `{args, kwargs}` with `keras_history`, `batch_shape`.
    case keras3 = "keras-3"
}

/// A functional model's graph: layers in an order where every layer comes after its inputs,
/// plus the names of the model's input and output layers.
public struct ModelTopology: Sendable {
    public let name: String
    public let dialect: KerasDialect
    /// Layers in topological order.
    public let layers: [LayerNode]
    /// Layers in the order the file lists them (Keras's model order, which weight files follow).
    public let fileOrder: [String]
    public let inputNames: [String]
    public let outputNames: [String]
    /// Where it was read from, for messages.
    public let source: String

    private let indexByName: [String: Int]

    package init(name: String, dialect: KerasDialect, layers: [LayerNode], inputNames: [String],
         outputNames: [String], source: String) throws {
        self.name = name
        self.dialect = dialect
        self.fileOrder = layers.map(\.name)
        self.inputNames = inputNames
        self.outputNames = outputNames
        self.source = source
        self.layers = try Self.topologicallySorted(layers, source: source)
        var index: [String: Int] = [:]
        for (i, layer) in self.layers.enumerated() { index[layer.name] = i }
        self.indexByName = index
        for name in inputNames + outputNames where index[name] == nil {
            throw FaceNetError.invalidTopology(path: source, layer: name, reason: "model input/output names a layer that does not exist")
        }
        for name in inputNames {
            guard case .input = self.layers[index[name] ?? 0].kind else {
                throw FaceNetError.invalidTopology(path: source, layer: name, reason: "model input is not an InputLayer")
            }
        }
    }

    /// The layer with this name, if any.
    public func layer(named name: String) -> LayerNode? {
        indexByName[name].map { layers[$0] }
    }

    /// Position of a layer in `layers`.
    public func index(of name: String) -> Int? { indexByName[name] }

    /// Kahn's algorithm, stable: among ready layers the one listed first in the file runs first.
    private static func topologicallySorted(_ layers: [LayerNode], source: String) throws -> [LayerNode] {
        var position: [String: Int] = [:]
        for (i, layer) in layers.enumerated() {
            guard position[layer.name] == nil else {
                throw FaceNetError.invalidTopology(path: source, layer: layer.name, reason: "two layers have this name")
            }
            position[layer.name] = i
        }
        var pending = [Int](repeating: 0, count: layers.count)
        var consumers = [[Int]](repeating: [], count: layers.count)
        for (i, layer) in layers.enumerated() {
            for input in layer.inputs {
                guard let j = position[input] else {
                    throw FaceNetError.invalidTopology(path: source, layer: layer.name, reason: "input '\(input)' is not a layer of the model")
                }
                pending[i] += 1
                consumers[j].append(i)
            }
        }
        var ready = (0..<layers.count).filter { pending[$0] == 0 }
        var order: [LayerNode] = []
        order.reserveCapacity(layers.count)
        while !ready.isEmpty {
            ready.sort(by: >)
            let next = ready.removeLast()
            order.append(layers[next])
            for c in consumers[next] {
                pending[c] -= 1
                if pending[c] == 0 { ready.append(c) }
            }
        }
        guard order.count == layers.count else {
            let stuck = layers.indices.filter { pending[$0] > 0 }.map { layers[$0].name }
            throw FaceNetError.invalidTopology(path: source, layer: stuck.first, reason: "the graph has a cycle through \(stuck.prefix(5).joined(separator: ", "))")
        }
        return order
    }

    /// Symbolic per-sample output shape of every layer, in `layers` order.
    public func symbolicShapes() throws -> [String: SymbolicShape] {
        var shapes: [String: SymbolicShape] = [:]
        for layer in layers {
            do {
                shapes[layer.name] = try layer.outputShape(for: layer.inputs.map { shapes[$0] ?? [] })
            } catch FaceNetError.invalidTopology(_, let l, let reason) {
                throw FaceNetError.invalidTopology(path: source, layer: l, reason: reason)
            }
        }
        return shapes
    }

    /// What the weights file must hold: one entry per layer in file order (weightless layers
    /// included with no weights, since Keras 3 files count layers by class and position).
    public func weightSpecs() throws -> [LayerWeightSpec] {
        let shapes = try symbolicShapes()
        var specs: [LayerWeightSpec] = []
        for name in fileOrder {
            guard let layer = layer(named: name) else {
                throw internalFault("ModelTopology: layer '\(name)' of the file order is not among the sorted layers")
            }
            let weights: [WeightSpec]
            do {
                weights = try layer.weightSpecs(for: layer.inputs.map { shapes[$0] ?? [] })
            } catch FaceNetError.invalidTopology(_, let l, let reason) {
                throw FaceNetError.invalidTopology(path: source, layer: l, reason: reason)
            }
            specs.append(LayerWeightSpec(layerName: name, className: layer.className, weights: weights))
        }
        return specs
    }
}
