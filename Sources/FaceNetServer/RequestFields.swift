import Foundation
import Hummingbird

/// A request's named fields, from a JSON object (`Content-Type: application/json`) or a
/// multipart form (`multipart/form-data`: text fields and file uploads). Unknown fields are
/// ignored, so clients that send deepface's other options still work. The typed accessors
/// throw `APIError` (400) naming the field and what it must be.
struct RequestFields {
    enum Value {
        case json(JSONValue)
        /// A form's text field.
        case text(String)
        /// A form's file upload (a part with a file name or a non-text content type).
        case file(Data)
    }

    let values: [String: Value]

    /// Parses `body` by its content type. An empty body is an empty set of fields.
    static func parse(_ body: ByteBuffer, contentType: String?) throws(APIError) -> RequestFields {
        let type = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        if body.readableBytes == 0 { return RequestFields(values: [:]) }
        switch type {
        case "multipart/form-data":
            return RequestFields(values: try MultipartForm.parse(body, contentType: contentType ?? ""))
        case "application/json", "":
            let object: JSONValue
            do {
                object = try JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView))
            } catch {
                throw APIError(.badRequest, "invalid_json", "the body is not valid JSON")
            }
            guard case .object(let fields) = object else {
                throw APIError(.badRequest, "invalid_json", "the body must be a JSON object, not \(object.typeName)")
            }
            return RequestFields(values: fields.mapValues { .json($0) })
        default:
            throw APIError(.unsupportedMediaType, "unsupported_media_type",
                           "send application/json or multipart/form-data, not \(type)")
        }
    }

    /// Whether the field is present (and not JSON null).
    func has(_ name: String) -> Bool {
        switch values[name] {
        case nil, .json(.null): return false
        default: return true
        }
    }

    /// A text field; nil when absent.
    func string(_ name: String) throws(APIError) -> String? {
        switch values[name] {
        case nil, .json(.null): return nil
        case .json(.string(let value)), .text(let value): return value
        case .json(let other): throw APIError.invalidField(name, "must be a string, not \(other.typeName)")
        case .file: throw APIError.invalidField(name, "must be a text field, not a file")
        }
    }

    /// A boolean, strictly: JSON `true`/`false`, or the text "true"/"false" from a form
    /// (any case). Anything else ("maybe", 1, "yes") is a 400: deepface reads "false" as
    /// true, and a server should not guess.
    func bool(_ name: String, default fallback: Bool) throws(APIError) -> Bool {
        switch values[name] {
        case nil, .json(.null): return fallback
        case .json(.bool(let value)): return value
        case .json(.string(let text)), .text(let text):
            switch text.lowercased() {
            case "true": return true
            case "false": return false
            default: throw APIError.invalidField(name, "must be true or false, not \"\(text.prefix(40))\"")
            }
        case .json(let other): throw APIError.invalidField(name, "must be true or false, not \(other.typeName)")
        case .file: throw APIError.invalidField(name, "must be true or false, not a file")
        }
    }

    /// A whole number in `range`; nil when absent.
    func int(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        let number: Double
        switch values[name] {
        case nil, .json(.null): return nil
        case .json(.number(let value)): number = value
        case .json(.string(let text)), .text(let text):
            guard let value = Double(text) else {
                throw APIError.invalidField(name, "must be a whole number, not \"\(text.prefix(40))\"")
            }
            number = value
        case .json(let other): throw APIError.invalidField(name, "must be a whole number, not \(other.typeName)")
        case .file: throw APIError.invalidField(name, "must be a whole number, not a file")
        }
        guard number.rounded() == number, number >= Double(range.lowerBound), number <= Double(range.upperBound) else {
            throw APIError.invalidField(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(number)
    }

    /// A finite number; nil when absent.
    func double(_ name: String) throws(APIError) -> Double? {
        switch values[name] {
        case nil, .json(.null): return nil
        case .json(.number(let value)): return value
        case .json(.string(let text)), .text(let text):
            guard let value = Double(text), value.isFinite else { throw APIError.invalidField(name, "must be a number") }
            return value
        case .json(let other): throw APIError.invalidField(name, "must be a number, not \(other.typeName)")
        case .file: throw APIError.invalidField(name, "must be a number, not a file")
        }
    }

    /// An array of finite numbers (an embedding); from a form, its JSON text. nil when absent.
    func floats(_ name: String) throws(APIError) -> [Float]? {
        let value: JSONValue
        switch values[name] {
        case nil, .json(.null): return nil
        case .json(let json): value = json
        case .text(let text):
            guard let parsed = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                throw APIError.invalidField(name, "must be a JSON array of numbers")
            }
            value = parsed
        case .file: throw APIError.invalidField(name, "must be an array of numbers, not a file")
        }
        guard case .array(let items) = value else {
            throw APIError.invalidField(name, "must be an array of numbers, not \(value.typeName)")
        }
        var numbers: [Float] = []
        numbers.reserveCapacity(items.count)
        for item in items {
            guard case .number(let number) = item, Float(number).isFinite else {
                throw APIError.invalidField(name, "must be an array of finite numbers")
            }
            numbers.append(Float(number))
        }
        return numbers
    }
}
