import Foundation
import FaceNetKernels

/// JSONSerialization gives booleans as NSNumber too; their type code is "c" (char).
func isJSONBoolean(_ n: NSNumber) -> Bool {
    String(cString: n.objCType) == "c"
}

/// Typed access to one JSON object of a topology, with errors naming the file and layer.
package struct ConfigReader {
    package let source: String
    package var layer: String?
    /// The layer's Keras class, once known (for `unsupported`).
    package var className: String?

    package init(source: String, layer: String?) {
        self.source = source
        self.layer = layer
    }

    /// A malformed config.
    package func error(_ reason: String) -> FaceNetError {
        .invalidTopology(path: source, layer: layer, reason: reason)
    }

    /// A well-formed config asking for something the engine does not run.
    package func unsupported(_ reason: String) -> FaceNetError {
        .unsupportedLayer(path: source, layer: layer ?? "?", className: className ?? "?", reason: reason)
    }

    package func value(_ object: [String: Any], _ key: String) throws -> Any {
        guard let value = object[key], !(value is NSNull) else { throw error("missing field '\(key)'") }
        return value
    }

    package func string(_ object: [String: Any], _ key: String) throws -> String {
        guard let s = try value(object, key) as? String else { throw error("field '\(key)' is not a string") }
        return s
    }

    package func object(_ object: [String: Any], _ key: String) throws -> [String: Any] {
        guard let o = try value(object, key) as? [String: Any] else { throw error("field '\(key)' is not an object") }
        return o
    }

    package func array(_ object: [String: Any], _ key: String) throws -> [Any] {
        guard let a = try value(object, key) as? [Any] else { throw error("field '\(key)' is not a list") }
        return a
    }

    package func bool(_ object: [String: Any], _ key: String, default fallback: Bool) throws -> Bool {
        guard let raw = object[key], !(raw is NSNull) else { return fallback }
        guard let b = raw as? Bool else { throw error("field '\(key)' is not true/false") }
        return b
    }

    package func int(_ raw: Any, _ key: String) throws -> Int {
        // JSON numbers arrive as NSNumber; refuse booleans and fractions.
        guard let n = raw as? NSNumber, !isJSONBoolean(n),
              let i = Int(exactly: n.doubleValue) else {
            throw error("field '\(key)' is not an integer")
        }
        return i
    }

    package func double(_ object: [String: Any], _ key: String) throws -> Double {
        guard let n = try value(object, key) as? NSNumber, !isJSONBoolean(n) else {
            throw error("field '\(key)' is not a number")
        }
        return n.doubleValue
    }

    /// A list of integers: `[2, 1, 3]`.
    package func ints(_ object: [String: Any], _ key: String) throws -> [Int] {
        guard let list = try value(object, key) as? [Any] else { throw error("field '\(key)' is not a list of integers") }
        return try list.map { try int($0, key) }
    }

    /// A positive integer, or a pair of them: `3`, `[3, 3]`.
    package func pair(_ object: [String: Any], _ key: String) throws -> (Int, Int) {
        let raw = try value(object, key)
        let values: [Int]
        if let list = raw as? [Any] { values = try list.map { try int($0, key) } } else { values = [try int(raw, key)] }
        let pair: (Int, Int)
        switch values.count {
        case 1: pair = (values[0], values[0])
        case 2: pair = (values[0], values[1])
        default: throw error("field '\(key)' has \(values.count) values, expected 1 or 2")
        }
        guard pair.0 > 0, pair.1 > 0, pair.0 <= 1 << 16, pair.1 <= 1 << 16 else {
            throw error("field '\(key)' = \(values) is out of range")
        }
        return pair
    }

    package func padding(_ object: [String: Any]) throws -> Padding {
        let raw = try string(object, "padding").lowercased()
        guard let padding = Padding(rawValue: raw) else { throw error("padding '\(raw)' is not 'valid' or 'same'") }
        return padding
    }

    /// Keras writes activations as a name, or (Keras 3, some layers) an object holding it.
    func activation(_ object: [String: Any], _ key: String = "activation") throws -> ActivationFunction {
        guard let raw = object[key], !(raw is NSNull) else { return .linear }
        var name: String?
        if let s = raw as? String {
            name = s
        } else if let o = raw as? [String: Any] {
            name = (o["config"] as? String) ?? (o["class_name"] as? String)
        }
        guard let name, let function = ActivationFunction(rawValue: name.lowercased()) else {
            throw error("activation \(raw) is not one of \(ActivationFunction.allCases.map(\.rawValue))")
        }
        return function
    }

    /// Only channels-last data is supported (NHWC).
    func requireChannelsLast(_ object: [String: Any]) throws {
        if let format = object["data_format"] as? String, format != "channels_last" {
            throw error("data_format '\(format)' is not supported; only channels_last (NHWC)")
        }
    }
}

/// Turns one layer's `class_name` + `config` into a `LayerKind`, through the definition
/// type registered for that class (`LayerKind.registry`).
package enum LayerConfigParser {
    /// Keras class name → the definition type that reads it.
    package static let definitions: [String: any LayerDefinition.Type] = {
        var byName: [String: any LayerDefinition.Type] = [:]
        for type in LayerKind.registry {
            for name in type.kerasClassNames where byName[name] == nil { byName[name] = type }
        }
        return byName
    }()

    package static func kind(className: String, config c: [String: Any], reader: ConfigReader) throws -> LayerKind {
        var r = reader
        r.className = className
        guard let definition = definitions[className] else { throw r.unsupported("no kernel for this layer class") }
        return try definition.parse(className: className, config: c, reader: r)
    }
}
