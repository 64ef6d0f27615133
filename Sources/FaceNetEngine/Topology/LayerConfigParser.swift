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

    package func error(_ reason: String) -> FaceNetError {
        .invalidTopology(path: source, layer: layer, reason: reason)
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

/// Turns one layer's `class_name` + `config` into a `LayerKind`.
package enum LayerConfigParser {
    package static func kind(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        func unsupported(_ reason: String) -> FaceNetError {
            .unsupportedLayer(path: r.source, layer: r.layer ?? "?", className: className, reason: reason)
        }
        switch className {
        case "InputLayer":
            let key = c["batch_shape"] != nil ? "batch_shape" : "batch_input_shape"
            let dims = try r.array(c, key)
            guard dims.count >= 2 else { throw r.error("'\(key)' \(dims) has no per-sample dimensions") }
            let shape: [Int?] = try dims.dropFirst().map { $0 is NSNull ? nil : try r.int($0, key) }
            guard shape.allSatisfy({ ($0 ?? 1) > 0 }) else { throw r.error("'\(key)' \(dims) has a non-positive size") }
            if let dtype = c["dtype"] as? String, dtype != "float32" {
                throw unsupported("input dtype \(dtype); only float32")
            }
            return .input(shape: shape)
        case "Conv2D":
            try r.requireChannelsLast(c)
            if c["dilation_rate"] != nil, try r.pair(c, "dilation_rate") != (1, 1) {
                throw unsupported("dilation_rate other than 1")
            }
            if let groups = c["groups"], try r.int(groups, "groups") != 1 { throw unsupported("grouped convolution") }
            let filters = try r.int(try r.value(c, "filters"), "filters")
            guard filters > 0 else { throw r.error("filters must be positive") }
            return .conv2D(Conv2DConfig(
                filters: filters, kernel: try r.pair(c, "kernel_size"),
                strides: c["strides"] == nil ? (1, 1) : try r.pair(c, "strides"),
                padding: try r.padding(c), useBias: try r.bool(c, "use_bias", default: true),
                activation: try r.activation(c)))
        case "BatchNormalization":
            let axisRaw = try r.value(c, "axis")
            let axes = try ((axisRaw as? [Any]) ?? [axisRaw]).map { try r.int($0, "axis") }
            guard axes.count == 1, axes[0] == -1 || axes[0] >= 1 else {
                throw unsupported("normalisation over axes \(axes); only the channel (last) axis")
            }
            let epsilon = try r.double(c, "epsilon")
            guard epsilon >= 0, epsilon.isFinite else { throw r.error("epsilon \(epsilon) is not a finite non-negative number") }
            return .batchNormalization(BatchNormConfig(
                center: try r.bool(c, "center", default: true), scale: try r.bool(c, "scale", default: true),
                epsilon: Float(epsilon), axis: axes[0]))
        case "Activation":
            return .activation(try r.activation(c))
        case "MaxPooling2D", "AveragePooling2D":
            try r.requireChannelsLast(c)
            let pool = try r.pair(c, "pool_size")
            let strides = (c["strides"] == nil || c["strides"] is NSNull) ? pool : try r.pair(c, "strides")
            let config = Pool2DConfig(pool: pool, strides: strides, padding: try r.padding(c))
            return className == "MaxPooling2D" ? .maxPooling2D(config) : .averagePooling2D(config)
        case "GlobalAveragePooling2D":
            try r.requireChannelsLast(c)
            return .globalAveragePooling2D(keepDims: try r.bool(c, "keepdims", default: false))
        case "Concatenate":
            return .concatenate(axis: c["axis"] == nil ? -1 : try r.int(try r.value(c, "axis"), "axis"))
        case "Add":
            return .add
        case "Dropout":
            return .dropout
        case "Dense":
            let units = try r.int(try r.value(c, "units"), "units")
            guard units > 0 else { throw r.error("units must be positive") }
            return .dense(DenseConfig(units: units, useBias: try r.bool(c, "use_bias", default: true),
                                      activation: try r.activation(c)))
        case "PReLU":
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
        case "Permute":
            let dims = try r.ints(c, "dims")
            guard !dims.isEmpty, dims.sorted() == Array(1..<(dims.count + 1)) else {
                throw r.error("'dims' \(dims) is not a permutation of 1…\(max(dims.count, 1)) (per-sample axes, counted from 1)")
            }
            guard dims.count <= 3 else { throw unsupported("permuting \(dims.count) per-sample axes; at most 3 (rank 4 with the batch)") }
            return .permute(dims: dims)
        case "Flatten":
            try r.requireChannelsLast(c)
            return .flatten
        case "Reshape":
            let target = try r.ints(c, "target_shape")
            guard !target.isEmpty, target.allSatisfy({ $0 > 0 || $0 == -1 }), target.filter({ $0 == -1 }).count <= 1 else {
                throw r.error("'target_shape' \(target) must be positive sizes with at most one -1")
            }
            return .reshape(targetShape: target)
        case "Softmax":
            // The axis is an int, or (Keras 3) may be a list; only the last axis is supported.
            let raw = c["axis"] ?? -1
            let axes = try ((raw as? [Any]) ?? [raw]).map { try r.int($0, "axis") }
            guard axes == [-1] else { throw unsupported("softmax over axis \(axes); only the last axis (-1)") }
            return .activation(.softmax)
        case "Lambda":
            // The bytecode cannot run here; FaceNet's Lambda is `x * scale`, recognised by its
            // arguments being exactly {"scale": number}.
            guard let arguments = c["arguments"] as? [String: Any], arguments.count == 1,
                  let scale = arguments["scale"] as? NSNumber, !isJSONBoolean(scale),
                  scale.doubleValue.isFinite else {
                throw unsupported("only FaceNet's Lambda (x * arguments.scale, with arguments exactly {\"scale\": number}) can run; this one has arguments \(c["arguments"] ?? "none")")
            }
            return .scale(Float(scale.doubleValue))
        default:
            throw unsupported("no kernel for this layer class")
        }
    }
}
