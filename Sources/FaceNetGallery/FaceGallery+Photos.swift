import Crypto
import FaceNetKernels
import FaceNetKit
import Foundation

/// What happened to one photo given to `FaceGallery.add(photos:with:)`.
public struct PhotoOutcome: Sendable {
    public var file: String
    public var identity: String
    /// The ids of the faces stored from it, or the error that kept it out (a missing or
    /// undecodable file, no face found).
    public var result: Result<[Int64], Error>
}

/// A photo to store: read from `path`, stored as `name`, its SHA-256 when hashed already.
struct PhotoToAdd: Sendable {
    var path: String
    var name: String
    var identity: String
    var hash: String?
}

extension FaceGallery {
    /// Detects, aligns and embeds each photo with `facenet` (which must be the gallery's model
    /// and preprocessing) and stores its largest face (`maxFaces` more), with the photo's
    /// SHA-256. A photo that fails is reported in its outcome and skipped; the others are
    /// stored, each photo in its own transaction, so a crash loses at most the photo in
    /// flight. `each(outcome, done, total)` after each photo, once its faces are committed.
    @discardableResult
    public func add(photos: [(file: String, identity: String)], with facenet: FaceNet, model: String, maxFaces: Int = 1,
                    each: (@Sendable (PhotoOutcome, Int, Int) -> Void)? = nil) async throws -> [PhotoOutcome] {
        let made = try GalleryModel(facenet: facenet, model: model)
        try requireModel(made)
        let photos = photos.map { PhotoToAdd(path: $0.file, name: $0.file, identity: $0.identity, hash: nil) }
        return try await add(photos, with: facenet, made: made, maxFaces: maxFaces, each: each)
    }

    /// `add(photos:…)` for photos read from `path` and stored as `name` (a folder gallery
    /// stores paths relative to its folder), with their hashes when known already.
    ///
    /// Pipelined: the next photo is hashed, decoded, searched for faces and preprocessed
    /// while this one goes through the network and into the store. One photo ahead only:
    /// memory stays bounded and outcomes come in the photos' order.
    func add(_ photos: [PhotoToAdd], with facenet: FaceNet, made: GalleryModel, maxFaces: Int,
             each: (@Sendable (PhotoOutcome, Int, Int) -> Void)? = nil) async throws -> [PhotoOutcome] {
        var outcomes: [PhotoOutcome] = []
        var next = photos.first.map { Self.prepare($0, with: facenet, maxFaces: maxFaces) }
        defer { next?.cancel() }
        for (index, photo) in photos.enumerated() {
            try Task.checkCancellation()
            guard let current = next else { break }
            next = index + 1 < photos.count ? Self.prepare(photos[index + 1], with: facenet, maxFaces: maxFaces) : nil
            let result: Result<[Int64], Error>
            do {
                let prepared = try await current.value
                let rows = try await facenet.embed(prepared: prepared.batch, l2Normalize: true)
                let records = zip(prepared.faces, rows).map { face, embedding in
                    GalleryFace(identity: photo.identity, file: photo.name, contentHash: prepared.hash,
                                box: face?.box.roundedXYWH, confidence: face?.confidence,
                                landmarks: face.map(Self.landmarkValues), embedding: embedding)
                }
                result = .success(try await add(records, madeWith: made))
            } catch let error as CancellationError {
                throw error
            } catch {
                result = .failure(error)
            }
            let outcome = PhotoOutcome(file: photo.path, identity: photo.identity, result: result)
            outcomes.append(outcome)
            each?(outcome, index + 1, photos.count)
        }
        return outcomes
    }

    /// Starts hashing and preparing `photo` (off the actor: a static function's task is not
    /// isolated to it).
    private static func prepare(_ photo: PhotoToAdd, with facenet: FaceNet,
                                maxFaces: Int) -> Task<(hash: String, faces: [DetectedFace?], batch: Tensor), Error> {
        Task {
            let hash = try photo.hash ?? contentHash(of: photo.path)
            let prepared = try await facenet.prepareFaces(file: photo.path, maxFaces: maxFaces)
            return (hash, prepared.faces, prepared.batch)
        }
    }

    /// For each face of a query photo (largest first, up to `maxFaces`), its detection and
    /// the `k` nearest stored faces.
    public func search(photo file: String, with facenet: FaceNet, model: String, maxFaces: Int? = nil, k: Int = 5,
                       metric: DistanceMetric = .euclideanL2, threshold: Double? = nil,
                       mode: GallerySearchMode = .automatic) async throws -> (faces: [(face: DetectedFace?, matches: [GalleryMatch])], index: GalleryIndexUsed) {
        let made = try GalleryModel(facenet: facenet, model: model)
        let faces = try await facenet.embedFaces(file: file, maxFaces: maxFaces, l2Normalize: true)
        let found = try await search(faces.map(\.embedding), madeWith: made, k: k, metric: metric, threshold: threshold, mode: mode)
        return (zip(faces, found.matches).map { ($0.face, $1) }, found.index)
    }

    /// SHA-256 of a file's bytes, hex.
    static func contentHash(of file: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: file) else {
            throw FaceNetError.unreadableFile(path: file, reason: "no such file, or not readable")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The five landmarks as a gallery stores them: x, y of each, 10 floats (the eyes, the
    /// nose, the mouth's corners).
    package static func landmarkValues(_ face: DetectedFace) -> [Float] {
        let l = face.landmarks
        return [l.leftEye, l.rightEye, l.nose, l.mouthLeft, l.mouthRight].flatMap { [$0.x, $0.y] }
    }
}
