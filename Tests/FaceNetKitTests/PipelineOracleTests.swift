import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// One photo file → decode → default preprocessing → the tiny FaceNet → embedding, through
/// `FaceNet` as `facenet embed --detector skip` runs it, against Pillow + tf_keras
/// (`Scripts/make_pipeline_fixture.py`, `Fixtures/pipeline/manifest.json`). Needs nothing
/// outside the package: the photos are `Docs/samples/img5.jpg` and a committed PNG crop.
final class PipelineOracleTests: XCTestCase {
    // Named as the fixture's JSON keys.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct ModelInfo: Decodable {
        let topology, weights, output: String
        let input_size: Int
    }
    struct Preprocessing: Decodable {
        let crop, resize, color, normalization, detector: String
        let letterbox: Bool
        let size: Int
    }
    // Named as the fixture's JSON keys.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct Case: Decodable {
        let file: String
        let width, height: Int
        let decoded_sha256, resized_sha256: String
        let input_sum: Double
        let embedding, embedding_l2: [Float]
    }
    struct Manifest: Decodable {
        let model: ModelInfo
        let preprocessing: Preprocessing
        let cases: [Case]
    }

    /// Relative tolerance: max |engine − Keras| / max(1, max |Keras|).
    static let tolerance: Float = 1e-5

    private func manifest() throws -> Manifest {
        let data = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("pipeline/manifest.json")))
        let m = try JSONDecoder().decode(Manifest.self, from: data)
        XCTAssertGreaterThanOrEqual(m.cases.count, 2, "pipeline manifest lists no photos")
        return m
    }

    private func path(_ c: Case) -> String { Paths.packageRoot.appendingPathComponent(c.file).path }

    /// The engine's defaults are what the fixture was made with; if they change, rerun
    /// `Scripts/make_pipeline_fixture.py` with the new ones.
    private func defaultOptions(_ m: Manifest) -> PreprocessOptions {
        let options = PreprocessOptions()
        let p = m.preprocessing
        XCTAssertEqual([options.crop.rawValue, options.resize.rawValue, options.color.rawValue, options.normalization.rawValue],
                       [p.crop, p.resize, p.color, p.normalization], "PreprocessOptions() is not what the fixture used")
        XCTAssertEqual(options.letterbox, p.letterbox)
        XCTAssertEqual(options.size, p.size)
        XCTAssertEqual(p.detector, "skip")
        return options
    }

    /// The tiny FaceNet at the preprocessing's square size: the committed topology takes
    /// 122×108, and every layer before the global average pool works at any size, so only
    /// the input layer changes (the script does the same in Keras). Layers stay in file order.
    private func tinyFaceNet(_ m: Manifest) throws -> FaceNet {
        let model = try TinyFaceNetModel.load(topology: m.model.topology, weights: m.model.weights, size: m.model.input_size)
        XCTAssertEqual(model.topology.outputNames, [m.model.output])
        return try FaceNet(model: model, preprocessing: defaultOptions(m), extraction: .skip)
    }

    /// max |got − expected| / max(1, max |expected|); ∞ when a value is NaN or ∞ or the
    /// lengths differ, so a NaN can never pass a `<=` tolerance check.
    static func relativeError(_ got: [Float], _ expected: [Float]) -> Float {
        guard got.count == expected.count, !got.isEmpty,
              (got + expected).allSatisfy(\.isFinite) else { return .infinity }
        let scale = max(1, expected.map(abs).max() ?? 0)
        return zip(got, expected).map { abs($0 - $1) }.max().map { $0 / scale } ?? .infinity
    }

    /// Decode and resize are exact (Pillow is the reference for both), so a model
    /// mismatch below is never a preprocessing one.
    func testDecodeAndPreprocessMatchPillowExactly() throws {
        let m = try manifest()
        let facenet = try tinyFaceNet(m)
        for c in m.cases {
            let image = try ImageDecoder.decode(path: path(c))
            XCTAssertEqual([image.width, image.height], [c.width, c.height], "\(c.file): decoded size")
            XCTAssertEqual(sha256Hex(image.pixels), c.decoded_sha256, "\(c.file): decoded pixels differ from Pillow's")
            let resized = try Preprocessor.resampled(image, options: facenet.preprocessing)
            XCTAssertEqual(sha256Hex(resized.pixels), c.resized_sha256,
                           "\(c.file): centre crop + Pillow bilinear to \(m.model.input_size) differs")
            let input = try facenet.prepare(file: path(c))
            XCTAssertEqual(input.count, m.model.input_size * m.model.input_size * 3, c.file)
            // (x − 127.5)/128 is exact in Float and the Double sum of k/256 values is exact.
            XCTAssertEqual(input.reduce(0) { $0 + Double($1) }, c.input_sum, "\(c.file): normalised input")
        }
    }

    func testEmbeddingsMatchKeras() throws {
        let m = try manifest()
        let facenet = try tinyFaceNet(m)
        var worst: Float = 0, worstL2: Float = 0
        for c in m.cases {
            let raw = try facenet.embed(file: path(c))
            let l2 = try facenet.embed(file: path(c), l2Normalize: true)
            let e = Self.relativeError(raw, c.embedding), e2 = Self.relativeError(l2, c.embedding_l2)
            XCTAssertLessThanOrEqual(e, Self.tolerance, "\(c.file): raw embedding vs Keras: \(raw)")
            XCTAssertLessThanOrEqual(e2, Self.tolerance, "\(c.file): l2-normalised embedding vs Keras: \(l2)")
            worst = max(worst, e)
            worstL2 = max(worstL2, e2)
        }
        // The batch path (all photos in one forward pass) gives the same embeddings.
        let batch = facenet.embed(files: m.cases.map(path), l2Normalize: true, batchSize: m.cases.count)
        for (c, result) in zip(m.cases, batch) {
            let row = try result.result.get()
            let e = Self.relativeError(row, c.embedding_l2)
            XCTAssertLessThanOrEqual(e, Self.tolerance, "\(c.file): batched embedding vs Keras: \(row)")
            worstL2 = max(worstL2, e)
        }
        print("pipeline vs Keras: \(m.cases.count) photos, max relative error raw \(worst), l2 \(worstL2)")
    }

    /// The check can fail: a 1e-4 relative drift is caught, and NaN, ∞ or a short
    /// embedding never counts as within tolerance.
    func testComparisonRejectsDriftAndNaN() throws {
        let c = try XCTUnwrap(try manifest().cases.first)
        XCTAssertEqual(Self.relativeError(c.embedding, c.embedding), 0)
        XCTAssertGreaterThan(Self.relativeError(c.embedding.map { $0 * (1 + 1e-4) }, c.embedding), Self.tolerance)
        for bad in [Float.nan, .infinity] {
            var broken = c.embedding
            broken[0] = bad
            XCTAssertFalse(Self.relativeError(broken, c.embedding) <= Self.tolerance, "\(bad) passed")
        }
        XCTAssertFalse(Self.relativeError(Array(c.embedding.dropLast()), c.embedding) <= Self.tolerance)
    }
}
