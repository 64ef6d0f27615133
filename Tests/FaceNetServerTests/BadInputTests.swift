import FaceNetKit
import FaceNetTestSupport
import Foundation
import XCTest

@testable import FaceNetServer

/// Each bad request gets a clear JSON answer with a 4xx (or 503) status, and the server
/// answers a good request right after it.
final class BadInputTests: XCTestCase {
    private func server(_ edit: (inout ServerOptions) -> Void = { _ in }) throws -> FaceServer {
        try FaceServer(facenet: try ServedModel.facenet(), modelName: "facenet512-casia", options: testOptions(edit))
    }

    func testBadImagesAndFields() async throws {
        try await withServer(try server()) { server in
            func upload(_ fixture: String, detector: String = "mtcnn") async throws -> Answer {
                let form = multipart(fields: [("detector_backend", detector)],
                                     files: [("img", (fixture as NSString).lastPathComponent, try TestImages.data(fixture))])
                return try await server.send(.POST, "/represent", body: form.body, contentType: form.contentType)
            }
            assertError(try await upload("Tests/Fixtures/images/truncated.png"), 400, "invalid_image")
            try await assertStillServes(server)
            assertError(try await upload("Tests/Fixtures/images/text.jpg"), 400, "invalid_image")
            try await assertStillServes(server)
            let tiny = try await upload("Tests/Fixtures/images/png_1x1.png")
            XCTAssertEqual(tiny.status, 400, tiny.text)
            try await assertStillServes(server)
            assertError(try await upload("Tests/Fixtures/images/bomb_60000x60000.png"), 400, "image_too_large")
            try await assertStillServes(server)

            assertError(try await server.send(.POST, "/represent", body: Data("{\"img\": ".utf8)), 400, "invalid_json")
            try await assertStillServes(server)
            assertError(try await server.send(.POST, "/represent", body: Data("[1, 2]".utf8)), 400, "invalid_json")
            assertError(try await server.post("/represent", ["img": 42]), 400, "invalid_field")
            assertError(try await server.post("/represent", ["img": try base64(TestImages.crop), "align": "maybe"]), 400, "invalid_field")
            assertError(try await server.post("/represent", ["img": try base64(TestImages.crop), "enforce_detection": 1]), 400,
                        "invalid_field")
            assertError(try await server.post("/represent", ["img": try base64(TestImages.crop), "max_faces": "two"]), 400,
                        "invalid_field")
            assertError(try await server.post("/represent", [:]), 400, "missing_field")
            try await assertStillServes(server)
            assertError(try await server.post("/represent", ["img": try base64(TestImages.crop), "model_name": "VGG-Face"]), 400,
                        "unknown_model")
            assertError(try await server.post("/verify", ["img1": try base64(TestImages.crop), "img2": try base64(TestImages.crop),
                                                          "distance_metric": "manhattan"]), 400, "invalid_field")
            try await assertStillServes(server)

            for refused in ["/etc/passwd", "../shared/faces/photos/img1.jpg", "img1.jpg", "C:\\faces\\a.png",
                            "http://169.254.169.254/latest/meta-data/", "https://example.com/a.jpg", "file:///etc/passwd"] {
                let answer = try await server.post("/represent", ["img": refused])
                assertError(answer, 400, "image_refused")
                XCTAssertTrue(answer.text.contains("URL") || answer.text.contains("files are not read"), answer.text)
            }
            try await assertStillServes(server)
            assertError(try await server.get("/nowhere"), 404, "not_found")
        }
    }

    func testOverLimitBodyAndSlowClient() async throws {
        try await withServer(try server {
            $0.maxBodyBytes = 1 << 20
            $0.requestTimeout = .seconds(1)
        }) { server in
            // Content-Length over the limit: 413 at once.
            let big = try await server.send(.POST, "/represent", body: Data(repeating: 0x20, count: 2 << 20))
            assertError(big, 413, "body_too_large")
            try await assertStillServes(server)

            // A client still sending 50 MB reads the 413 after its first 64 KB.
            let head = "POST /represent HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 52428800\r\n\r\n"
            let early = try await RawSocket.exchange(port: server.port, sending: Data(head.utf8) + Data(repeating: 0x20, count: 65_536),
                                                     timeout: 5)
            XCTAssertTrue(early.hasPrefix("HTTP/1.1 413"), early)
            XCTAssertTrue(early.contains("body_too_large"), early)
            try await assertStillServes(server)

            // A body that never finishes: 408 once the request's time is up.
            let slowHead = "POST /represent HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            let started = Date()
            let slow = try await RawSocket.exchange(port: server.port, sending: Data((slowHead + "{\"img\": \"").utf8), timeout: 10)
            XCTAssertTrue(slow.hasPrefix("HTTP/1.1 408"), slow)
            XCTAssertTrue(slow.contains("\"timeout\""), slow)
            XCTAssertLessThan(Date().timeIntervalSince(started), 5)
            try await assertStillServes(server)
        }
    }

    func testAPIKey() async throws {
        let key = "k3y-\(UUID().uuidString)"
        try await withServer(try server { $0.apiKey = key }) { server in
            let health = try await server.get("/health")
            XCTAssertEqual(health.status, 200, "no key needed for /health")
            let missing = try await server.post("/represent", ["img": try base64(TestImages.crop), "detector_backend": "skip"])
            assertError(missing, 401, "unauthorized")
            XCTAssertEqual(missing.headers["www-authenticate"], "Bearer")
            assertError(try await server.get("/metrics"), 401, "unauthorized")
            let wrong = try await server.post("/represent", ["img": try base64(TestImages.crop), "detector_backend": "skip"],
                                              headers: [("Authorization", "Bearer not-\(key)")])
            assertError(wrong, 401, "unauthorized")
            try await assertStillServes(server, headers: [("Authorization", "Bearer \(key)")])
        }
    }

    func testHundredRequestsPastTheQueueLimit() async throws {
        try await withServer(try server { $0.queueLimit = 4 }) { server in
            let body = try JSONSerialization.data(withJSONObject: ["img": try base64(TestImages.crop), "detector_backend": "skip"])
            let answers = try await withThrowingTaskGroup(of: Answer.self) { group in
                for _ in 0..<100 { group.addTask { try await server.send(.POST, "/represent", body: body) } }
                return try await group.reduce(into: [Answer]()) { $0.append($1) }
            }
            let statuses = Dictionary(grouping: answers, by: \.status).mapValues(\.count)
            XCTAssertEqual(Set(statuses.keys).subtracting([200, 503]), [], "only answers or 503s: \(statuses)")
            XCTAssertGreaterThan(statuses[200] ?? 0, 0, "\(statuses)")
            XCTAssertGreaterThan(statuses[503] ?? 0, 0, "\(statuses)")
            for rejected in answers where rejected.status == 503 {
                assertError(rejected, 503, "overloaded")
                XCTAssertEqual(rejected.headers["retry-after"], "1")
            }
            try await assertStillServes(server)
        }
    }
}

/// A face crop through `/represent` without detection: must succeed.
func assertStillServes(_ server: ServerHarness, headers: [(String, String)] = [],
                       file: StaticString = #filePath, line: UInt = #line) async throws {
    let answer = try await server.post("/represent", ["img": try base64(TestImages.crop), "detector_backend": "skip"],
                                       headers: headers)
    XCTAssertEqual(answer.status, 200, "the good request after a bad one: \(answer.text.prefix(300))", file: file, line: line)
}

/// A JSON error answer with `status` and `error.code` `code`, naming no server path.
func assertError(_ answer: Answer, _ status: Int, _ code: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(answer.status, status, answer.text, file: file, line: line)
    XCTAssertEqual(answer.errorCode, code, answer.text, file: file, line: line)
    XCTAssertEqual(answer.headers["content-type"], "application/json", file: file, line: line)
    XCTAssertFalse(answer.text.contains(Paths.packageRoot.path), "no server path: \(answer.text)", file: file, line: line)
}
