import FaceNetKit
import FaceNetTestSupport
import Foundation
import XCTest

@testable import FaceNetServer

/// The crops the tests send: the fixture crop and image variants of it, each a different input.
private let crops = ["Tests/Fixtures/images/face.png", "Tests/Fixtures/images/face.webp",
                     "Tests/Fixtures/images/png_rgb8.png", "Tests/Fixtures/images/jpeg_baseline_444.jpg"]

/// Concurrent requests share forward passes, and a face's embedding does not depend on the
/// batch it rode in: bit for bit (Docs/serving.md).
final class BatchingTests: XCTestCase {
    func testTheEngineGivesEachRowTheSameBitsWhateverTheBatch() throws {
        let facenet = try ServedModel.skipFacenet()
        let inputs = try crops.map { try facenet.prepare(file: TestImages.path($0)) }
        let size = facenet.preprocessing.size
        let alone = try inputs.map { try facenet.embed(prepared: Tensor(shape: [1, size, size, 3], scalars: $0))[0] }
        // Batches of 2..8: the crops repeated in a rotating order.
        for batch in 2...8 {
            let order = (0..<batch).map { ($0 * 3 + batch) % inputs.count }
            let rows = try facenet.embed(prepared: Tensor(shape: [batch, size, size, 3], scalars: order.flatMap { inputs[$0] }),
                                         batchSize: 8)
            for (row, index) in zip(rows, order) {
                XCTAssertEqual(row, alone[index], "batch \(batch): row of \(crops[index]) differs from batch 1")
            }
        }
    }

    func testConcurrentRequestsShareBatchesAndGetTheirOwnEmbeddings() async throws {
        let skip = try ServedModel.skipFacenet()
        let expected = try crops.map { try skip.embed(file: TestImages.path($0)) }
        let server = try FaceServer(facenet: try ServedModel.facenet(), modelName: "facenet512-casia",
                                    options: testOptions { $0.maxDelay = .milliseconds(50) })
        let bodies = try crops.map { try JSONSerialization.data(withJSONObject: ["img": try base64($0), "detector_backend": "skip"]) }
        try await withServer(server) { server in
            for _ in 0..<2 {
                let answers = try await withThrowingTaskGroup(of: (Int, Answer).self) { group in
                    for n in 0..<8 { group.addTask { (n % 4, try await server.send(.POST, "/represent", body: bodies[n % 4])) } }
                    return try await group.reduce(into: [(Int, Answer)]()) { $0.append($1) }
                }
                for (index, answer) in answers {
                    XCTAssertEqual(answer.status, 200, answer.text)
                    XCTAssertEqual(try embeddings(answer), [expected[index]], "\(crops[index]): not the library's batch-1 bits")
                }
            }
            let metrics = try await server.get("/metrics")
            XCTAssertEqual(metrics.status, 200)
            let batches = try XCTUnwrap(metricValue(metrics.text, "facenet_batch_size_count"), metrics.text)
            let faces = try XCTUnwrap(metricValue(metrics.text, "facenet_batch_size_sum"))
            XCTAssertEqual(faces, 16)
            XCTAssertLessThan(batches, 16, "some batch held more than one face: \(metrics.text)")
        }
    }
}

/// The value of an unlabelled sample in Prometheus text.
func metricValue(_ text: String, _ name: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
        return Double(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces))
    }
    return nil
}
