import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// The MTCNN cascade checked stage by stage against the Python `mtcnn` package 1.0.0
/// (Fixtures/mtcnn_stages/stages.json, from Scripts/make_mtcnn_stage_fixtures.py): on each
/// photo the candidates after P-Net at every scale, after P-Net's cross-scale NMS, after
/// R-Net and after O-Net must be the package's, one for one. The photos were picked so that
/// each threshold, NMS limit and overlap mode decides at least one candidate (changing one
/// changes the candidates at the stage that owns it), while no decision is close enough to
/// its limit for engine-sized differences to flip it (the script checks both).
final class MTCNNStageTests: XCTestCase {
    static let mtcnnDirectory = Paths.packageRoot.appendingPathComponent("Weights/mtcnn").path

    /// Box corners, in pixels. Measured worst: P-Net 3.4e-4 px, R-Net 3.2e-4 px, O-Net
    /// 7.6e-4 px (float32 boxes here, float64 there; regression outputs ~1e-5 apart, scaled
    /// by boxes up to ~160 px). 0.01 px is 13× the worst yet below any real change: a P-Net
    /// cell step is ≥ 3 px in the image, and sizing the R-/O-Net regression without its +1
    /// pixel moves final corners by 0.05–0.3 px.
    static let boxTolerance: Float = 0.01
    /// O-Net landmarks (w·l + x1 − 1, w up to ~160 px): measured worst 2.3e-3 px.
    static let landmarkTolerance: Float = 0.02
    /// Face probabilities, per stage. Measured worst: P-Net 8.2e-5, R-Net 1.8e-5, O-Net
    /// 1.3e-5. P-Net's is mostly TensorFlow's: its AREA resize of these photos is up to 2.1e-5
    /// off the exact area mean (ours is within 2e-6), which alone moves its P-Net face
    /// probabilities (those over 0.5) by up to 1.1e-4.
    static let pnetScoreTolerance: Float = 5e-4
    static let rnetScoreTolerance: Float = 2e-4
    static let onetScoreTolerance: Float = 1e-4

    // MARK: Fixture

    struct Fixture: Decodable, Sendable {
        var settings: Settings
        var photos: [Photo]
    }

    /// The package's settings the fixtures were made with (its defaults).
    struct Settings: Decodable, Sendable {
        var minFaceSize: Double
        var scaleFactor: Double
        var thresholdPnet: Double
        var thresholdRnet: Double
        var thresholdOnet: Double
        var nmsPnet1: Double
        var nmsPnet2: Double
        var nmsRnet: Double
        var nmsOnet: Double
    }

    struct Photo: Decodable, Sendable {
        var name: String
        /// Relative to the package root.
        var path: String
        var width: Int
        var height: Int
        /// SHA-256 of Pillow's decoded RGB pixels: the input the package's stages saw.
        var pixelsSha256: String
        var pnetScales: [Level]
        /// Rows [x1, y1, x2, y2, score]; O-Net's add [x1…x5, y1…y5] of the landmarks.
        var pnet: [[Double]]
        var rnet: [[Double]]
        var onet: [[Double]]
    }

    struct Level: Decodable, Sendable {
        var scale: Double
        /// [width, height] P-Net scanned.
        var size: [Int]
        var boxes: [[Double]]
    }

    /// The fixture and our stages for each of its photos, computed once for all tests.
    struct Run: Sendable {
        var fixture: Fixture
        var ours: [String: MTCNNStages]
    }

    static let run = Result<Run, Error> {
        let data = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("mtcnn_stages/stages.json")))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let fixture = try decoder.decode(Fixture.self, from: data)
        let detector = try MTCNN(directory: MTCNNStageTests.mtcnnDirectory)
        var ours: [String: MTCNNStages] = [:]
        for photo in fixture.photos {
            let image = try ImageDecoder.decode(path: Paths.packageRoot.appendingPathComponent(photo.path).path)
            ours[photo.name] = try detector.stages(image)
        }
        return Run(fixture: fixture, ours: ours)
    }

    /// Each fixture photo with our stages for it.
    func photos() throws -> [(Photo, MTCNNStages)] {
        let run = try Self.run.get()
        XCTAssertGreaterThanOrEqual(run.fixture.photos.count, 8)
        return try run.fixture.photos.map { ($0, try XCTUnwrap(run.ours[$0.name], $0.name)) }
    }

    // MARK: Matching

    /// Worst differences over matched candidates, for the log.
    struct Worst {
        var box: Float = 0
        var score: Float = 0
        var landmark: Float = 0
    }

    /// Matches our candidates with the package's one for one: each of theirs (by falling
    /// score) takes the closest unmatched one of ours (largest corner difference), which must
    /// lie within `boxTolerance` with a score within `scoreTolerance` (so two near-equal
    /// scores listed in the other order still match). Fails naming `label`, with the
    /// candidates only one side has.
    func match(_ ours: [Candidate], _ theirs: [[Double]], _ label: String, scoreTolerance: Float, landmarks: Bool = false,
               worst: inout Worst, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.count, theirs.count, "\(label): candidate count", file: file, line: line)
        var unmatched = Array(ours.indices)
        var missing: [String] = []
        for row in theirs {
            guard row.count >= (landmarks ? 15 : 5) else {
                XCTFail("\(label): fixture row \(row) too short", file: file, line: line)
                return
            }
            let corners = row[0..<4].map(Float.init)
            let distance = { (c: Candidate) -> Float in
                zip([c.box.x1, c.box.y1, c.box.x2, c.box.y2], corners).map { abs($0 - $1) }.max() ?? .infinity
            }
            guard let best = unmatched.min(by: { distance(ours[$0]) < distance(ours[$1]) }),
                  distance(ours[best]) <= Self.boxTolerance else {
                missing.append(Self.describe(corners, Float(row[4])))
                continue
            }
            unmatched.removeAll { $0 == best }
            let c = ours[best]
            worst.box = max(worst.box, distance(c))
            let scoreDifference = abs(c.score - Float(row[4]))
            worst.score = max(worst.score, scoreDifference)
            XCTAssertLessThanOrEqual(scoreDifference, scoreTolerance,
                                     "\(label): score \(c.score) vs \(row[4]) for \(Self.describe(corners, c.score))",
                                     file: file, line: line)
            if landmarks {
                guard let points = c.landmarks?.points else {
                    XCTFail("\(label): no landmarks on \(Self.describe(corners, c.score))", file: file, line: line)
                    continue
                }
                // Fixture order: x of the five points, then y.
                let expected = (0..<5).map { FacePoint(x: Float(row[5 + $0]), y: Float(row[10 + $0])) }
                let difference = zip(points, expected).map { max(abs($0.x - $1.x), abs($0.y - $1.y)) }.max() ?? .infinity
                worst.landmark = max(worst.landmark, difference)
                XCTAssertLessThanOrEqual(difference, Self.landmarkTolerance, "\(label): landmarks of \(Self.describe(corners, c.score))",
                                         file: file, line: line)
            }
        }
        let extra = unmatched.map { Self.describe([ours[$0].box.x1, ours[$0].box.y1, ours[$0].box.x2, ours[$0].box.y2], ours[$0].score) }
        XCTAssertTrue(missing.isEmpty && extra.isEmpty,
                      "\(label): only the package has \(missing), only we have \(extra)", file: file, line: line)
    }

    static func describe(_ corners: [Float], _ score: Float) -> String {
        "[" + corners.map { String(format: "%.2f", $0) }.joined(separator: ", ") + String(format: "] %.5f", score)
    }

    // MARK: Tests

    /// `MTCNNOptions()` is the package's defaults, the settings the fixtures were made with.
    /// The photos alone do not pin every value: no O-Net score of theirs lies between 0.7
    /// and 0.8, so a default of 0.7 would pass every stage test.
    func testDefaultOptionsAreThePackageDefaults() throws {
        let settings = try Self.run.get().fixture.settings
        let options = MTCNNOptions()
        let ours = [options.minFaceSize, options.scaleFactor, options.pnetThreshold, options.rnetThreshold,
                    options.onetThreshold, options.pnetScaleNMS, options.pnetNMS, options.rnetNMS, options.onetNMS]
        let theirs = [settings.minFaceSize, settings.scaleFactor, settings.thresholdPnet, settings.thresholdRnet,
                      settings.thresholdOnet, settings.nmsPnet1, settings.nmsPnet2, settings.nmsRnet, settings.nmsOnet]
        XCTAssertEqual(ours, theirs.map { Float($0) })
    }

    /// The oracle ran on the pixels our decoder gives (else no stage could agree).
    func testPhotosDecodeToThePixelsThePackageSaw() throws {
        let run = try Self.run.get()
        for photo in run.fixture.photos {
            let image = try ImageDecoder.decode(path: Paths.packageRoot.appendingPathComponent(photo.path).path)
            XCTAssertEqual([image.width, image.height], [photo.width, photo.height], photo.name)
            XCTAssertEqual(sha256Hex(image.pixels), photo.pixelsSha256, "\(photo.name): pixels differ from Pillow's")
        }
    }

    /// P-Net at each scale: same pyramid, same cells over threshold_pnet, same per-scale NMS.
    func testPNetPerScaleMatchesPackage() throws {
        var worst = Worst()
        for (photo, ours) in try photos() {
            XCTAssertEqual(ours.levels.count, photo.pnetScales.count, "\(photo.name) P-Net: scale count")
            for (k, (level, theirs)) in zip(ours.levels, photo.pnetScales).enumerated() {
                let label = "\(photo.name) P-Net scale \(k) (\(theirs.scale))"
                XCTAssertEqual(Double(level.scale), theirs.scale, accuracy: 1e-6 * theirs.scale, label)
                XCTAssertEqual([level.width, level.height], theirs.size, "\(label): scaled size")
                match(level.candidates, theirs.boxes, label, scoreTolerance: Self.pnetScoreTolerance, worst: &worst)
            }
        }
        print("MTCNN stages, P-Net per scale: max box diff \(worst.box) px, score \(worst.score)")
    }

    /// P-Net after the cross-scale NMS (pnetNMS, union), squared.
    func testPNetMergedMatchesPackage() throws {
        var worst = Worst()
        for (photo, ours) in try photos() {
            match(ours.pnet, photo.pnet, "\(photo.name) P-Net merged", scoreTolerance: Self.pnetScoreTolerance, worst: &worst)
        }
        print("MTCNN stages, P-Net merged: max box diff \(worst.box) px, score \(worst.score)")
    }

    /// R-Net after rnetThreshold and its NMS (union), squared.
    func testRNetMatchesPackage() throws {
        var worst = Worst()
        for (photo, ours) in try photos() {
            match(ours.rnet, photo.rnet, "\(photo.name) R-Net", scoreTolerance: Self.rnetScoreTolerance, worst: &worst)
        }
        print("MTCNN stages, R-Net: max box diff \(worst.box) px, score \(worst.score)")
    }

    /// O-Net after onetThreshold and the final NMS (over the smaller box), with landmarks.
    func testONetMatchesPackage() throws {
        var worst = Worst()
        for (photo, ours) in try photos() {
            match(ours.onet, photo.onet, "\(photo.name) O-Net", scoreTolerance: Self.onetScoreTolerance, landmarks: true,
                  worst: &worst)
        }
        print("MTCNN stages, O-Net: max box diff \(worst.box) px, score \(worst.score), landmarks \(worst.landmark) px")
    }

    /// The stages are `detect`'s: its faces are O-Net's candidates clipped to the image.
    func testStagesEndInDetectResult() throws {
        let detector = try MTCNN(directory: Self.mtcnnDirectory)
        for (photo, ours) in try photos() {
            let image = try ImageDecoder.decode(path: Paths.packageRoot.appendingPathComponent(photo.path).path)
            let faces = try detector.detect(image)
            XCTAssertEqual(faces.count, ours.onet.count, photo.name)
            let (maxX, maxY) = (Float(image.width - 1), Float(image.height - 1))
            for c in ours.onet {
                let clipped = FaceBox(x1: min(max(c.box.x1, 0), maxX), y1: min(max(c.box.y1, 0), maxY),
                                      x2: min(max(c.box.x2, 0), maxX), y2: min(max(c.box.y2, 0), maxY))
                XCTAssertTrue(faces.contains { $0.box == clipped && $0.confidence == c.score && $0.landmarks == c.landmarks },
                              "\(photo.name): \(c.box)")
            }
        }
    }
}
