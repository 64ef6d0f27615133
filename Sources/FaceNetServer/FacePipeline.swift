import FaceNetKit
import Foundation

/// How a request wants its photo turned into faces (deepface's fields).
struct FaceRequest: Sendable {
    /// `detector_backend`: mtcnn (true) or skip (false: the image is the face).
    var detect = true
    /// `align`: level the eyes (ignored without a detector).
    var align = false
    /// `enforce_detection`: false embeds the whole image when no face is found.
    var enforceDetection = true
    /// `max_faces`: at most this many faces, largest first (nil: all).
    var maxFaces: Int?
}

/// A decoded photo's faces, ready for the network.
struct PreparedFaces: Sendable {
    let width: Int
    let height: Int
    /// Each face's detection, largest first; nil: the whole image.
    let faces: [DetectedFace?]
    /// faces × size × size × 3 (NHWC).
    let batch: Tensor
}

/// The served model: one `FaceNet` (loaded once, shared), an MTCNN for the requests that
/// ask for detection, and the batcher in front of the network. Decoding, detection and
/// preprocessing run on a dispatch queue of their own (as wide as the machine, outside
/// Swift's cooperative pool), in parallel with the batcher's forward passes.
final class FacePipeline: Sendable {
    let facenet: FaceNet
    let detector: MTCNN
    let batcher: EmbeddingBatcher
    /// The served model's name (`facenet512-casia`, or `weights <file>`).
    let modelName: String
    /// Lower-cased `model_name` values that mean the served model.
    private let acceptedNames: Set<String>
    private let queue = DispatchQueue(label: "facenet-serve.prepare", qos: .userInitiated, attributes: .concurrent)

    init(facenet: FaceNet, modelName: String, detector: MTCNN, batcher: EmbeddingBatcher) throws {
        self.facenet = facenet
        self.detector = detector
        self.batcher = batcher
        self.modelName = modelName
        let dimension = try facenet.model.outputShape(of: facenet.embeddingLayer).last ?? nil
        // deepface's names for FaceNet: Facenet (128-d) and Facenet512.
        let deepface = dimension == 512 ? ["facenet512"] : dimension == 128 ? ["facenet"] : []
        acceptedNames = Set([modelName.lowercased()] + deepface)
    }

    /// The model name to report for a request's `model_name` (the served model's when
    /// absent). Throws `APIError` (400 `unknown_model`) for a model this server does not run.
    func modelName(for requested: String?) throws(APIError) -> String {
        guard let requested else { return modelName }
        guard acceptedNames.contains(requested.lowercased()) else {
            throw APIError(.badRequest, "unknown_model",
                           "model_name \"\(requested.prefix(60))\" is not served here; this server runs "
                            + acceptedNames.sorted().joined(separator: " or "))
        }
        return requested
    }

    /// Decodes `data` and finds, cuts out and preprocesses its faces. `field` names the image
    /// in errors. Announces the request to the batcher first (it may wait for these faces).
    func prepare(_ data: Data, field: String, request: FaceRequest,
                 deadline: ContinuousClock.Instant) async throws -> PreparedFaces {
        let extraction = FaceExtraction(detector: request.detect ? detector : nil,
                                        alignment: request.detect && request.align ? .eyes : .none,
                                        margin: facenet.extraction.margin, fallbackToWholeImage: !request.enforceDetection)
        return try await offPool(deadline: deadline) { [facenet] in
            let image = try ImageDecoder.decode(data: data, name: field, limits: facenet.imageLimits)
            let prepared = try facenet.prepareFaces(image, source: field, extraction: extraction, maxFaces: request.maxFaces)
            return PreparedFaces(width: image.width, height: image.height, faces: prepared.faces, batch: prepared.batch)
        }
    }

    /// `prepare` then the network, through the batcher: each face with its embedding (not
    /// normalised).
    func embed(_ data: Data, field: String, request: FaceRequest,
               deadline: ContinuousClock.Instant) async throws -> (prepared: PreparedFaces, embeddings: [[Float]]) {
        let results = try await embed([(data, field)], request: request, deadline: deadline)
        return results[0]
    }

    /// Several images of one request (`/verify`'s two), prepared in parallel, then through
    /// the network as one submission (so in one batch).
    func embed(_ images: [(data: Data, field: String)], request: FaceRequest,
               deadline: ContinuousClock.Instant) async throws -> [(prepared: PreparedFaces, embeddings: [[Float]])] {
        batcher.announce()
        let prepared: [PreparedFaces]
        do {
            prepared = try await withThrowingTaskGroup(of: (Int, PreparedFaces).self) { group in
                for (index, image) in images.enumerated() {
                    group.addTask {
                        (index, try await self.prepare(image.data, field: image.field, request: request, deadline: deadline))
                    }
                }
                var done = [PreparedFaces?](repeating: nil, count: images.count)
                for try await (index, faces) in group { done[index] = faces }
                return done.compactMap { $0 }
            }
        } catch {
            batcher.withdraw()
            throw error
        }
        let batch: Tensor
        do {
            batch = prepared.count == 1 ? prepared[0].batch
                : try Tensor(shape: [prepared.reduce(0) { $0 + $1.faces.count }] + prepared[0].batch.shape.dropFirst(),
                             scalars: prepared.flatMap(\.batch.scalars))
        } catch {
            batcher.withdraw()
            throw error
        }
        let rows = try await batcher.embed(batch, deadline: deadline, announced: true)
        var start = 0
        return prepared.map { faces in
            defer { start += faces.faces.count }
            return (prepared: faces, embeddings: Array(rows[start..<(start + faces.faces.count)]))
        }
    }

    /// The faces MTCNN finds in `data`, largest first (at most `maxFaces`).
    func detect(_ data: Data, field: String, maxFaces: Int?,
                deadline: ContinuousClock.Instant) async throws -> (width: Int, height: Int, faces: [DetectedFace]) {
        try await offPool(deadline: deadline) { [facenet, detector] in
            let image = try ImageDecoder.decode(data: data, name: field, limits: facenet.imageLimits)
            let faces: [DetectedFace]
            do {
                faces = try detector.detect(image)
            } catch FaceNetError.invalidArgument(let reason) {
                throw FaceNetError.invalidImage(path: field, reason: reason)
            } catch FaceNetError.inputTooSmall(_, _, _, let reason) {
                throw FaceNetError.invalidImage(path: field, reason: reason)
            }
            return (image.width, image.height, Array(faces.prefix(maxFaces ?? faces.count)))
        }
    }

    /// Runs `work` on the preparation queue, unless `deadline` has passed already.
    private func offPool<R: Sendable>(deadline: ContinuousClock.Instant,
                                      _ work: @escaping @Sendable () throws -> R) async throws -> R {
        guard ContinuousClock.now < deadline else { throw APIError.timedOut }
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
