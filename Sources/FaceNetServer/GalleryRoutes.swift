import Crypto
import FaceNetGallery
import FaceNetKit
import Foundation
import Hummingbird

/// The gallery the server was started with (`--gallery G`) and what the served model makes.
public struct ServedGallery: Sendable {
    /// The open gallery.
    public let gallery: FaceGallery
    /// The served model as the gallery records it; `FaceServer` checks it is the gallery's.
    public let model: GalleryModel

    /// `gallery` served with `model` (`GalleryModel(facenet:model:)` of the served `FaceNet`).
    public init(gallery: FaceGallery, model: GalleryModel) {
        self.gallery = gallery
        self.model = model
    }
}

/// `/register`, `/search` (and `/find`) and `DELETE /identities/{name}`. Photos go through
/// the served model's own detector settings (the ones the gallery records), not the
/// request's: a gallery holds one kind of embedding.
struct GalleryRoutes: Sendable {
    let served: ServedGallery
    let faces: FaceRoutes

    private var pipeline: FacePipeline { faces.pipeline }

    /// The served extraction: detection as the gallery's model was set up.
    private var galleryRequest: FaceRequest {
        var request = FaceRequest()
        request.detect = pipeline.facenet.extraction.detector != nil
        request.align = pipeline.facenet.extraction.alignment != .none
        request.enforceDetection = !pipeline.facenet.extraction.fallbackToWholeImage
        return request
    }

    /// `POST /register` {img, identity} → `{"identity", "face_ids": [id], "faces": [{"box",
    /// "confidence", "landmarks"}]}`: the photo's largest face, stored under `identity`.
    func register(_ request: Request, _ context: ServerContext) async throws -> Response {
        let fields = try await faces.fields(request, context)
        let identity = try fields.string("identity")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard !identity.isEmpty else {
            throw APIError.missingField("identity")
        }
        let image = try fields.requiredImage("img")
        var face = galleryRequest
        face.maxFaces = 1
        let (prepared, embeddings) = try await pipeline.embed(image, field: "img", request: face, deadline: context.deadline)
        let hash = SHA256.hash(data: image).map { String(format: "%02x", $0) }.joined()
        let records = zip(prepared.faces, embeddings).map { face, embedding in
            GalleryFace(identity: identity, file: nil, contentHash: hash, box: face?.box.roundedXYWH,
                        confidence: face?.confidence,
                        landmarks: face.map(FaceGallery.landmarkValues), embedding: embedding)
        }
        let ids = try await served.gallery.add(records, madeWith: served.model)
        return jsonResponse(.object([("identity", .string(identity)), ("face_ids", .array(ids.map { .int(Int($0)) })),
                                     ("faces", .array(prepared.faces.map { faceJSON($0) }))]), status: .created)
    }

    /// `POST /search` (or `/find`) {img or embedding, k, threshold, distance_metric, max_faces}.
    /// With `img`: `{"index", "faces": [{"box", "confidence", "matches": [...]}]}`, every face
    /// of the photo; with `embedding`: `{"index", "matches": [...]}`. Each match as
    /// `facenet find --json` writes it.
    func search(_ request: Request, _ context: ServerContext) async throws -> Response {
        let fields = try await faces.fields(request, context)
        let k = try fields.int("k", in: 1...1000) ?? 5
        let threshold = try fields.double("threshold")
        let metricName = try fields.string("distance_metric") ?? DistanceMetric.euclideanL2.rawValue
        guard let metric = DistanceMetric(rawValue: metricName), metric != .euclidean else {
            throw APIError.invalidField("distance_metric",
                                        "must be euclidean_l2, cosine or angular (a gallery holds normalised embeddings)")
        }
        if let embedding = try fields.floats("embedding") {
            guard embedding.count == served.model.dimension else {
                throw APIError.invalidField("embedding", "must have \(served.model.dimension) numbers, not \(embedding.count)")
            }
            let found = try await served.gallery.search([embedding], k: k, metric: metric, threshold: threshold)
            return jsonResponse(.object(indexFields(found.index) + [("matches", .array(found.matches[0].map { $0.json() }))]))
        }
        guard fields.has("img") else { throw APIError(.badRequest, "missing_field", "give img or embedding") }
        var face = galleryRequest
        face.maxFaces = try fields.int("max_faces", in: 1...1000)
        let (prepared, embeddings) = try await pipeline.embed(try fields.requiredImage("img"), field: "img", request: face,
                                                              deadline: context.deadline)
        let found = try await served.gallery.search(embeddings, madeWith: served.model, k: k, metric: metric,
                                                    threshold: threshold)
        let entries: [JSON] = zip(prepared.faces, found.matches).map { face, matches in
            .object([("box", face.map { .array($0.box.roundedXYWH.map(JSON.int)) } ?? .null),
                     ("confidence", face.map { .float($0.confidence) } ?? .null),
                     ("matches", .array(matches.map { $0.json() }))])
        }
        return jsonResponse(.object(indexFields(found.index) + [("faces", .array(entries))]))
    }

    /// `DELETE /identities/{name}` → `{"identity", "removed": N}`; 404 when none was stored.
    func remove(_ request: Request, _ context: ServerContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let removed = try await served.gallery.remove(identity: name)
        guard removed > 0 else { throw APIError(.notFound, "unknown_identity", "no face is stored for \"\(name.prefix(80))\"") }
        return jsonResponse(.object([("identity", .string(name)), ("removed", .int(removed))]))
    }
}
