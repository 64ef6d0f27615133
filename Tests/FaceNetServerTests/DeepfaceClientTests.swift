import FaceNetKit
import FaceNetTestSupport
import Foundation
import XCTest

@testable import FaceNetServer

/// A client written for deepface's API: deepface's field names and answer keys, only the
/// base URL changed. The embeddings must be the library's for the same image.
final class DeepfaceClientTests: XCTestCase {
    func testRepresentWithDeepfaceFieldsGivesTheLibrarysEmbedding() async throws {
        let facenet = try ServedModel.facenet()
        let server = try FaceServer(facenet: facenet, modelName: "facenet512-casia", options: testOptions())
        let crop = try await ServedModel.skipFacenet().embed(file: TestImages.path(TestImages.crop))
        let photo = try await facenet.embedFaces(file: TestImages.path(TestImages.photoA))
        try await withServer(server) { server in
            // A face crop, no detection: deepface's detector_backend "skip".
            let skipped = try await server.post("/represent", ["img": "data:image/png;base64," + base64(TestImages.crop),
                                                               "model_name": "Facenet512", "detector_backend": "skip",
                                                               "enforce_detection": false, "align": false])
            XCTAssertEqual(skipped.status, 200, skipped.text)
            XCTAssertEqual(try embeddings(skipped), [crop], "bit for bit")
            let result = try XCTUnwrap((try skipped.json()["results"] as? [[String: Any]])?.first)
            let area = try XCTUnwrap(result["facial_area"] as? [String: Any])
            XCTAssertEqual(Set(area.keys), ["x", "y", "w", "h", "left_eye", "right_eye"])
            XCTAssertEqual(area["x"] as? Int, 0)
            XCTAssertEqual(result["face_confidence"] as? Int, 0)

            // A photo through MTCNN (the default detector), every face.
            let detected = try await server.post("/represent", ["img": base64(TestImages.photoA), "model_name": "Facenet512",
                                                                "detector_backend": "mtcnn", "align": "false"])
            XCTAssertEqual(detected.status, 200, detected.text)
            XCTAssertEqual(try embeddings(detected), photo.map(\.embedding), "bit for bit")
            let first = try XCTUnwrap((try detected.json()["results"] as? [[String: Any]])?.first)
            let box = try XCTUnwrap(photo.first?.face?.box.roundedXYWH)
            let detectedArea = try XCTUnwrap(first["facial_area"] as? [String: Any])
            XCTAssertEqual([detectedArea["x"], detectedArea["y"], detectedArea["w"], detectedArea["h"]].compactMap { $0 as? Int }, box)
            XCTAssertEqual((detectedArea["left_eye"] as? [Int])?.count, 2)
            XCTAssertGreaterThan(try XCTUnwrap(first["face_confidence"] as? Double), 0.9)
        }
    }

    func testVerifyWithDeepfaceFields() async throws {
        let facenet = try ServedModel.facenet()
        let server = try FaceServer(facenet: facenet, modelName: "facenet512-casia", options: testOptions())
        let expected = try await facenet.verify(TestImages.path(TestImages.photoA), TestImages.path(TestImages.photoB), metric: .cosine)
        try await withServer(server) { server in
            let answer = try await server.post("/verify", [
                "img1": base64(TestImages.photoA), "img2": "data:image/jpeg;base64," + base64(TestImages.photoB),
                "model_name": "Facenet512", "detector_backend": "mtcnn", "distance_metric": "cosine",
                "align": false, "enforce_detection": true,
            ])
            XCTAssertEqual(answer.status, 200, answer.text)
            let json = try answer.json()
            XCTAssertEqual(Set(json.keys), ["verified", "distance", "threshold", "model", "detector_backend", "similarity_metric",
                                            "facial_areas", "time"])
            XCTAssertEqual(json["verified"] as? Bool, expected.verified)
            XCTAssertEqual(try XCTUnwrap(json["distance"] as? Double), expected.distance, accuracy: 1e-12)
            XCTAssertEqual(try XCTUnwrap(json["threshold"] as? Double), expected.threshold, accuracy: 1e-12)
            XCTAssertEqual(json["model"] as? String, "Facenet512")
            XCTAssertEqual(json["detector_backend"] as? String, "mtcnn")
            XCTAssertEqual(json["similarity_metric"] as? String, "cosine")
            let areas = try XCTUnwrap(json["facial_areas"] as? [String: Any])
            XCTAssertNotNil(areas["img1"] as? [String: Any])
            XCTAssertNotNil(areas["img2"] as? [String: Any])

            // A form upload of the same two photos gives the same answer.
            let form = multipart(fields: [("distance_metric", "cosine"), ("enforce_detection", "true")],
                                 files: [("img1", "a.jpg", try TestImages.data(TestImages.photoA)),
                                         ("img2", "b.jpg", try TestImages.data(TestImages.photoB))])
            let uploaded = try await server.send(.POST, "/verify", body: form.body, contentType: form.contentType)
            XCTAssertEqual(uploaded.status, 200, uploaded.text)
            XCTAssertEqual(try uploaded.json()["distance"] as? Double, json["distance"] as? Double)
        }
    }
}
