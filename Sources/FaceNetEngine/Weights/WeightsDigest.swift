import Crypto
import Foundation
import FaceNetKernels

/// A content digest of a set of weight tensors: the same weights give the same digest
/// whatever file or layout they came from (unlike the bytes of an HDF5 file, which
/// libhdf5 lays out and may time-stamp).
///
/// It is the SHA-256 (swift-crypto; lowercase hex) of this byte stream, integers as little-endian UInt64,
/// strings as their UTF-8 byte count then the bytes:
///
///     "FaceNetKit.WeightsDigest.v1\n"
///     number of layers with weights
///     per layer, in ascending order of the name's UTF-8 bytes:
///         layer name, number of weights
///         per weight, in ascending order of the name's UTF-8 bytes:
///             weight name (`kernel`, `beta`, …), rank, each dimension,
///             the float32 values row-major, each as 4 little-endian bytes (bit patterns:
///             -0.0 and 0.0 differ)
///
/// The *structure fingerprint* (`structure(of:)`) is the same stream without the values,
/// under the header `"FaceNetKit.WeightsStructure.v1\n"`: layer names, weight names and
/// shapes only. It is cheap (no value is read), so it is what recognises known weights.
package enum WeightsDigest {
    package static let header = "FaceNetKit.WeightsDigest.v1\n"
    package static let structureHeader = "FaceNetKit.WeightsStructure.v1\n"

    package static func digest(of weights: LoadedWeights) -> String {
        digest(of: weights.tensors)
    }

    package static func digest(of tensors: [String: [String: Tensor]]) -> String {
        hash(tensors, header: header, values: true)
    }

    /// The structure fingerprint: names and shapes, no values.
    package static func structure(of tensors: [String: [String: Tensor]]) -> String {
        hash(tensors, header: structureHeader, values: false)
    }

    private static func hash(_ tensors: [String: [String: Tensor]], header: String, values: Bool) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(header.utf8))
        let layers = tensors.filter { !$0.value.isEmpty }.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        append(UInt64(layers.count), to: &hasher)
        for (layer, weights) in layers {
            append(layer, to: &hasher)
            append(UInt64(weights.count), to: &hasher)
            for (name, tensor) in weights.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                append(name, to: &hasher)
                append(UInt64(tensor.rank), to: &hasher)
                for dim in tensor.shape { append(UInt64(dim), to: &hasher) }
                if values { appendValues(of: tensor, to: &hasher) }
            }
        }
        return hexString(hasher.finalize())
    }

    private static func appendValues(of tensor: Tensor, to hasher: inout SHA256) {
        #if _endian(little)
        tensor.scalars.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        #else
        let bits = tensor.scalars.map { $0.bitPattern.littleEndian }
        bits.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        #endif
    }

    private static func append(_ value: UInt64, to hasher: inout SHA256) {
        withUnsafeBytes(of: value.littleEndian) { hasher.update(bufferPointer: $0) }
    }

    private static func append(_ text: String, to hasher: inout SHA256) {
        let bytes = Array(text.utf8)
        append(UInt64(bytes.count), to: &hasher)
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
    }
}

/// Lowercase hex of a SHA-256 digest.
package func hexString(_ digest: SHA256.Digest) -> String {
    digest.map { String(format: "%02x", $0) }.joined()
}

/// The SHA-256 of `bytes`, lowercase hex (pixel checks in tests, archive checks).
package func sha256Hex(_ bytes: [UInt8]) -> String {
    hexString(SHA256.hash(data: bytes))
}
