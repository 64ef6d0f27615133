import CBundledModels
import Foundation
import FaceNetKernels

/// A model file compiled into the library (the `CBundledModels` target embeds them from
/// `Weights/`): MTCNN's three nets and the presets' topologies. They need no directory, so
/// an app that depends on the package, or a `facenet` binary copied on its own, detects
/// faces and builds a preset's model with no clone around.
package enum BundledModelFile: String, CaseIterable, Sendable {
    case pnetWeights = "mtcnn/pnet.h5"
    case pnetTopology = "mtcnn/pnet.json"
    case rnetWeights = "mtcnn/rnet.h5"
    case rnetTopology = "mtcnn/rnet.json"
    case onetWeights = "mtcnn/onet.h5"
    case onetTopology = "mtcnn/onet.json"
    case facenet512Topology = "facenet512.json"
    case facenet128Topology = "facenet128.json"

    /// How messages name it, e.g. `mtcnn/pnet.h5 (built in)`.
    package var displayName: String { "\(rawValue) (built in)" }

    /// The file's bytes, read from the library's own image (no copy).
    package var data: Data {
        get throws {
            for index in 0..<cbm_file_count() {
                guard let name = cbm_file_name(index), String(cString: name) == rawValue else { continue }
                var size = 0
                guard let bytes = cbm_file(index, &size) else { break }
                return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes), count: size, deallocator: .none)
            }
            throw internalFault("bundled model file \(rawValue) is not in the CBundledModels target")
        }
    }

    /// The topology (Keras JSON) it holds.
    package func topology() throws -> ModelTopology {
        try KerasJSONReader.parse(try data, source: displayName)
    }
}
