import FaceNetKernels

/// Per-layer shapes, parameters and FLOPs of a topology, for `facenet inspect` and reports.
public struct ModelSummary: Sendable {
    public struct Row: Sendable {
        public let name: String
        public let className: String
        public let inputs: [String]
        /// Per-sample output shape.
        public let outputShape: [Int]
        public let parameters: Int
        public let flops: Int
    }

    public let rows: [Row]
    public var parameters: Int { rows.reduce(0) { $0 + $1.parameters } }
    public var flops: Int { rows.reduce(0) { $0 + $1.flops } }

    /// - Parameters:
    ///   - topology: the model's layers, in topological order.
    ///   - sampleShape: per-sample input shape, needed when the input's size is open.
    public init(topology: ModelTopology, sampleShape: [Int]? = nil) throws {
        var shapes: [String: [Int]] = [:]
        let specs = Dictionary(uniqueKeysWithValues: try topology.weightSpecs().map { ($0.layerName, $0) })
        var rows: [Row] = []
        for layer in topology.layers {
            let inputShapes = layer.inputs.map { shapes[$0] ?? [] }
            var symbolic = try layer.outputShape(for: inputShapes.map { $0.map(Optional.some) })
            if case .input = layer.kind, let sampleShape { symbolic = sampleShape.map(Optional.some) }
            guard symbolic.allSatisfy({ $0 != nil }) else {
                throw FaceNetError.invalidArgument("layer '\(layer.name)' has an open size \(describe(symbolic)); pass the input shape")
            }
            let out = symbolic.map { $0 ?? 0 }
            shapes[layer.name] = out
            let params = specs[layer.name]?.weights.reduce(0) { $0 + $1.shape.reduce(1, *) } ?? 0
            rows.append(Row(name: layer.name, className: layer.className, inputs: layer.inputs, outputShape: out,
                            parameters: params, flops: layer.flops(inputShapes: inputShapes, outputShape: out)))
        }
        self.rows = rows
    }
}
