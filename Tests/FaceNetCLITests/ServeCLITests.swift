import Foundation
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `facenet serve` as a process: it starts, answers, and on SIGTERM finishes the request in
/// flight and exits 0 within 10 s.
final class ServeCLITests: CLITestCase {
    /// The directory holding the real CASIA weights: the clone's `Weights/`, else `../shared/models`.
    private func weightsDirectory() throws -> String {
        for directory in [CLIPaths.package("Weights"), CLIPaths.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/models").path]
        where FileManager.default.fileExists(atPath: directory + "/facenet512_casia.h5") {
            return directory
        }
        throw XCTSkip("the facenet512-casia weights are absent (Weights/ and ../shared/models)")
    }

    func testSIGTERMFinishesTheRequestInFlightAndExitsZero() async throws {
        if !galleryBuilt { throw XCTSkip("facenet is built without the server here (FACENET_ENGINE_ONLY=1, the sanitizer runs)") }
        let weights = try weightsDirectory()
        let process = Process()
        process.executableURL = try FacenetBinary.url()
        process.arguments = ["serve", "--port", "0", "--model", "facenet512-casia"]
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = scratch.appendingPathComponent("home").path
        environment["FACENET_CACHE_DIR"] = scratch.appendingPathComponent("cache").path
        environment["FACENET_WEIGHTS_DIR"] = weights
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        // The port, from "listening on http://127.0.0.1:PORT".
        var stderr = ""
        let started = Date()
        while !stderr.contains("listening on"), Date().timeIntervalSince(started) < 60, process.isRunning {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            stderr += String(decoding: chunk, as: UTF8.self)
        }
        let line = try XCTUnwrap(stderr.split(separator: "\n").first { $0.contains("listening on") }, stderr)
        let port = try XCTUnwrap(line.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) }, String(line))
        let base = "http://127.0.0.1:\(port)"
        // Keep reading what it prints, so a full pipe never blocks it.
        let reader = errors.fileHandleForReading
        Thread.detachNewThread { while !reader.availableData.isEmpty {} }

        let (_, health) = try await load(URLRequest(url: try XCTUnwrap(URL(string: base + "/health"))))
        XCTAssertEqual(health, 200)

        // A photo through MTCNN and the network, then SIGTERM while it is in flight.
        var request = URLRequest(url: try XCTUnwrap(URL(string: base + "/represent")))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let photo = try Data(contentsOf: URL(fileURLWithPath: CLIPaths.package("Docs/samples/img6.jpg")))
        request.httpBody = try JSONSerialization.data(withJSONObject: ["img": photo.base64EncodedString()])
        let represent = request
        let inFlight = Task.detached { try await load(represent) }
        try await Task.sleep(for: .milliseconds(30))
        let signalled = Date()
        kill(process.processIdentifier, SIGTERM)
        let (body, status) = try await inFlight.value
        XCTAssertEqual(status, 200, String(decoding: body, as: UTF8.self))
        let results = (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["results"] as? [[String: Any]]
        XCTAssertEqual((results?.first?["embedding"] as? [Any])?.count, 512)
        while process.isRunning, Date().timeIntervalSince(signalled) < 10 { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertFalse(process.isRunning, "still running 10 s after SIGTERM")
        XCTAssertLessThan(Date().timeIntervalSince(signalled), 10)
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0, stderr)
    }
}

/// The body and status of `request` (URLSession's completion handler: its async API is
/// not in every Foundation on Linux).
private func load(_ request: URLRequest) async throws -> (Data, Int) {
    try await withCheckedThrowingContinuation { continuation in
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { return continuation.resume(throwing: error) }
            continuation.resume(returning: (data ?? Data(), (response as? HTTPURLResponse)?.statusCode ?? 0))
        }.resume()
    }
}
