import FaceNetGallery
import NIOHTTP1
import FaceNetKit
import FaceNetTestSupport
import Foundation
import XCTest

@testable import FaceNetServer

/// `/openapi.yaml` stays true: its paths and methods are exactly the server's routes, and
/// answers carry the fields its 200 schemas require. Also `/health` and `/metrics`.
final class OpenAPITests: XCTestCase {
    func testTheDocumentListsExactlyTheRoutes() async throws {
        let facenet = try ServedModel.facenet()
        let directory = try temporaryDirectory()
        let model = try GalleryModel(facenet: facenet, model: "facenet512-casia")
        let gallery = try await FaceGallery.create(directory.appendingPathComponent("g.sqlite").path, model: model)
        for served in [nil, ServedGallery(gallery: gallery, model: model)] {
            let server = try FaceServer(facenet: facenet, modelName: "facenet512-casia", gallery: served, options: testOptions())
            let routes = Set(server.routes.map { "\($0.method.rawValue) \($0.path)" })
            XCTAssertEqual(documented(OpenAPIDocument.yaml(gallery: served != nil)), routes)
            XCTAssertEqual(routes.count, served == nil ? 6 : 10)
        }
        try await gallery.close()
    }

    /// A method a known path does not take is 405 with `Allow`; an unknown path is 404
    /// (schemathesis flagged the 404s: Benchmarks/fuzz-api.sh).
    func testOtherMethodsOnAKnownPathAre405WithAllow() async throws {
        let facenet = try ServedModel.facenet()
        let server = try FaceServer(facenet: facenet, modelName: "facenet512-casia", options: testOptions())
        try await withServer(server) { server in
            for (method, path, allow) in [(HTTPMethod.TRACE, "/verify", "POST"), (.GET, "/represent", "POST"),
                                          (.DELETE, "/health", "GET"), (.PUT, "/openapi.yaml", "GET"),
                                          (.RAW(value: "QUERY"), "/detect", "POST")] {
                let answer = try await server.send(method, path)
                XCTAssertEqual(answer.status, 405, "\(method) \(path)")
                XCTAssertEqual(answer.errorCode, "method_not_allowed")
                XCTAssertEqual(answer.headers["allow"], allow, "\(method) \(path)")
            }
            let unknown = try await server.send(.GET, "/nowhere")
            XCTAssertEqual(unknown.status, 404)
            XCTAssertEqual(unknown.errorCode, "not_found")
        }
    }

    func testHealthMetricsAndTheDocumentAnswer() async throws {
        let facenet = try ServedModel.facenet()
        let server = try FaceServer(facenet: facenet, modelName: "facenet512-casia", options: testOptions())
        try await withServer(server) { server in
            let yaml = try await server.get("/openapi.yaml")
            XCTAssertEqual(yaml.status, 200)
            XCTAssertEqual(yaml.headers["content-type"], "application/yaml")
            XCTAssertTrue(yaml.text.hasPrefix("openapi: 3."), yaml.text.prefix(100).description)
            let health = try await server.get("/health")
            XCTAssertEqual(health.status, 200)
            XCTAssertEqual(try health.json()["status"] as? String, "ok")
            XCTAssertEqual(Set(try health.json().keys), try requiredKeys(yaml.text, path: "/health"))

            let represent = try await server.post("/represent", ["img": try base64(TestImages.crop), "detector_backend": "skip"])
            XCTAssertTrue(try requiredKeys(yaml.text, path: "/represent").isSubset(of: try represent.json().keys))
            let verify = try await server.post("/verify", ["img1": try base64(TestImages.crop), "img2": try base64(TestImages.crop),
                                                           "detector_backend": "skip"])
            XCTAssertEqual(try verify.json()["distance"] as? Double, 0)
            XCTAssertTrue(try requiredKeys(yaml.text, path: "/verify").isSubset(of: try verify.json().keys))
            let detect = try await server.post("/detect", ["img": try base64(TestImages.photoA)])
            XCTAssertEqual(detect.status, 200, detect.text)
            XCTAssertTrue(try requiredKeys(yaml.text, path: "/detect").isSubset(of: try detect.json().keys))
            XCTAssertGreaterThan((try detect.json()["faces"] as? [Any])?.count ?? 0, 0)

            let metrics = try await server.get("/metrics")
            XCTAssertEqual(metrics.status, 200)
            for name in ["facenet_http_requests_total", "facenet_http_request_duration_seconds_bucket", "facenet_batch_size_bucket",
                         "facenet_inference_duration_seconds_count", "facenet_queue_depth", "facenet_requests_in_flight"] {
                XCTAssertTrue(metrics.text.contains(name), "\(name) missing from /metrics:\n\(metrics.text)")
            }
            XCTAssertTrue(metrics.text.contains("route=\"/represent\""), metrics.text)
        }
    }
}

/// (method, path) pairs of the document's `paths:` section.
func documented(_ yaml: String) -> Set<String> {
    var found: Set<String> = [], path = ""
    var inPaths = false
    for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
        if !line.hasPrefix(" ") { inPaths = line == "paths:" }
        guard inPaths else { continue }
        if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
            path = String(line.dropFirst(2).dropLast())
        } else if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"), !path.isEmpty {
            found.insert(line.trimmingCharacters(in: .whitespaces).dropLast().uppercased() + " " + path)
        }
    }
    return found
}

/// The `required` keys of the first schema under `path`'s "200" or "201" answer.
func requiredKeys(_ yaml: String, path: String) throws -> Set<String> {
    let block = try XCTUnwrap(yaml.components(separatedBy: "\n  \(path):\n").dropFirst().first, "no \(path) in the document")
    let answer = try XCTUnwrap(block.range(of: "\"20"), "no 2xx answer for \(path)")
    let required = try XCTUnwrap(block[answer.upperBound...].range(of: "required: ["))
    let list = block[required.upperBound...].prefix { $0 != "]" }
    return Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
}
