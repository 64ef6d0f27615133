import AsyncHTTPClient
import FaceNetKit
import FaceNetTestSupport
import Foundation
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import XCTest

@testable import FaceNetServer

/// The real FaceNet-512 (CASIA) for the server tests, loaded once: from
/// `$FACENET_WEIGHTS_DIR`, the clone's `Weights/`, else `../shared/models`; the tests skip
/// with the reason when none holds it.
enum ServedModel {
    static let loaded: Result<FaceNet, Error> = Result {
        Paths.useCloneWeightsDirectoryUnlessSet()
        if (try? Preset.facenet512Casia.locateWeights()) == nil {
            let shared = Paths.shared.appendingPathComponent("models").path
            if FileManager.default.fileExists(atPath: shared + "/facenet512_casia.h5") { setenv("FACENET_WEIGHTS_DIR", shared, 1) }
        }
        return try FaceNet(preset: .facenet512Casia)
    }

    static func facenet() throws -> FaceNet {
        do {
            return try loaded.get()
        } catch {
            throw XCTSkip("the facenet512-casia weights are absent: \(error)")
        }
    }

    /// The same model without a detector (images are face crops), sharing the loaded network.
    static func skipFacenet() throws -> FaceNet {
        let facenet = try facenet()
        return try FaceNet(model: facenet.model, preprocessing: facenet.preprocessing, weightSet: facenet.weightSet,
                           extraction: .skip)
    }
}

/// Image files the tests send: the package's own samples and fixtures.
enum TestImages {
    static func data(_ relative: String) throws -> Data {
        try Data(contentsOf: Paths.packageRoot.appendingPathComponent(relative))
    }

    static func path(_ relative: String) -> String { Paths.packageRoot.appendingPathComponent(relative).path }

    /// Two photos of the same person (Docs/samples, from deepface's test set).
    static let photoA = "Docs/samples/img5.jpg"
    static let photoB = "Docs/samples/img6.jpg"
    /// A face crop (for `detector_backend: skip`).
    static let crop = "Tests/Fixtures/images/face.png"
}

/// An answer: status, headers, body.
struct Answer {
    let status: Int
    let headers: [String: String]
    let body: Data

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object (a test failure when it is not one).
    func json(file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: body)
        return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(text.prefix(300))", file: file, line: line)
    }

    /// `error.code` of an error answer.
    var errorCode: String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return nil }
        return (object["error"] as? [String: Any])?["code"] as? String
    }
}

/// A running server and an HTTP client for it.
struct ServerHarness: Sendable {
    let port: Int
    let client: HTTPClient

    var base: String { "http://127.0.0.1:\(port)" }

    func send(_ method: HTTPMethod = .POST, _ path: String, body: Data? = nil, contentType: String? = "application/json",
              headers: [(String, String)] = [], timeout: TimeAmount = .seconds(60)) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let contentType, body != nil { request.headers.add(name: "Content-Type", value: contentType) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 64 << 20)
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return Answer(status: Int(response.status.code), headers: fields, body: Data(bytes.readableBytesView))
    }

    /// POSTs a JSON object.
    func post(_ path: String, _ object: [String: Any], headers: [(String, String)] = []) async throws -> Answer {
        try await send(.POST, path, body: try JSONSerialization.data(withJSONObject: object), headers: headers)
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> Answer {
        try await send(.GET, path, headers: headers)
    }
}

/// Runs `body` against a live `FaceServer` on 127.0.0.1 (a free port), with a client that
/// opens up to 128 connections at once.
func withServer<R: Sendable>(_ server: FaceServer, _ body: @Sendable (ServerHarness) async throws -> R) async throws -> R {
    server.pipeline.batcher.start()
    defer { server.pipeline.batcher.stop() }
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 128)
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    do {
        let result = try await server.application().test(.live) { live in
            try await body(ServerHarness(port: try XCTUnwrap(live.port), client: client))
        }
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// Options for tests: a free port, small limits.
func testOptions(_ edit: (inout ServerOptions) -> Void = { _ in }) -> ServerOptions {
    var options = ServerOptions(host: "127.0.0.1", port: 0)
    edit(&options)
    return options
}

/// Base64 of a file's bytes.
func base64(_ relative: String) throws -> String { try TestImages.data(relative).base64EncodedString() }

/// A `multipart/form-data` body: text fields, then files.
func multipart(fields: [(String, String)], files: [(name: String, filename: String, data: Data)]) -> (body: Data, contentType: String) {
    let boundary = "facenet-test-\(UUID().uuidString)"
    var body = Data()
    for (name, value) in fields {
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
    }
    for file in files {
        body += Data(("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\"; filename=\"\(file.filename)\"\r\n"
            + "Content-Type: application/octet-stream\r\n\r\n").utf8)
        body += file.data + Data("\r\n".utf8)
    }
    body += Data("--\(boundary)--\r\n".utf8)
    return (body, "multipart/form-data; boundary=\(boundary)")
}

/// The embedding rows of a `/represent` answer.
func embeddings(_ answer: Answer) throws -> [[Float]] {
    let results = try XCTUnwrap(try answer.json()["results"] as? [[String: Any]], answer.text)
    return try results.map { result in
        try XCTUnwrap(result["embedding"] as? [NSNumber]).map { Float(truncating: $0) }
    }
}
