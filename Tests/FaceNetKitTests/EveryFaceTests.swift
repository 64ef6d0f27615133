import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
import FaceNetTestSupport

/// Every face of a photo (`embedFaces`), the faces `verify` compared, and the opt-in
/// whole-image fallback, on the tiny FaceNet at 160×160 with the built-in MTCNN.
final class EveryFaceTests: XCTestCase {
    private let group = Paths.fixture("mtcnn_stages/group.jpg")  // four faces
    private let single = Paths.packageRoot.appendingPathComponent("Docs/samples/img5.jpg").path

    private func facenet(_ extraction: FaceExtraction) throws -> FaceNet {
        try FaceNet(model: try TinyFaceNetModel.load(size: 160), preprocessing: PreprocessOptions(), extraction: extraction)
    }

    /// Each face gets its own box (the detector's, largest first) and its own embedding,
    /// the one `faceIndex` would give; the first is what `embed(file:)` gives.
    func testEveryFaceOfAGroupPhotoHasItsOwnBoxAndEmbedding() throws {
        let extraction = try FaceExtraction.mtcnn()
        let facenet = try facenet(extraction)
        let faces = try facenet.embedFaces(file: group)
        let detected = try XCTUnwrap(extraction.detector).detect(try ImageDecoder.decode(path: group))
        XCTAssertEqual(faces.count, 4)
        XCTAssertEqual(faces.map(\.face), detected.map { Optional($0) })
        for i in faces.indices {
            for j in faces.indices where j > i {
                XCTAssertNotEqual(faces[i].face?.box, faces[j].face?.box)
                XCTAssertGreaterThan(try DistanceMetric.euclidean.distance(faces[i].embedding, faces[j].embedding), 1e-3,
                                     "faces \(i) and \(j) share an embedding")
            }
        }
        XCTAssertEqual(try facenet.embed(file: group), faces[0].embedding, "the largest face, as before")
        var third = extraction
        third.faceIndex = 2
        XCTAssertEqual(try self.facenet(third).embed(file: group), faces[2].embedding)
        XCTAssertEqual(try facenet.embedFaces(file: group, maxFaces: 2), Array(faces.prefix(2)))
        XCTAssertThrowsError(try facenet.embedFaces(file: group, maxFaces: 0))
    }

    /// `verify` names the faces it compared and how many each photo held.
    func testVerifyReportsTheFacesItCompared() throws {
        let extraction = try FaceExtraction.mtcnn()
        let facenet = try facenet(extraction)
        let detector = try XCTUnwrap(extraction.detector)
        let result = try facenet.verify(group, single, threshold: 1)
        XCTAssertEqual(result.facesFound, [4, 1])
        XCTAssertEqual(result.faces, [try detector.detect(try ImageDecoder.decode(path: group)).first,
                                      try detector.detect(try ImageDecoder.decode(path: single)).first])
        let skipped = try self.facenet(.skip).verify(group, single, threshold: 1)
        XCTAssertEqual(skipped.faces, [nil, nil])
        XCTAssertEqual(skipped.facesFound, [0, 0])
    }

    /// No face: an error by default; with `fallbackToWholeImage`, the whole image, embedded
    /// exactly as without a detector.
    func testWholeImageFallbackIsOptIn() throws {
        let blank = try temporaryDirectory().appendingPathComponent("blank.png").path
        try ImageEncoder.writePNG(try RGBImage(width: 96, height: 80, pixels: [UInt8](repeating: 128, count: 96 * 80 * 3)), to: blank)
        var extraction = try FaceExtraction.mtcnn()
        XCTAssertThrowsError(try facenet(extraction).embedFaces(file: blank)) { error in
            XCTAssertEqual(error as? FaceNetError, .noFaceFound(path: blank))
        }
        extraction.fallbackToWholeImage = true
        let fallback = try facenet(extraction)
        let whole = try facenet(.skip).embed(file: blank)
        XCTAssertEqual(try fallback.embedFaces(file: blank), [FaceEmbedding(face: nil, embedding: whole)])
        XCTAssertEqual(try fallback.embed(file: blank), whole)
        // A photo with faces is unaffected by the fallback.
        XCTAssertEqual(try fallback.embedFaces(file: group).count, 4)
    }
}
