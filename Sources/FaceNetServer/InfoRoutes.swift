import Hummingbird

/// `GET /health`, `GET /metrics` and `GET /openapi.yaml`.
struct InfoRoutes: Sendable {
    let pipeline: FacePipeline
    let metrics: ServerMetrics
    let hasGallery: Bool

    /// `{"status": "ok", "model", "gallery": true|false}`: the model is loaded and the
    /// server answers (it listens only once both are so). Needs no API key.
    func health(_ request: Request, _ context: ServerContext) async throws -> Response {
        jsonResponse(.object([("status", .string("ok")), ("model", .string(pipeline.modelName)), ("gallery", .bool(hasGallery))]))
    }

    /// Prometheus's text format (`ServerMetrics`).
    func prometheus(_ request: Request, _ context: ServerContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.text())))
    }

    /// The OpenAPI 3 description of every endpoint (`OpenAPIDocument`).
    func openAPI(_ request: Request, _ context: ServerContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/yaml"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml(gallery: hasGallery))))
    }
}
