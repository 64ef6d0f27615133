import FaceNetKit
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import UnixSignals

/// `facenet serve`: the engine over HTTP (Hummingbird 2 on SwiftNIO), with deepface's
/// `/represent` and `/verify`, `/detect`, a gallery's `/register`, `/search` and
/// `DELETE /identities/{name}`, and `/health`, `/metrics`, `/openapi.yaml`
/// (Docs/serving.md). Concurrent requests' faces go through the network together
/// (`EmbeddingBatcher`).
///
/// ```swift
/// let facenet = try FaceNet(preset: .facenet512Casia)
/// let server = try FaceServer(facenet: facenet, modelName: "facenet512-casia", options: ServerOptions(port: 8080))
/// try await server.run()   // until SIGTERM or SIGINT: then it stops accepting, finishes what is in flight, returns
/// ```
public struct FaceServer: Sendable {
    let pipeline: FacePipeline
    let gallery: ServedGallery?
    let options: ServerOptions
    let metrics: ServerMetrics

    /// `facenet`: the loaded model with its preprocessing; its extraction is what
    /// `/register` and `/search` use (the gallery's). `modelName`: what clients may call it
    /// (the preset's name; deepface's `Facenet512` or `Facenet` also map to it by the
    /// embedding's size). `detector`: for requests with `detector_backend: mtcnn` (default:
    /// `facenet`'s, else the built-in MTCNN). Throws `ServerSetupError` for bad options or a
    /// gallery made with another model, and what loading MTCNN throws.
    public init(facenet: FaceNet, modelName: String, detector: MTCNN? = nil, gallery: ServedGallery? = nil,
                options: ServerOptions) throws {
        try options.validate()
        if let gallery {
            do {
                try gallery.gallery.requireModel(gallery.model)
            } catch {
                throw ServerSetupError("\(error)")
            }
        }
        let metrics = ServerMetrics(maxBatch: options.maxBatch)
        let batcher = EmbeddingBatcher(facenet: facenet, maxBatch: options.maxBatch, maxDelay: options.maxDelay, metrics: metrics)
        pipeline = try FacePipeline(facenet: facenet, modelName: modelName,
                                    detector: try detector ?? facenet.extraction.detector ?? MTCNN(), batcher: batcher)
        self.gallery = gallery
        self.options = options
        self.metrics = metrics
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting connections, finishes the
    /// requests in flight (for at most 8 s) and returns. `onRunning` gets the bound host
    /// and port once the server listens (the port is the real one when `options.port` is 0).
    public func run(onRunning: @escaping @Sendable (String, Int) async -> Void = { _, _ in }) async throws {
        let app = application(onRunning: onRunning)
        var configuration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: app.logger)
        configuration.maximumGracefulShutdownDuration = .seconds(8)
        pipeline.batcher.start()
        defer { pipeline.batcher.stop() }
        try await ServiceGroup(configuration: configuration).run()
    }

    /// The Hummingbird application (tests run it with HummingbirdTesting). The batcher's
    /// thread must be started first (`run()` does).
    func application(onRunning: @escaping @Sendable (String, Int) async -> Void = { _, _ in }) -> some ApplicationProtocol {
        let router = Router(context: ServerContext.self)
        let routes = self.routes
        router.add(middleware: GuardMiddleware(options: options, metrics: metrics,
                                               routes: routes.map { ($0.path, $0.method) }))
        for route in routes {
            router.on(RouterPath(route.path), method: route.method, use: route.handler)
        }
        let host = options.host
        let idle = TimeAmount.nanoseconds(Int64(options.idleTimeout.seconds * 1e9))
        return Application(router: router, server: .http1(configuration: .init(idleTimeout: idle)),
                           configuration: .init(address: .hostname(host, port: options.port), serverName: "facenet"),
                           onServerRunning: { channel in await onRunning(host, channel.localAddress?.port ?? 0) })
    }

    /// One endpoint: its method, its path (OpenAPI's `{name}` syntax) and its handler.
    struct Route: Sendable {
        let method: HTTPRequest.Method
        let path: String
        let handler: @Sendable (Request, ServerContext) async throws -> Response
    }

    /// Every endpoint this server answers (the gallery's only with a gallery); the
    /// OpenAPI description lists exactly these (`OpenAPITests`).
    var routes: [Route] {
        let faces = FaceRoutes(pipeline: pipeline, options: options)
        let info = InfoRoutes(pipeline: pipeline, metrics: metrics, hasGallery: gallery != nil)
        var routes = [
            Route(method: .get, path: "/health", handler: info.health),
            Route(method: .get, path: "/metrics", handler: info.prometheus),
            Route(method: .get, path: "/openapi.yaml", handler: info.openAPI),
            Route(method: .post, path: "/represent", handler: faces.represent),
            Route(method: .post, path: "/verify", handler: faces.verify),
            Route(method: .post, path: "/detect", handler: faces.detect),
        ]
        if let gallery {
            let store = GalleryRoutes(served: gallery, faces: faces)
            routes += [
                Route(method: .post, path: "/register", handler: store.register),
                Route(method: .post, path: "/search", handler: store.search),
                Route(method: .post, path: "/find", handler: store.search),
                Route(method: .delete, path: "/identities/{name}", handler: store.remove),
            ]
        }
        return routes
    }
}
