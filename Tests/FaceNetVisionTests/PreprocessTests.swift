import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// Preprocessing against OpenCV / Pillow / NumPy references made by
/// `Scripts/make_preprocess_fixtures.py` (Fixtures/preprocess, and random sizes in
/// Fixtures/preprocess/stress), plus geometry and bad input.
final class PreprocessTests: XCTestCase {
    // MARK: fixtures

    struct FixtureImage: Decodable { let file: String; let width: Int; let height: Int }
    struct FixtureCase: Decodable {
        let name, kind, image, crop, filter, file: String
        let letterbox: Bool
        let width, height: Int
        let color, normalization: String?
    }
    struct Manifest: Decodable {
        let images: [String: FixtureImage]
        let cases: [FixtureCase]
        let versions: [String: String]
    }

    /// Where the cases come from: the committed fixtures, or a stress dump.
    private var directory = Paths.fixture("preprocess")

    private func loadManifest() throws -> Manifest {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    private func bytes(_ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
    }

    private func floats(_ file: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    private func image(_ name: String, _ m: Manifest) throws -> RGBImage {
        let entry = try XCTUnwrap(m.images[name], "no fixture image \(name)")
        return try RGBImage(width: entry.width, height: entry.height, pixels: try bytes(entry.file))
    }

    private func options(_ c: FixtureCase) throws -> PreprocessOptions {
        PreprocessOptions(resize: try XCTUnwrap(PreprocessOptions.Resize(rawValue: c.filter)),
                          crop: try XCTUnwrap(PreprocessOptions.Crop(rawValue: c.crop)),
                          letterbox: c.letterbox,
                          color: try XCTUnwrap(PreprocessOptions.ColorOrder(rawValue: c.color ?? "rgb")),
                          normalization: try XCTUnwrap(PreprocessOptions.Normalization(rawValue: c.normalization ?? "fixed")),
                          size: c.width)
    }

    /// The 8-bit output of a resampling case, through the public API a user would call.
    private func resampled(_ c: FixtureCase, _ m: Manifest) throws -> [UInt8] {
        var img = try image(c.image, m)
        if c.width == c.height {
            // The preprocessing path (crop as a window, no copy).
            let viaPreprocessor = try Preprocessor.resampled(img, options: try options(c), minimumSide: 1)
            // The standalone building blocks give the same bytes.
            if c.crop == "center" { img = try CenterCrop.apply(img) }
            let filter = try XCTUnwrap(PreprocessOptions.Resize(rawValue: c.filter))
            let standalone = c.letterbox ? try Letterbox.apply(img, size: c.width, filter: filter)
                                         : try img.resized(width: c.width, height: c.height, filter: filter)
            XCTAssertEqual(standalone.pixels, viaPreprocessor.pixels, "\(c.name): building blocks ≠ Preprocessor")
            return viaPreprocessor.pixels
        }
        XCTAssertEqual(c.crop, "none")
        XCTAssertFalse(c.letterbox)
        let filter = try XCTUnwrap(PreprocessOptions.Resize(rawValue: c.filter))
        return try img.resized(width: c.width, height: c.height, filter: filter).pixels
    }

    /// Runs the resampling cases `select` picks; all must be byte-exact. Returns
    /// (cases, max abs diff, differing bytes) and prints them.
    @discardableResult
    private func checkResample(_ label: String, _ select: (FixtureCase) -> Bool) throws -> (Int, Int, Int) {
        let m = try loadManifest()
        var cases = 0, worst = 0, differing = 0
        for c in m.cases where c.kind == "resample" && select(c) {
            let expected = try bytes(c.file)
            let got = try resampled(c, m)
            XCTAssertEqual(got.count, expected.count, c.name)
            let diffs = zip(got, expected).map { abs(Int($0) - Int($1)) }
            let bad = diffs.filter { $0 != 0 }.count
            XCTAssertEqual(bad, 0, "\(c.name): \(bad) bytes differ, max \(diffs.max() ?? 0)")
            worst = max(worst, diffs.max() ?? 0)
            differing += bad
            cases += 1
        }
        XCTAssertGreaterThan(cases, 0, "no fixture cases for \(label)")
        print("preprocess \(label): \(cases) cases, max abs diff \(worst), differing bytes \(differing)")
        return (cases, worst, differing)
    }

    // MARK: resizers vs OpenCV / Pillow

    func testOpenCVLinearMatchesOpenCV() throws {
        try checkResample("cv2 INTER_LINEAR") { $0.filter == "bilinear" && $0.crop == "none" && !$0.letterbox }
    }

    func testPillowBilinearMatchesPillow() throws {
        try checkResample("Pillow BILINEAR") { $0.filter == "bilinear-aa" && $0.crop == "none" && !$0.letterbox }
    }

    func testOpenCVAreaMatchesOpenCV() throws {
        try checkResample("cv2 INTER_AREA") { $0.filter == "area" && $0.crop == "none" && !$0.letterbox }
    }

    func testCenterCropThenResizeMatches() throws {
        try checkResample("centre crop + resize") { $0.crop == "center" }
    }

    func testLetterboxMatchesDeepfaceGeometry() throws {
        try checkResample("deepface letterbox") { $0.letterbox }
    }

    /// Random sizes (`make_preprocess_fixtures.py --stress 120 --max-side 36`, committed in
    /// Fixtures/preprocess/stress): 1-pixel images and targets, extreme aspect ratios, one
    /// axis enlarged while the other shrinks, letterboxes of odd shapes, OpenCV's integer
    /// factors at random sizes — none of which the fixed cases above reach. A bigger dump:
    /// PREPROCESS_STRESS_DIR=DIR (from `--stress N --out DIR`) is checked instead.
    func testRandomStressCases() throws {
        let custom = ProcessInfo.processInfo.environment["PREPROCESS_STRESS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        directory = custom ?? Paths.fixture("preprocess/stress")
        let m = try loadManifest()
        if custom == nil {
            // The committed set must keep its edge cases (a regenerated smaller set would not).
            XCTAssertGreaterThanOrEqual(m.cases.count, 100, "stress fixture shrank")
            XCTAssertTrue(m.images.values.contains { min($0.width, $0.height) == 1 }, "no 1-pixel-wide stress image")
            XCTAssertTrue(m.cases.contains { min($0.width, $0.height) == 1 }, "no 1-pixel stress target")
            XCTAssertTrue(m.cases.contains { $0.letterbox && $0.crop == "none" }, "no letterbox of a non-square stress image")
        }
        for filter in PreprocessOptions.Resize.allCases {
            try checkResample("stress \(filter.rawValue)") { $0.filter == filter.rawValue }
        }
    }

    // MARK: normalisations vs deepface / Sandberg

    func testEveryNormalizationMatchesReference() throws {
        let m = try loadManifest()
        var worst: [String: Float] = [:]
        var count = 0
        for c in m.cases where c.kind == "prepare" {
            let expected = try floats(c.file)
            let got = try Preprocessor.prepare(try image(c.image, m), options: try options(c), minimumSide: 1)
            XCTAssertEqual(got.count, expected.count, c.name)
            let err = maxAbsDifference(got, expected)
            // Facenet's mean/std: Double here, NumPy's float32 pairwise sums there.
            let limit: Float = c.normalization == "Facenet" ? 2e-6 : 1e-6
            XCTAssertLessThanOrEqual(err, limit, c.name)
            let key = "\(c.normalization ?? "?")/\(c.color ?? "?")"
            worst[key] = max(worst[key] ?? 0, err)
            count += 1
        }
        XCTAssertGreaterThanOrEqual(Set(m.cases.compactMap(\.normalization)).count,
                                    PreprocessOptions.Normalization.allCases.count, "a normalisation has no fixture")
        for key in worst.keys.sorted() { print("preprocess normalization \(key): max abs diff \(worst[key] ?? 0)") }
        print("preprocess normalizations: \(count) cases; oracles \(m.versions)")
    }

    /// BGR is RGB reversed per pixel; the VGGFace means follow the colour, not the slot.
    func testColorOrderReversesChannelsAndKeepsColourMeans() throws {
        let m = try loadManifest()
        let img = try image("mix97x131", m)
        for mode in PreprocessOptions.Normalization.allCases {
            var o = PreprocessOptions(resize: .bilinear, crop: .none, letterbox: true, color: .rgb, normalization: mode, size: 20)
            let rgb = try Preprocessor.prepare(img, options: o)
            o.color = .bgr
            let bgr = try Preprocessor.prepare(img, options: o)
            for i in stride(from: 0, to: rgb.count, by: 3) {
                XCTAssertEqual(bgr[i], rgb[i + 2], "\(mode)")
                XCTAssertEqual(bgr[i + 1], rgb[i + 1], "\(mode)")
                XCTAssertEqual(bgr[i + 2], rgb[i], "\(mode)")
            }
        }
        // A black pixel (the letterbox bars) under VGGFace is minus the mean of each colour.
        let o = PreprocessOptions(resize: .bilinear, crop: .none, letterbox: true, color: .bgr, normalization: .vggFace, size: 20)
        let out = try Preprocessor.prepare(try RGBImage(width: 40, height: 10, pixels: [UInt8](repeating: 0, count: 1200)), options: o)
        XCTAssertEqual(Array(out[0..<3]), [-93.5940, -104.7624, -129.1863])
    }

    func testConstantImageNormalizations() throws {
        let img = try RGBImage(width: 16, height: 16, pixels: [UInt8](repeating: 77, count: 16 * 16 * 3))
        for filter in PreprocessOptions.Resize.allCases {
            let o = PreprocessOptions(resize: filter, crop: .center, letterbox: false, color: .rgb, normalization: .raw, size: 23)
            XCTAssertTrue(try Preprocessor.prepare(img, options: o).allSatisfy { $0 == 77 }, "\(filter) keeps a flat image flat")
        }
        for mode in [PreprocessOptions.Normalization.prewhiten, .facenet] {
            let o = PreprocessOptions(resize: .bilinear, crop: .none, letterbox: false, color: .rgb, normalization: mode, size: 16)
            XCTAssertTrue(try Preprocessor.prepare(img, options: o).allSatisfy { $0 == 0 }, "\(mode) of a flat image is 0")
        }
    }

    // MARK: geometry

    func testCenterCropOffsets() throws {
        XCTAssertTrue(CenterCrop.square(width: 200, height: 150) == (25, 0, 150))
        XCTAssertTrue(CenterCrop.square(width: 97, height: 131) == (0, 17, 97))
        XCTAssertTrue(CenterCrop.square(width: 1382, height: 1868) == (0, 243, 1382))
        XCTAssertTrue(CenterCrop.square(width: 4, height: 7) == (0, 1, 4))  // odd excess: extra row at the bottom
        let img = try RGBImage(width: 3, height: 2, pixels: Array(0..<18))
        XCTAssertEqual(try CenterCrop.apply(img).pixels, [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14])
        let square = try RGBImage(width: 2, height: 2, pixels: Array(0..<12))
        XCTAssertEqual(try CenterCrop.apply(square), square)
    }

    func testLetterboxGeometryIsDeepfaces() {
        // Values from deepface's formula in Python.
        XCTAssertTrue(Letterbox.geometry(width: 200, height: 150, size: 160) == (160, 120, 20, 0))
        XCTAssertTrue(Letterbox.geometry(width: 37, height: 23, size: 160) == (160, 99, 30, 0))
        XCTAssertTrue(Letterbox.geometry(width: 97, height: 131, size: 160) == (118, 160, 0, 21))
        XCTAssertTrue(Letterbox.geometry(width: 60, height: 200, size: 160) == (48, 160, 0, 56))
        XCTAssertTrue(Letterbox.geometry(width: 161, height: 160, size: 160) == (160, 159, 0, 0))
        // deepface would ask OpenCV for a 0-pixel side here; we keep 1.
        XCTAssertTrue(Letterbox.geometry(width: 1000, height: 3, size: 160) == (160, 1, 79, 0))
    }

    func testSameSizeResizeIsACopy() throws {
        let m = try loadManifest()
        let img = try image("rand37x23", m)
        for filter in PreprocessOptions.Resize.allCases {
            XCTAssertEqual(try img.resized(width: 37, height: 23, filter: filter), img, "\(filter)")
        }
    }

    // MARK: bad input and batches

    func testTinyImageIsAClearError() throws {
        let one = try RGBImage(width: 1, height: 1, pixels: [10, 20, 30])
        XCTAssertThrowsError(try Preprocessor.prepare(one, options: PreprocessOptions())) { error in
            guard case FaceNetError.invalidArgument(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("1×1") && message.contains("too small") && message.contains("8 px"), message)
        }
        let thin = try RGBImage(width: 100, height: 7, pixels: [UInt8](repeating: 1, count: 2100))
        XCTAssertThrowsError(try Preprocessor.prepare(thin, options: PreprocessOptions()))
        // The minimum is settable; then a 1×1 image has a defined result.
        let out = try Preprocessor.prepare(one, options: PreprocessOptions(normalization: .raw, size: 4), minimumSide: 1)
        XCTAssertEqual(out, (0..<16).flatMap { _ in [10, 20, 30] as [Float] })
        XCTAssertThrowsError(try Preprocessor.prepare(one, options: PreprocessOptions(), minimumSide: 0))
    }

    func testInvalidSizesAreErrors() throws {
        let img = try RGBImage(width: 10, height: 10, pixels: [UInt8](repeating: 0, count: 300))
        XCTAssertThrowsError(try Preprocessor.prepare(img, options: PreprocessOptions(size: 0)))
        XCTAssertThrowsError(try Preprocessor.prepare(img, options: PreprocessOptions(size: -3)))
        for filter in PreprocessOptions.Resize.allCases {
            XCTAssertThrowsError(try img.resized(width: 0, height: 5, filter: filter))
            XCTAssertThrowsError(try img.resized(width: 5, height: 1 << 20, filter: filter))
        }
        XCTAssertThrowsError(try Letterbox.apply(img, size: 0, filter: .bilinear))
    }

    func testBatchIsNHWCOfSingleResults() throws {
        let m = try loadManifest()
        let a = try image("grad200x150", m), b = try image("mix97x131", m)
        let o = PreprocessOptions(resize: .bilinearAA, crop: .center, letterbox: false, color: .rgb, normalization: .prewhiten, size: 32)
        let batch = try Preprocessor.prepareBatch([a, b], options: o)
        XCTAssertEqual(batch.shape, [2, 32, 32, 3])
        XCTAssertEqual(Array(batch.scalars[0..<3072]), try Preprocessor.prepare(a, options: o))
        XCTAssertEqual(Array(batch.scalars[3072...]), try Preprocessor.prepare(b, options: o))
        XCTAssertThrowsError(try Preprocessor.prepareBatch([], options: o))
        let tiny = try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 0, count: 12))
        XCTAssertThrowsError(try Preprocessor.prepareBatch([a, tiny], options: o)) { error in
            XCTAssertTrue(String(describing: error).contains("image 2 of 2"), "\(error)")
        }
    }
}
