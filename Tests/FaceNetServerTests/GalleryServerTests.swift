import FaceNetGallery
import FaceNetKit
import FaceNetTestSupport
import Foundation
import XCTest

@testable import FaceNetServer

/// `/register`, `/search`, `/find` and `DELETE /identities/{name}` on an SQLite gallery.
final class GalleryServerTests: XCTestCase {
    func testRegisterSearchAndRemove() async throws {
        let facenet = try ServedModel.facenet()
        let model = try GalleryModel(facenet: facenet, model: "facenet512-casia")
        let gallery = try await FaceGallery.create(try temporaryDirectory().appendingPathComponent("g.sqlite").path, model: model)
        let server = try FaceServer(facenet: facenet, modelName: "facenet512-casia",
                                    gallery: ServedGallery(gallery: gallery, model: model), options: testOptions())
        let query = try await facenet.embedFaces(file: TestImages.path(TestImages.photoB), l2Normalize: true)[0].embedding
        try await withServer(server) { server in
            let registered = try await server.post("/register", ["img": try base64(TestImages.photoA), "identity": "alice"])
            XCTAssertEqual(registered.status, 201, registered.text)
            XCTAssertEqual(try registered.json()["identity"] as? String, "alice")
            XCTAssertEqual((try registered.json()["face_ids"] as? [Int])?.count, 1)
            let other = try await server.post("/register", ["img": try base64("Docs/samples/img16.jpg"), "identity": "bob"])
            XCTAssertEqual(other.status, 201, other.text)

            let byPhoto = try await server.post("/search", ["img": try base64(TestImages.photoB), "k": 2])
            XCTAssertEqual(byPhoto.status, 200, byPhoto.text)
            let faces = try XCTUnwrap(try byPhoto.json()["faces"] as? [[String: Any]])
            let matches = try XCTUnwrap(faces.first?["matches"] as? [[String: Any]])
            let best = try XCTUnwrap(matches.first { $0["identity"] as? String == "alice" }, "\(matches)")
            XCTAssertEqual(best["verified"] as? Bool, true)
            XCTAssertEqual(Set(best.keys), ["identity", "file", "distance", "threshold", "verified", "box", "face_id"])

            let byEmbedding = try await server.post("/find", ["embedding": query.map(Double.init), "k": 1])
            XCTAssertEqual(byEmbedding.status, 200, byEmbedding.text)
            let match = try XCTUnwrap((try byEmbedding.json()["matches"] as? [[String: Any]])?.first)
            XCTAssertEqual(match["identity"] as? String, "alice")
            XCTAssertEqual(try XCTUnwrap(match["distance"] as? Double), try XCTUnwrap(best["distance"] as? Double), accuracy: 1e-5)

            let wrongSize = try await server.post("/search", ["embedding": [0.5, 0.5]])
            XCTAssertEqual(wrongSize.status, 400, wrongSize.text)
            let removed = try await server.send(.DELETE, "/identities/alice")
            XCTAssertEqual(removed.status, 200, removed.text)
            XCTAssertEqual(try removed.json()["removed"] as? Int, 1)
            let again = try await server.send(.DELETE, "/identities/alice")
            XCTAssertEqual(again.status, 404, again.text)
            XCTAssertEqual(again.errorCode, "unknown_identity")
        }
        try await gallery.close()
    }
}
