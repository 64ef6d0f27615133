import FaceNetKernels
import FaceNetEngine
import FaceNetVision
import FaceNetKit

/// Protocol-buffer wire types (the low 3 bits of a field key).
enum ProtobufWireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// The value of one field as it comes off the wire, undecoded.
enum ProtobufValue: Sendable, Equatable {
    case varint(UInt64)
    case fixed64(UInt64)
    /// Byte range of the payload in the reader's buffer (a string, bytes, a sub-message
    /// or a packed repeated field: the schema decides).
    case lengthDelimited(Range<Int>)
    case fixed32(UInt32)

    var wireType: ProtobufWireType {
        switch self {
        case .varint: return .varint
        case .fixed64: return .fixed64
        case .lengthDelimited: return .lengthDelimited
        case .fixed32: return .fixed32
        }
    }
}

/// One field: its number in the message's schema and its raw value.
struct ProtobufField: Sendable, Equatable {
    let number: Int
    let value: ProtobufValue
}

/// A minimal, defensive reader of the protocol-buffer wire format: a message is a
/// sequence of fields, each `key` (varint: field number << 3 | wire type) then a payload:
///
///     wire type 0  varint       1–10 bytes, 7 bits each, least significant group first
///     wire type 1  fixed64      8 bytes little-endian
///     wire type 2  length-delimited   varint length, then that many bytes
///     wire type 5  fixed32      4 bytes little-endian
///
/// Groups (wire types 3 and 4) are deprecated and not used by TensorFlow's protos: they
/// are rejected. Every read is bounds-checked against the message's end, varints are at
/// most 10 bytes and must fit 64 bits, sub-messages nest at most `maxDepth` levels, and
/// every failure throws `FaceNetError.invalidGraph` naming `source` and the byte offset.
///
/// The reader never copies the buffer: sub-messages share it and differ only in range.
struct ProtobufReader: Sendable {
    /// Deepest nesting `submessage` accepts (GraphDef needs 6; protobuf's own default is 100).
    static let defaultMaxDepth = 32
    /// Largest field number protobuf allows (2^29 − 1).
    static let maxFieldNumber = (1 << 29) - 1

    let buffer: [UInt8]
    /// File (or label) named in errors.
    let source: String
    /// Nesting level of this message (0 for the outermost).
    let depth: Int
    let maxDepth: Int
    /// Offset of the next field; `end` is one past the message's last byte.
    private(set) var position: Int
    let end: Int

    /// A reader of the whole of `buffer` as one top-level message.
    init(buffer: [UInt8], source: String, maxDepth: Int = ProtobufReader.defaultMaxDepth) {
        self.init(buffer: buffer, range: 0..<buffer.count, source: source, depth: 0, maxDepth: maxDepth)
    }

    private init(buffer: [UInt8], range: Range<Int>, source: String, depth: Int, maxDepth: Int) {
        self.buffer = buffer
        self.source = source
        self.depth = depth
        self.maxDepth = maxDepth
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    var isAtEnd: Bool { position >= end }

    /// The next field, or nil at the end of the message.
    mutating func next() throws -> ProtobufField? {
        guard position < end else { return nil }
        let keyOffset = position
        let key = try readVarint()
        let number = key >> 3
        guard number >= 1, number <= UInt64(Self.maxFieldNumber) else {
            throw error("field number \(number) at byte \(keyOffset) is out of range")
        }
        guard let wireType = ProtobufWireType(rawValue: UInt8(key & 7)) else {
            throw error("unknown wire type \(key & 7) at byte \(keyOffset)")
        }
        let value: ProtobufValue
        switch wireType {
        case .varint:
            value = .varint(try readVarint())
        case .fixed64:
            value = .fixed64(try readLittleEndian(byteCount: 8))
        case .fixed32:
            value = .fixed32(UInt32(truncatingIfNeeded: try readLittleEndian(byteCount: 4)))
        case .lengthDelimited:
            let lengthOffset = position
            let length = try readVarint()
            // Compared as UInt64 first: a huge claimed length must not overflow Int.
            guard length <= UInt64(end - position) else {
                throw error("field \(number) at byte \(keyOffset) claims \(length) bytes, but only \(end - position) remain (length at byte \(lengthOffset))")
            }
            let start = position
            position += Int(length)
            value = .lengthDelimited(start..<position)
        case .startGroup, .endGroup:
            throw error("field \(number) at byte \(keyOffset) is a protobuf group (wire type \(wireType.rawValue)), which TensorFlow graphs never use")
        }
        return ProtobufField(number: Int(number), value: value)
    }

    // MARK: - Payloads

    /// A reader of a length-delimited field holding a sub-message, one level deeper.
    func submessage(_ field: ProtobufField, _ what: String) throws -> ProtobufReader {
        let range = try bytesRange(field, what)
        guard depth < maxDepth else {
            throw error("\(what) at byte \(range.lowerBound) nests deeper than \(maxDepth) messages")
        }
        return ProtobufReader(buffer: buffer, range: range, source: source, depth: depth + 1, maxDepth: maxDepth)
    }

    /// The payload range of a length-delimited field; any other wire type is an error.
    func bytesRange(_ field: ProtobufField, _ what: String) throws -> Range<Int> {
        guard case .lengthDelimited(let range) = field.value else { throw wrongType(field, what, expected: .lengthDelimited) }
        return range
    }

    /// The payload of a length-delimited field, sharing the buffer.
    func bytes(_ field: ProtobufField, _ what: String) throws -> ArraySlice<UInt8> {
        buffer[try bytesRange(field, what)]
    }

    /// A `string` field: its payload, which must be valid UTF-8.
    func string(_ field: ProtobufField, _ what: String) throws -> String {
        let range = try bytesRange(field, what)
        guard let text = String(validating: buffer[range], as: UTF8.self) else {
            throw error("\(what) at byte \(range.lowerBound) is not valid UTF-8")
        }
        return text
    }

    /// A varint field (int32, int64, uint64, bool, enum).
    func varint(_ field: ProtobufField, _ what: String) throws -> UInt64 {
        guard case .varint(let value) = field.value else { throw wrongType(field, what, expected: .varint) }
        return value
    }

    /// An `int64` field (negative values are 10-byte two's complement varints).
    func int64(_ field: ProtobufField, _ what: String) throws -> Int64 {
        Int64(bitPattern: try varint(field, what))
    }

    /// An `int32` or enum field: protobuf sign-extends negatives to 64 bits, so the low
    /// 32 bits are the value; anything else does not fit.
    func int32(_ field: ProtobufField, _ what: String) throws -> Int32 {
        let wide = Int64(bitPattern: try varint(field, what))
        guard let value = Int32(exactly: wide) else { throw error("\(what) = \(wide) does not fit 32 bits") }
        return value
    }

    /// A `bool` field (any non-zero varint is true, as protobuf decodes it).
    func bool(_ field: ProtobufField, _ what: String) throws -> Bool {
        try varint(field, what) != 0
    }

    /// A `float` field (fixed32, IEEE-754 little-endian).
    func float(_ field: ProtobufField, _ what: String) throws -> Float {
        guard case .fixed32(let bits) = field.value else { throw wrongType(field, what, expected: .fixed32) }
        return Float(bitPattern: bits)
    }

    /// The values of a `repeated float` field occurrence, packed (one length-delimited
    /// run of 4-byte values) or not (a single fixed32): encoders may use either, and a
    /// parser must accept both.
    func floats(_ field: ProtobufField, _ what: String) throws -> [Float] {
        switch field.value {
        case .fixed32(let bits):
            return [Float(bitPattern: bits)]
        case .lengthDelimited(let range):
            return try littleEndianFloats(range, what)
        default:
            throw wrongType(field, what, expected: .fixed32)
        }
    }

    /// The values of a `repeated` varint field occurrence (int32, int64, bool, enum),
    /// packed or not.
    func varints(_ field: ProtobufField, _ what: String) throws -> [UInt64] {
        switch field.value {
        case .varint(let value):
            return [value]
        case .lengthDelimited(let range):
            var reader = ProtobufReader(buffer: buffer, range: range, source: source, depth: depth, maxDepth: maxDepth)
            var values: [UInt64] = []
            while !reader.isAtEnd { values.append(try reader.readVarint()) }
            return values
        default:
            throw wrongType(field, what, expected: .varint)
        }
    }

    /// A run of little-endian float32 values (a packed field or TensorProto.tensor_content).
    func littleEndianFloats(_ range: Range<Int>, _ what: String) throws -> [Float] {
        guard range.lowerBound >= 0, range.upperBound <= buffer.count, range.count % 4 == 0 else {
            throw error("\(what) at byte \(range.lowerBound) holds \(range.count) bytes, not a whole number of 4-byte floats")
        }
        return buffer.withUnsafeBytes { raw in
            Self.decodeLittleEndianFloats(UnsafeRawBufferPointer(rebasing: raw[range]))
        }
    }

    /// Decodes `raw.count / 4` little-endian float32 values (a trailing partial value is ignored).
    static func decodeLittleEndianFloats(_ raw: UnsafeRawBufferPointer) -> [Float] {
        let count = raw.count / 4
        return [Float](unsafeUninitializedCapacity: count) { out, initialised in
            #if _endian(little)
            // Same byte order as the host: one copy.
            if count > 0, let destination = out.baseAddress, let base = raw.baseAddress {
                UnsafeMutableRawPointer(destination).copyMemory(from: base, byteCount: count * 4)
            }
            #else
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
            initialised = count
        }
    }

    // MARK: - Primitives

    /// Reads a varint: at most 10 bytes, and the 10th may only carry bit 63.
    private mutating func readVarint() throws -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else {
                throw error(position == start ? "expected a varint at byte \(start), found the end of the message"
                                              : "varint at byte \(start) is cut off by the end of the message")
            }
            let byte = buffer[position]
            position += 1
            if shift == 63 && byte > 1 {
                throw error("varint at byte \(start) overflows 64 bits")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            guard shift <= 63 else { throw error("varint at byte \(start) is longer than 10 bytes") }
        }
    }

    private mutating func readLittleEndian(byteCount: Int) throws -> UInt64 {
        guard end - position >= byteCount else {
            throw error("a \(byteCount)-byte value at byte \(position) is cut off by the end of the message")
        }
        var value: UInt64 = 0
        for i in 0..<byteCount { value |= UInt64(buffer[position + i]) << (8 * UInt64(i)) }
        position += byteCount
        return value
    }

    func error(_ reason: String) -> FaceNetError {
        .invalidGraph(path: source, reason: reason)
    }

    private func wrongType(_ field: ProtobufField, _ what: String, expected: ProtobufWireType) -> FaceNetError {
        error("\(what) (field \(field.number)) has wire type \(field.value.wireType.rawValue); expected \(expected.rawValue)")
    }
}
