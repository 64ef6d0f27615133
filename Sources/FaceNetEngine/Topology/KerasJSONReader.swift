import Foundation
import FaceNetKernels

/// Reads a Keras functional-model JSON (Keras 2.2, tf_keras 2.x or Keras 3 dialect) into a
/// `ModelTopology`. Every layer's config is checked; anything the engine cannot run
/// exactly is refused with an error naming the layer.
public enum KerasJSONReader {
    /// The default largest topology file read (real ones are ≤ 0.5 MB).
    public static let defaultMaxFileBytes = 64 << 20

    /// Reads the topology from a JSON file of at most `maxFileBytes`: the size is checked
    /// before reading, and no more than one byte past the limit is ever read (a FIFO or a
    /// device reports size 0).
    public static func read(path: String, maxFileBytes: Int = defaultMaxFileBytes) throws -> ModelTopology {
        guard FileManager.default.fileExists(atPath: path) else {
            throw FaceNetError.noSuchFile(path, advice: "check the topology path (`--topology`, `topologyPath:`)")
        }
        let data: Data
        do {
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
            guard size <= maxFileBytes else { throw tooLarge(path, "is \(size) bytes", limit: maxFileBytes) }
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.read(upToCount: maxFileBytes + 1) ?? Data()
        } catch let error as FaceNetError {
            throw error
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        guard data.count <= maxFileBytes else { throw tooLarge(path, "has more than \(maxFileBytes) bytes", limit: maxFileBytes) }
        return try parse(data, source: path)
    }

    private static func tooLarge(_ path: String, _ size: String, limit: Int) -> FaceNetError {
        .invalidTopology(path: path, layer: nil,
                         reason: "the file \(size), over the limit of \(limit) bytes for a topology JSON (maxFileBytes)")
    }

    /// Parses topology JSON text; `source` names it in errors.
    public static func parse(_ data: Data, source: String) throws -> ModelTopology {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw FaceNetError.invalidTopology(path: source, layer: nil, reason: "not valid JSON (\(error.localizedDescription))")
        }
        var reader = ConfigReader(source: source, layer: nil)
        guard let model = root as? [String: Any] else {
            throw reader.error("the top level is not a JSON object")
        }
        let className = try reader.string(model, "class_name")
        guard ["Model", "Functional"].contains(className) else {
            throw reader.error("model class \(className) is not supported; only functional models (Model/Functional) are")
        }
        let config = try reader.object(model, "config")
        let layerObjects = try reader.array(config, "layers")
        guard !layerObjects.isEmpty else { throw reader.error("the model has no layers") }

        let dialect = detectDialect(layerObjects)
        var layers: [LayerNode] = []
        layers.reserveCapacity(layerObjects.count)
        for (i, any) in layerObjects.enumerated() {
            reader.layer = "#\(i)"
            guard let object = any as? [String: Any] else { throw reader.error("layer entry is not an object") }
            let layerConfig = try reader.object(object, "config")
            let name = try (object["name"] as? String) ?? reader.string(layerConfig, "name")
            reader.layer = name
            let layerClass = try reader.string(object, "class_name")
            let inputs = try inboundLayers(object, dialect: dialect, reader: reader)
            let kind = try LayerConfigParser.kind(className: layerClass, config: layerConfig, reader: reader)
            if case .input = kind, !inputs.isEmpty {
                throw reader.error("an InputLayer cannot have inbound nodes")
            }
            if case .input = kind {} else if inputs.isEmpty {
                throw reader.error("layer has no inbound node (is it connected to the model?)")
            }
            layers.append(LayerNode(name: name, className: layerClass, kind: kind, inputs: inputs))
        }
        reader.layer = nil
        let inputNames = try endpointNames(config, "input_layers", reader: reader)
        let outputNames = try endpointNames(config, "output_layers", reader: reader)
        let name = (config["name"] as? String) ?? "model"
        return try ModelTopology(name: name, dialect: dialect, layers: layers,
                                 inputNames: inputNames, outputNames: outputNames, source: source)
    }

    private static func detectDialect(_ layers: [Any]) -> KerasDialect {
        for case let layer as [String: Any] in layers {
            if let nodes = layer["inbound_nodes"] as? [Any], nodes.first is [String: Any] { return .keras3 }
            if layer["batch_shape"] != nil { return .keras3 }
            if let config = layer["config"] as? [String: Any], config["batch_shape"] != nil { return .keras3 }
        }
        for case let layer as [String: Any] in layers where layer["module"] != nil || layer["registered_name"] != nil {
            return .tfKeras
        }
        return .keras2
    }

    /// Names of the layers feeding this one. Layers called more than once (shared layers)
    /// and multi-output layers are refused: FaceNet and MTCNN have none.
    private static func inboundLayers(_ layer: [String: Any], dialect: KerasDialect, reader: ConfigReader) throws -> [String] {
        guard let nodes = layer["inbound_nodes"] as? [Any] else {
            throw reader.error("missing field 'inbound_nodes'")
        }
        guard nodes.count <= 1 else {
            throw reader.error("the layer is called \(nodes.count) times (shared layers are not supported)")
        }
        guard let node = nodes.first else { return [] }
        var histories: [[Any]] = []
        switch dialect {
        case .keras3:
            guard let call = node as? [String: Any] else { throw reader.error("inbound node is not an {args, kwargs} object") }
            collectKerasTensors(call["args"] ?? [], into: &histories)
        case .keras2, .tfKeras:
            guard let entries = node as? [Any] else { throw reader.error("inbound node is not a list") }
            for entry in entries {
                guard let list = entry as? [Any] else { throw reader.error("inbound entry is not a [layer, node, tensor, kwargs] list") }
                histories.append(list)
            }
        }
        return try histories.map { history in
            guard history.count >= 3, let name = history[0] as? String,
                  let nodeIndex = history[1] as? Int, let tensorIndex = history[2] as? Int else {
                throw reader.error("inbound reference \(history) is not [layer, node index, tensor index]")
            }
            guard nodeIndex == 0, tensorIndex == 0 else {
                throw reader.error("input '\(name)' node \(nodeIndex) tensor \(tensorIndex): only single-call, single-output layers are supported")
            }
            return name
        }
    }

    /// Keras 3 nests `__keras_tensor__` objects in args (a list of them for Concatenate/Add).
    private static func collectKerasTensors(_ value: Any, into histories: inout [[Any]]) {
        if let object = value as? [String: Any] {
            if object["class_name"] as? String == "__keras_tensor__",
               let config = object["config"] as? [String: Any],
               let history = config["keras_history"] as? [Any] {
                histories.append(history)
            } else {
                for key in object.keys.sorted() { collectKerasTensors(object[key] as Any, into: &histories) }
            }
        } else if let list = value as? [Any] {
            for item in list { collectKerasTensors(item, into: &histories) }
        }
    }

    /// `input_layers` / `output_layers`: `[[name, 0, 0], …]`, or a single `[name, 0, 0]` (Keras 3).
    private static func endpointNames(_ config: [String: Any], _ key: String, reader: ConfigReader) throws -> [String] {
        let list = try reader.array(config, key)
        if list.first is String { return [try name(of: list, key, reader)] }
        let names = try list.map { try name(of: $0, key, reader) }
        guard !names.isEmpty else { throw reader.error("'\(key)' is empty") }
        return names
    }

    private static func name(of entry: Any, _ key: String, _ reader: ConfigReader) throws -> String {
        guard let list = entry as? [Any], let name = list.first as? String else {
            throw reader.error("'\(key)' entry \(entry) is not [layer, node, tensor]")
        }
        return name
    }
}
