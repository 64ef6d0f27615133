import Foundation
import FaceNetKernels
import FaceNetEngine
import FaceNetVision
import FaceNetKit

/// A golden manifest (the format of `shared/models/synthetic128/manifest.json`): one input
/// tensor and the reference outputs of named layers for it. Files are raw little-endian
/// float32, named relative to the manifest. An output named `l2_normalized(L)` is layer L's
/// output divided by its l2 norm, per row.
public struct GoldenManifest: Sendable {
    public struct Entry: Sendable {
        /// The layer name, or `l2_normalized(<layer>)`.
        public let name: String
        public let file: String
        public let shape: [Int]

        /// The layer whose output this entry compares, and whether it is l2-normalised.
        public var layer: (name: String, l2Normalized: Bool) {
            let prefix = "l2_normalized(", suffix = ")"
            if name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count {
                return (String(name.dropFirst(prefix.count).dropLast(suffix.count)), true)
            }
            return (name, false)
        }
    }

    public let path: String
    public let inputFile: String
    public let inputShape: [Int]
    public let outputs: [Entry]

    /// Reads and checks a manifest (fields present, shapes positive).
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw FaceNetError.noSuchFile(path, advice: "give a golden manifest JSON (Docs/testing.md describes its fields)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        func fail(_ reason: String) -> FaceNetError { .invalidManifest(path: path, reason: reason) }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        func shape(_ any: Any?, _ what: String) throws -> [Int] {
            guard let list = any as? [Any], !list.isEmpty else { throw fail("\(what): 'shape' missing or empty") }
            let dims = list.compactMap { ($0 as? NSNumber).flatMap { Int(exactly: $0.doubleValue) } }
            guard dims.count == list.count, dims.allSatisfy({ $0 > 0 }) else { throw fail("\(what): shape \(list) is not positive integers") }
            return dims
        }
        guard let input = root["input"] as? [String: Any], let inputFile = input["file"] as? String else {
            throw fail("missing 'input' with 'file' and 'shape'")
        }
        self.path = path
        self.inputFile = inputFile
        self.inputShape = try shape(input["shape"], "input")
        guard let outputs = root["outputs"] as? [Any], !outputs.isEmpty else { throw fail("missing or empty 'outputs'") }
        self.outputs = try outputs.enumerated().map { i, any in
            guard let o = any as? [String: Any], let layer = o["layer"] as? String, let file = o["file"] as? String else {
                throw fail("outputs[\(i)] lacks 'layer' or 'file'")
            }
            return Entry(name: layer, file: file, shape: try shape(o["shape"], "outputs[\(i)] (\(layer))"))
        }
    }

    /// Absolute path of a file the manifest names.
    public func resolve(_ file: String) -> String {
        URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(file).path
    }

    /// Reads a raw float32 file that must hold exactly `shape`'s element count.
    public func readTensor(_ file: String, shape: [Int]) throws -> Tensor {
        try readFloat32File(resolve(file), shape: shape)
    }
}

/// Reads raw little-endian float32 data of exactly `shape`'s size.
public func readFloat32File(_ path: String, shape: [Int]) throws -> Tensor {
    guard FileManager.default.fileExists(atPath: path) else {
        throw FaceNetError.noSuchFile(path, advice: "give a raw little-endian float32 file (NHWC)")
    }
    let data: Data
    do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw FaceNetError.unreadableFile(path: path, reason: error.localizedDescription)
    }
    let count = shape.reduce(1, *)
    guard data.count == count * 4 else {
        throw FaceNetError.unreadableFile(path: path, reason: "holds \(data.count) bytes, but shape \(shape) needs \(count * 4) (float32)")
    }
    var scalars = [Float](repeating: 0, count: count)
    _ = scalars.withUnsafeMutableBytes { dst in data.copyBytes(to: dst) }
    for i in 0..<count { scalars[i] = Float(bitPattern: UInt32(littleEndian: scalars[i].bitPattern)) }
    return try Tensor(shape: shape, scalars: scalars)
}

/// Writes a tensor as raw little-endian float32, replacing the file atomically.
public func writeFloat32File(_ tensor: Tensor, to path: String) throws {
    var data = Data(capacity: tensor.count * 4)
    for v in tensor.scalars {
        withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }
    do {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        let directory = (path as NSString).deletingLastPathComponent
        throw FaceNetError.unwritableFile(path: path, reason: "\(error.localizedDescription); check that the directory "
                                          + "\(directory.isEmpty ? "." : directory) exists and is writable")
    }
}
