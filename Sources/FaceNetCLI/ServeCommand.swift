// Built unless FACENET_ENGINE_ONLY=1 (Package.swift): the server is FaceNetServer, which
// goes with the gallery module.
#if FACENET_GALLERY
import ArgumentParser
import FaceNetGallery
import FaceNetKit
import FaceNetServer
import Foundation

/// `facenet serve`: the model over HTTP (Docs/serving.md).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over HTTP: deepface's /represent and /verify, /detect, a gallery's /register and /search.",
        discussion: """
            Endpoints, limits and batching: Docs/serving.md; the OpenAPI description is at GET /openapi.yaml. \
            Binds to 127.0.0.1 unless --host says otherwise. Images come as file uploads or base64; \
            server-side paths and URLs are refused. SIGTERM or SIGINT: stop accepting, finish what is in \
            flight, exit 0. Prints "listening on http://HOST:PORT" on stderr once it answers (with --json also \
            {"listening", "host", "port", "model"} on stdout).
            """)

    @Option(help: "Address to listen on (0.0.0.0: every interface).")
    var host = "127.0.0.1"

    @Option(help: "TCP port (0: any free one; the one taken is printed).")
    var port = 8080

    @Option(help: "A gallery (file or postgres:// URL) for /register, /search and DELETE /identities/{name}.")
    var gallery: String?

    @Option(help: "Most faces per forward pass.")
    var maxBatch = 8

    @Option(help: "How long a batch may wait for faces on their way, in milliseconds.")
    var maxDelayMs = 5.0

    @Option(help: "A file holding the API key (its first line); every endpoint but /health then needs `Bearer <key>`.")
    var apiKeyFile: String?

    @Option(help: "Largest request body, in MB (larger: 413).")
    var maxBodyMb = 10.0

    @Option(help: "Most requests admitted to the model endpoints at once (more: 503 with Retry-After).")
    var queueLimit = 64

    @Option(help: "Seconds a request may take, body included (past it: 408 while the body arrives, else 503).")
    var timeoutS = 30.0

    @OptionGroup var face: FaceOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if maxBatch < 1 { throw ValidationError("--max-batch must be at least 1") }
        if !(maxDelayMs >= 0) { throw ValidationError("--max-delay-ms must not be negative") }
        if !(maxBodyMb > 0) { throw ValidationError("--max-body-mb must be positive") }
        if queueLimit < 1 { throw ValidationError("--queue-limit must be at least 1") }
        if !(timeoutS > 0) { throw ValidationError("--timeout-s must be positive") }
    }

    func run() async throws {
        var options = ServerOptions(host: host, port: port, maxBatch: maxBatch,
                                    maxDelay: .microseconds(Int64((maxDelayMs * 1000).rounded())),
                                    maxBodyBytes: Int(maxBodyMb * 1_048_576), queueLimit: queueLimit,
                                    requestTimeout: .milliseconds(Int64((timeoutS * 1000).rounded())))
        if let apiKeyFile { options.apiKey = try ServerOptions.apiKey(file: apiKeyFile) }
        try options.validate()
        var served: ServedGallery?
        if let gallery {
            // The gallery's model first: a mismatch is refused before the network is loaded.
            let store = try await FaceGallery.open(gallery)
            let model = try face.galleryModel()
            try store.requireModel(model)
            served = ServedGallery(gallery: store, model: model)
        }
        let facenet = try face.load()
        let server = try FaceServer(facenet: facenet, modelName: face.galleryModelName, gallery: served, options: options)
        let batch = maxBatch, delay = maxDelayMs, name = face.galleryModelName, json = output.json
        try await server.run { host, port in
            printError("facenet serve: listening on http://\(host):\(port) "
                       + "(model \(name), max batch \(batch), max delay \(delay) ms)")
            // Under --json, one line for scripts that start it on --port 0.
            guard json else { return }
            let line: JSON = .object([("listening", .string("http://\(host):\(port)")), ("host", .string(host)),
                                      ("port", .int(port)), ("model", .string(name))])
            FileHandle.standardOutput.write(Data((line.text + "\n").utf8))
        }
        try await served?.gallery.close()
        printError("facenet serve: stopped")
    }
}
#endif
