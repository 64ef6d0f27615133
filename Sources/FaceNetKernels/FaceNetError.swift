import Foundation

/// Every error the engine throws for bad input. Each case names the file, the layer
/// and what was expected, so a user can act on the message alone. One case is not about
/// input: `internalError`, a broken invariant inside the engine (a bug).
///
/// The message is `description`, and also `localizedDescription` (`LocalizedError`), so
/// `print(error)` and `error.localizedDescription` say the same thing.
public enum FaceNetError: Error, Sendable, Equatable, Codable, CustomStringConvertible, LocalizedError {
    /// A file could not be read at all (missing, unreadable, not the expected format).
    case unreadableFile(path: String, reason: String)
    /// A file could not be written (missing or read-only directory, full disk).
    case unwritableFile(path: String, reason: String)
    /// The topology JSON is malformed or uses something the engine does not run.
    case invalidTopology(path: String, layer: String?, reason: String)
    /// A layer class the engine has no kernel for.
    case unsupportedLayer(path: String, layer: String, className: String, reason: String)
    /// The weights file is malformed (structure, dtype, rank, truncated data).
    case invalidWeights(path: String, layer: String?, reason: String)
    /// A weight the topology needs is not in the file.
    case missingWeight(path: String, layer: String, weight: String, expectedShape: [Int])
    /// The file has weights the topology does not use.
    case unexpectedWeights(path: String, layers: [String])
    /// A weight is present but with another shape than the topology implies.
    case weightShapeMismatch(path: String, layer: String, weight: String, expected: [Int], found: [Int])
    /// The weights have the layers and shapes of known weights (`known`, see `KnownWeights`)
    /// but other values: their tensor digest is `found`, not `expected`.
    case weightsMismatch(path: String, known: String, expected: String, found: String)
    /// An input tensor does not fit the model's input layer.
    case inputShapeMismatch(layer: String, expected: String, found: [Int])
    /// An input is smaller than the model's valid convolutions and poolings allow (`found`:
    /// its full shape; `minimum`: the smallest height and width the model takes, when known;
    /// `reason`: the first layer that cannot run, and why).
    case inputTooSmall(input: String, found: [Int], minimum: [Int]?, reason: String)
    /// A layer asked for by name does not exist in the model.
    case unknownLayer(name: String)
    /// A golden manifest is malformed or its files do not fit it.
    case invalidManifest(path: String, reason: String)
    /// An image file could not be decoded (empty, not an image, truncated, corrupt).
    case invalidImage(path: String, reason: String)
    /// An image is larger than the configured limit (checked before decoding its pixels).
    case imageTooLarge(path: String, width: Int, height: Int, limit: String)
    /// A TensorFlow GraphDef is malformed or does not hold the expected constants.
    case invalidGraph(path: String, reason: String)
    /// A command-line or API argument is out of range.
    case invalidArgument(String)
    /// The face detector found no face in an image.
    case noFaceFound(path: String)
    /// A gallery could not be created or opened, or is damaged: `location` is its file or
    /// URL (without the password).
    case invalidGallery(location: String, reason: String)
    /// A face or query made with another model, dimension or preprocessing than the
    /// gallery's (`gallery`: what the gallery holds; `given`: what was offered).
    case galleryMismatch(location: String, gallery: String, given: String)
    /// A gallery's server could not be reached or refused the connection.
    case storeUnavailable(location: String, reason: String)
    /// An invariant inside the engine does not hold: a bug in FaceNetKit, not a problem with
    /// the input. The message names the component and what was violated. Made by
    /// `internalFault(_:)`, which also stops debug builds of the caller at the site.
    case internalError(String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .unwritableFile(let path, let reason):
            return "\(path): cannot write: \(reason)"
        case .invalidTopology(let path, let layer, let reason):
            return "\(path): invalid topology\(layer.map { " at layer '\($0)'" } ?? ""): \(reason)"
        case .unsupportedLayer(let path, let layer, let className, let reason):
            return "\(path): layer '\(layer)' of class \(className) is not supported: \(reason)"
        case .invalidWeights(let path, let layer, let reason):
            return "\(path): invalid weights\(layer.map { " for layer '\($0)'" } ?? ""): \(reason)"
        case .missingWeight(let path, let layer, let weight, let shape):
            return "\(path): layer '\(layer)' needs weight '\(weight)' of shape \(shape), which the file does not have"
        case .unexpectedWeights(let path, let layers):
            return "\(path): the file has weights for layers the topology does not use: \(layers.joined(separator: ", "))"
        case .weightShapeMismatch(let path, let layer, let weight, let expected, let found):
            return "\(path): layer '\(layer)' weight '\(weight)': expected shape \(expected), found \(found)"
        case .weightsMismatch(let path, let known, let expected, let found):
            return "\(path): the weights have the layers and shapes of \(known) but other values: tensor digest \(found), "
                + "expected \(expected) (a damaged or modified copy, or other weights of the same architecture); "
                + "refused because verification is required"
        case .inputShapeMismatch(let layer, let expected, let found):
            return "input '\(layer)': expected shape \(expected), found \(found)"
        case .inputTooSmall(let input, let found, let minimum, let reason):
            let smallest = minimum.map { "; the smallest input it takes is \($0.map(String.init).joined(separator: "×"))" } ?? ""
            return "input '\(input)': shape \(found) is too small for the model (\(reason))\(smallest)"
        case .unknownLayer(let name):
            return "no layer named '\(name)' in the model"
        case .invalidManifest(let path, let reason):
            return "\(path): invalid golden manifest: \(reason)"
        case .invalidImage(let path, let reason):
            return "\(path): not a usable image: \(reason)"
        case .imageTooLarge(let path, let width, let height, let limit):
            return "\(path): image is \(width)×\(height), over the limit (\(limit))"
        case .invalidGraph(let path, let reason):
            return "\(path): invalid TensorFlow graph: \(reason)"
        case .invalidArgument(let reason):
            return reason
        case .noFaceFound(let path):
            return "\(path): no face found; if the images are face crops already, skip detection "
                + "(`--detector skip`, or `extraction: .skip` in Swift)"
        case .invalidGallery(let location, let reason):
            return "\(location): not a usable gallery: \(reason)"
        case .galleryMismatch(let location, let gallery, let given):
            return "\(location): the gallery holds embeddings of \(gallery), but these are of \(given); "
                + "use the gallery's model and preprocessing, or create another gallery"
        case .storeUnavailable(let location, let reason):
            return "\(location): cannot reach the gallery's server: \(reason)"
        case .internalError(let message):
            return "internal error: \(message) (this is a bug in FaceNetKit; please report it with the model and input)"
        }
    }

    /// A stable, machine-readable name of the case, in snake case (`no_face_found`,
    /// `unreadable_file`, …): what the CLI's JSON errors carry as `code`. It does not
    /// change when a message is reworded.
    public var code: String {
        switch self {
        case .unreadableFile: return "unreadable_file"
        case .unwritableFile: return "unwritable_file"
        case .invalidTopology: return "invalid_topology"
        case .unsupportedLayer: return "unsupported_layer"
        case .invalidWeights: return "invalid_weights"
        case .missingWeight: return "missing_weight"
        case .unexpectedWeights: return "unexpected_weights"
        case .weightShapeMismatch: return "weight_shape_mismatch"
        case .weightsMismatch: return "weights_mismatch"
        case .inputShapeMismatch: return "input_shape_mismatch"
        case .inputTooSmall: return "input_too_small"
        case .unknownLayer: return "unknown_layer"
        case .invalidManifest: return "invalid_manifest"
        case .invalidImage: return "invalid_image"
        case .imageTooLarge: return "image_too_large"
        case .invalidGraph: return "invalid_graph"
        case .invalidArgument: return "invalid_argument"
        case .noFaceFound: return "no_face_found"
        case .invalidGallery: return "invalid_gallery"
        case .galleryMismatch: return "gallery_mismatch"
        case .storeUnavailable: return "store_unavailable"
        case .internalError: return "internal_error"
        }
    }

    /// The file the error is about, when it is about one.
    public var path: String? {
        switch self {
        case .unreadableFile(let path, _), .unwritableFile(let path, _), .invalidTopology(let path, _, _),
             .unsupportedLayer(let path, _, _, _), .invalidWeights(let path, _, _), .missingWeight(let path, _, _, _),
             .unexpectedWeights(let path, _), .weightShapeMismatch(let path, _, _, _, _), .weightsMismatch(let path, _, _, _),
             .invalidManifest(let path, _), .invalidImage(let path, _), .imageTooLarge(let path, _, _, _),
             .invalidGraph(let path, _), .noFaceFound(let path), .invalidGallery(let path, _),
             .galleryMismatch(let path, _, _), .storeUnavailable(let path, _):
            return path
        case .inputShapeMismatch, .inputTooSmall, .unknownLayer, .invalidArgument, .internalError:
            return nil
        }
    }

    /// The message, as `description` (`LocalizedError`): what went wrong and what to do.
    public var errorDescription: String? { description }

    /// `unreadableFile` for a path that does not exist: the reason says where a relative
    /// path was looked for, then `advice` (what to check or do, starting with a verb).
    package static func noSuchFile(_ path: String, advice: String) -> FaceNetError {
        let base = path.hasPrefix("/") ? "" : " (relative to the working directory \(FileManager.default.currentDirectoryPath))"
        return .unreadableFile(path: path, reason: "no such file\(base); \(advice)")
    }
}

/// A broken internal invariant, to throw at the site that finds it: `assertionFailure` in
/// debug builds (it stops there under -Onone, e.g. in a debugger), and in every build the
/// error `FaceNetError.internalError(message)` to throw, so the work is never silently
/// skipped. `message` names the component and what was violated.
///
/// Only under `DEBUG`: this module is `-Ounchecked` in release, where the optimiser may
/// assume an `assertionFailure` is never reached — a provoked fault then crashed instead of
/// throwing (seen in `InternalFaultTests`, release build).
package func internalFault(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> FaceNetError {
    #if DEBUG
    assertionFailure(message, file: file, line: line)
    #endif
    return .internalError(message)
}
