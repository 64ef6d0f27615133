import FaceNetKit
import Foundation
import Hummingbird

/// `/represent`, `/verify` and `/detect`: deepface's endpoints, with its field names.
struct FaceRoutes: Sendable {
    let pipeline: FacePipeline
    let options: ServerOptions

    /// The request's fields, its body read under the server's limits.
    func fields(_ request: Request, _ context: ServerContext) async throws -> RequestFields {
        let body = try await request.readBody(limit: options.maxBodyBytes, deadline: context.deadline)
        return try RequestFields.parse(body, contentType: request.headers[.contentType])
    }

    /// deepface's `detector_backend`, `align`, `enforce_detection` and `max_faces`.
    static func faceRequest(_ fields: RequestFields, maxFaces: Int? = nil) throws(APIError) -> FaceRequest {
        var request = FaceRequest()
        switch try fields.string("detector_backend")?.lowercased() {
        case nil, "mtcnn": request.detect = true
        case "skip": request.detect = false
        case .some(let other):
            throw APIError.invalidField("detector_backend", "\"\(other.prefix(40))\" is not available here; use mtcnn or skip")
        }
        request.align = try fields.bool("align", default: false)
        request.enforceDetection = try fields.bool("enforce_detection", default: true)
        request.maxFaces = try fields.int("max_faces", in: 1...1000) ?? maxFaces
        return request
    }

    /// `POST /represent` {img, model_name, detector_backend, align, enforce_detection, max_faces}
    /// → `{"results": [{"embedding": [512 floats], "facial_area": {x, y, w, h, left_eye, right_eye}, "face_confidence"}]}`,
    /// largest face first. The embedding is the network's output, not normalised (as deepface's).
    func represent(_ request: Request, _ context: ServerContext) async throws -> Response {
        let fields = try await self.fields(request, context)
        _ = try pipeline.modelName(for: fields.string("model_name"))
        let face = try Self.faceRequest(fields)
        let image = try fields.requiredImage("img")
        let (prepared, embeddings) = try await pipeline.embed(image, field: "img", request: face, deadline: context.deadline)
        let results: [JSON] = zip(prepared.faces, embeddings).map { face, embedding in
            .object([("embedding", .floats(embedding)), ("facial_area", Self.facialArea(face, prepared)),
                     ("face_confidence", face.map { JSON.float($0.confidence) } ?? JSON.int(0))])
        }
        return jsonResponse(.object([("results", .array(results))]))
    }

    /// `POST /verify` {img1, img2, model_name, detector_backend, distance_metric, align,
    /// enforce_detection, threshold} → `{"verified", "distance", "threshold", "model",
    /// "detector_backend", "similarity_metric", "facial_areas": {"img1", "img2"}, "time"}`.
    /// The largest face of each image; the metric defaults to cosine, as deepface's.
    func verify(_ request: Request, _ context: ServerContext) async throws -> Response {
        let started = ContinuousClock.now
        let fields = try await self.fields(request, context)
        let model = try pipeline.modelName(for: fields.string("model_name"))
        var face = try Self.faceRequest(fields, maxFaces: 1)
        face.maxFaces = 1
        let metricName = try fields.string("distance_metric") ?? DistanceMetric.cosine.rawValue
        guard let metric = DistanceMetric(rawValue: metricName) else {
            let known = DistanceMetric.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError.invalidField("distance_metric", "\"\(metricName.prefix(40))\" is not one of \(known)")
        }
        let threshold = try fields.double("threshold")
        let images = [(try fields.requiredImage("img1"), "img1"), (try fields.requiredImage("img2"), "img2")]
        let done = try await pipeline.embed(images.map { (data: $0.0, field: $0.1) }, request: face, deadline: context.deadline)
        let result = try pipeline.facenet.verify(embeddings: done[0].embeddings[0], done[1].embeddings[0], metric: metric,
                                                 threshold: threshold)
        let areas: JSON = .object([("img1", Self.facialArea(done[0].prepared.faces[0], done[0].prepared)),
                                   ("img2", Self.facialArea(done[1].prepared.faces[0], done[1].prepared))])
        return jsonResponse(.object([
            ("verified", .bool(result.verified)), ("distance", .double(result.distance)),
            ("threshold", .double(result.threshold)),
            ("model", .string(model)), ("detector_backend", .string(face.detect ? "mtcnn" : "skip")),
            ("similarity_metric", .string(metric.rawValue)), ("facial_areas", areas),
            ("time", .double(((ContinuousClock.now - started).seconds * 1000).rounded() / 1000)),
        ]))
    }

    /// `POST /detect` {img, max_faces} → `{"faces": [{"box": [x, y, w, h], "confidence",
    /// "landmarks": {"left_eye": [x, y], …}}]}`, largest first, as `facenet detect --json`.
    func detect(_ request: Request, _ context: ServerContext) async throws -> Response {
        let fields = try await self.fields(request, context)
        let maxFaces = try fields.int("max_faces", in: 1...1000)
        let image = try fields.requiredImage("img")
        let found = try await pipeline.detect(image, field: "img", maxFaces: maxFaces, deadline: context.deadline)
        return jsonResponse(.object([("width", .int(found.width)), ("height", .int(found.height)),
                                     ("faces", .array(found.faces.map { faceJSON($0) }))]))
    }

    /// deepface's `facial_area`: `{x, y, w, h, left_eye: [x, y], right_eye: [x, y]}`, the
    /// eyes from the person's point of view (deepface's convention: the person's left eye
    /// is on the image's right, MTCNN's `right_eye`). The whole image with null eyes when no
    /// face was detected.
    static func facialArea(_ face: DetectedFace?, _ image: PreparedFaces) -> JSON {
        guard let face else {
            return .object([("x", .int(0)), ("y", .int(0)), ("w", .int(image.width)), ("h", .int(image.height)),
                            ("left_eye", .null), ("right_eye", .null)])
        }
        let box = face.box.roundedXYWH
        func point(_ p: FacePoint) -> JSON { .array([.int(Int(p.x.rounded())), .int(Int(p.y.rounded()))]) }
        return .object([("x", .int(box[0])), ("y", .int(box[1])), ("w", .int(box[2])), ("h", .int(box[3])),
                        ("left_eye", point(face.landmarks.rightEye)), ("right_eye", point(face.landmarks.leftEye))])
    }
}
