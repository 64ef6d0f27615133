import Foundation
import FaceNetKernels
import FaceNetVision

/// A JSON value whose object keys keep the order they are written in, so every line reads
/// `file` first and long arrays last (Docs/cli.md). Foundation's `JSONEncoder` orders keys
/// by hash or alphabetically, not as documented. Shared by the `facenet` tool's `--json`
/// output and `facenet serve`'s answers (package access: not for users).
package enum JSON: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case float(Float)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    /// A float array (an embedding): each number as Swift prints it, the shortest text that
    /// reads back to the same `Float`.
    package static func floats(_ values: [Float]) -> JSON { .array(values.map(JSON.float)) }

    /// A string or null.
    package static func string(_ value: String?) -> JSON { value.map(JSON.string) ?? .null }

    /// One line of compact JSON.
    package var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        // JSON has no NaN or infinity: a non-finite number is written as null.
        case .double(let value): out += value.isFinite ? "\(value)" : "null"
        case .float(let value): out += value.isFinite ? "\(value)" : "null"
        case .string(let value): out += jsonString(value)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                item.write(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out += ", " }
                out += jsonString(key) + ": "
                value.write(to: &out)
            }
            out += "}"
        }
    }
}

/// A face as `detect --json`, `embed --max-faces` and `verify --json` write it:
/// `{"box": [x, y, w, h], "confidence", "landmarks": {"left_eye": [x, y], …}}` + `extra`.
package func faceJSON(_ face: DetectedFace?, extra: [(String, JSON)] = []) -> JSON {
    guard let face else { return .object([("box", .null)] + extra) }
    let l = face.landmarks
    func point(_ p: FacePoint) -> JSON { .array([.int(Int(p.x.rounded(.toNearestOrEven))), .int(Int(p.y.rounded(.toNearestOrEven)))]) }
    let box = face.box.roundedXYWH.map(JSON.int)
    let landmarks: JSON = .object([("left_eye", point(l.leftEye)), ("right_eye", point(l.rightEye)), ("nose", point(l.nose)),
                                   ("mouth_left", point(l.mouthLeft)), ("mouth_right", point(l.mouthRight))])
    return .object([("box", .array(box)), ("confidence", .float(face.confidence)), ("landmarks", landmarks)] + extra)
}

/// A JSON string literal.
package func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}
