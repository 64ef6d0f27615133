import CImageCodecs
import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// WebP input (issue 16): lossy and lossless, with and without alpha, EXIF orientation,
/// found by content whatever the extension; typed errors naming the file for truncated,
/// corrupt, animated and oversized files; a real face found in a WebP as in the PNG of the
/// same pixels. Fixtures and references: `make_webps` in Scripts/make_image_fixtures.py
/// (Pillow, which decodes WebP with libwebp too: every reference is matched exactly).
final class WebPDecoderTests: XCTestCase {
    private struct Manifest: Decodable {
        struct Image: Decodable {
            let file: String
            let reference: String
            let width: Int
            let height: Int
        }
        struct Invalid: Decodable {
            let file: String
            let error: String
        }
        struct Face: Decodable {
            let webp: String
            let png: String
            let source: String
            let width: Int
            let height: Int
            let scale: Double
        }
        let images: [Image]
        let invalid: [Invalid]
        // Named as the fixture's JSON key.
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let webp_face: Face
    }

    private static func image(_ name: String) -> String { Paths.fixture("images/" + name) }

    private func manifest() throws -> Manifest {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.image("manifest.json")))
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    private func bytes(_ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: Self.image(name)))
    }

    private func entry(_ file: String) throws -> Manifest.Image {
        try XCTUnwrap(try manifest().images.first { $0.file == file }, "\(file) not in manifest.json")
    }

    /// What the C header phase alone reports (no pixel memory), or the failed status.
    private func header(_ data: Data) -> (status: CodecHandle.Status, info: cic_image_info, exif: [UInt8]?)? {
        guard let handle = CodecHandle(format: .webp) else { return nil }
        var info = cic_image_info()
        return data.withUnsafeBytes { raw in
            let status = handle.readHeader(raw, into: &info)
            return (status, info, status.ok ? handle.exif() : nil)
        }
    }

    /// Decodes `file` and compares with its manifest reference byte for byte; returns the
    /// number of differing bytes and the largest difference.
    @discardableResult
    private func compareWithReference(_ file: String, line: UInt = #line) throws -> (differing: Int, worst: Int) {
        let entry = try entry(file)
        let image = try ImageDecoder.decode(path: Self.image(file))
        XCTAssertEqual([image.width, image.height], [entry.width, entry.height], file, line: line)
        let expected = [UInt8](try bytes(entry.reference))
        XCTAssertEqual(image.pixels.count, expected.count, file, line: line)
        var differing = 0, worst = 0
        for (a, b) in zip(image.pixels, expected) where a != b {
            differing += 1
            worst = max(worst, abs(Int(a) - Int(b)))
        }
        XCTAssertEqual(differing, 0, "\(file): \(differing) bytes differ from the reference, max difference \(worst)",
                       line: line)
        return (differing, worst)
    }

    private func assertInvalidImage(_ attempt: @autoclosure () throws -> RGBImage, name: String, mentions: String,
                                    _ label: String, line: UInt = #line) {
        XCTAssertThrowsError(try attempt(), label, line: line) { error in
            guard case .invalidImage(name, let reason)? = error as? FaceNetError else {
                return XCTFail("\(label): expected invalidImage naming \(name), got \(error)", line: line)
            }
            XCTAssertTrue(reason.contains(mentions), "\(label): '\(reason)' does not mention '\(mentions)'", line: line)
        }
    }

    // MARK: - Sniffing

    func testWebPIsSniffedByContentNotByName() throws {
        let manifest = try manifest()
        var webp: [String] = []
        for file in manifest.images.map(\.file) + manifest.invalid.map(\.file) + [manifest.webp_face.webp] {
            let data = try bytes(file)
            guard data.count >= 12, data.prefix(4) == Data("RIFF".utf8), data.dropFirst(8).prefix(4) == Data("WEBP".utf8) else {
                continue
            }
            XCTAssertEqual(ImageFormat.sniff(data), .supported(.webp), file)
            webp.append(file)
        }
        XCTAssertTrue(webp.contains("webp_named.jpg"), "the .jpg-named WebP is a WebP by content")
        XCTAssertGreaterThanOrEqual(webp.count, 15, "WebP fixtures found: \(webp)")
        // Another RIFF form and a cut-short WebP signature are not WebP.
        XCTAssertEqual(ImageFormat.sniff(Array("RIFF\u{24}\u{0}\u{0}\u{0}WAVEfmt ".utf8)),
                       .unsupported("unknown format: neither JPEG, PNG nor WebP (first bytes 52 49 46 46 24 00 00 00)"))
        XCTAssertNotEqual(ImageFormat.sniff(Array("RIFF\u{0}\u{0}\u{0}\u{0}WEB".utf8)), .supported(.webp))
        guard case .unsupported(let gif) = ImageFormat.sniff(Array("GIF89a\u{1}\u{0}\u{1}\u{0}".utf8)) else {
            return XCTFail("GIF sniffed as supported")
        }
        XCTAssertEqual(gif, "GIF images are not supported (only JPEG, PNG and WebP)")
    }

    func testWebPUnderOtherExtensionsDecodesAsWebP() throws {
        // The committed web download: WebP bytes named .jpg.
        XCTAssertEqual(try ImageDecoder.decode(path: Self.image("webp_named.jpg")),
                       try ImageDecoder.decode(path: Self.image("webp_lossy.webp")))
        try compareWithReference("webp_named.jpg")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("webp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let renamed = dir.appendingPathComponent("really_webp.png")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: Self.image("webp_lossless.webp")), to: renamed)
        XCTAssertEqual(try ImageDecoder.decode(path: renamed.path),
                       try ImageDecoder.decode(path: Self.image("webp_lossless.webp")))
        // A broken one under a .jpg name is reported as the WebP it is.
        let broken = dir.appendingPathComponent("broken.jpg")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: Self.image("webp_truncated_lossy.webp")), to: broken)
        assertInvalidImage(try ImageDecoder.decode(path: broken.path), name: broken.path, mentions: "corrupt or truncated WebP",
                           "truncated WebP named .jpg")
    }

    // MARK: - Pixels

    /// Lossless WebP decodes to its source pixels exactly (the references are the source
    /// arrays; the script checked Pillow agrees). With alpha, the source had fully
    /// transparent pixels (exact=True kept their colour): dropping alpha keeps that colour,
    /// compositing onto any background would not.
    func testLosslessWebPEqualsTheSourcePixels() throws {
        for file in ["webp_lossless.webp", "webp_lossless_alpha.webp"] {
            let result = try compareWithReference(file)
            XCTAssertEqual(result.worst, 0, file)
        }
        let withAlpha = try XCTUnwrap(header(try bytes("webp_lossless_alpha.webp")))
        XCTAssertTrue(withAlpha.status.ok)
        XCTAssertEqual(withAlpha.info.has_transparency, 1)
        XCTAssertEqual(withAlpha.info.color_model, Int32(CIC_MODEL_RGBA))
        let opaque = try XCTUnwrap(header(try bytes("webp_lossless.webp")))
        XCTAssertEqual(opaque.info.has_transparency, 0)
        XCTAssertEqual(opaque.info.color_model, Int32(CIC_MODEL_RGB))
    }

    /// Lossy WebP against Pillow's decode of the same file: Pillow decodes with libwebp
    /// (its bundled 1.6.0) and so does the decoder (Debian 12's 1.2.4), both with libwebp's
    /// default fancy chroma upsampling. Measured: every byte equal (max difference 0).
    func testLossyWebPEqualsPillowsDecode() throws {
        for file in ["webp_lossy.webp", "webp_lossy_alpha.webp"] {
            let result = try compareWithReference(file)
            print("\(file): \(result.differing) bytes differ from Pillow, max difference \(result.worst)")
        }
        let lossyAlpha = try XCTUnwrap(header(try bytes("webp_lossy_alpha.webp")))
        XCTAssertEqual(lossyAlpha.info.has_transparency, 1, "lossy with an ALPH chunk")
    }

    /// The EXIF chunk of an extended WebP is read (with or without an "Exif\0\0" prefix)
    /// and its orientation applied, as Pillow's exif_transpose does; a simple WebP has none.
    func testExifOrientationInWebPIsApplied() throws {
        for file in ["webp_exif_o6.webp", "webp_exif_o8_prefixed.webp"] {
            let found = try XCTUnwrap(header(try bytes(file)))
            let exif = try XCTUnwrap(found.exif, "\(file): no EXIF found")
            XCTAssertNotNil(ExifOrientation.orientation(tiff: exif), "\(file): EXIF without an orientation")
            try compareWithReference(file)
            let image = try ImageDecoder.decode(path: Self.image(file))
            XCTAssertEqual([image.width, image.height], [Int(found.info.height), Int(found.info.width)], "\(file): sides swapped")
        }
        XCTAssertNil(try XCTUnwrap(header(try bytes("webp_lossless.webp"))).exif)
    }

    // MARK: - Bad input: typed errors naming the file, never a crash

    /// Measured: no prefix of these files decodes (a WebP's RIFF size covers every byte
    /// after it), and each cut past the signature is reported as data that ends early,
    /// whether the header (first 30 bytes) or the image data is cut.
    func testEveryTruncationOfAWebPFails() throws {
        for file in ["webp_lossy.webp", "webp_lossless.webp", "webp_lossy_alpha.webp", "webp_exif_o8_prefixed.webp"] {
            let data = try bytes(file)
            for length in 12..<data.count {
                assertInvalidImage(try ImageDecoder.decode(data: data.prefix(length), name: file), name: file,
                                   mentions: "corrupt or truncated WebP: the data ends early (truncated",
                                   "\(file) cut to \(length) bytes")
            }
            for length in 0..<12 {
                XCTAssertThrowsError(try ImageDecoder.decode(data: data.prefix(length), name: file), "\(file) cut to \(length)")
            }
        }
    }

    /// A broken VP8 start code fails in the header phase; garbage inside a lossless bitstream
    /// passes the header and fails while decoding. Both are invalidImage naming the file.
    func testCorruptWebPFailsInTheRightPhase() throws {
        let badStart = try XCTUnwrap(header(try bytes("webp_bad_start_code.webp")))
        XCTAssertFalse(badStart.status.ok, "the header phase must refuse a broken start code")
        let corrupt = try XCTUnwrap(header(try bytes("webp_corrupt_lossless.webp")))
        XCTAssertTrue(corrupt.status.ok, "the lossless header is intact")
        for file in ["webp_bad_start_code.webp", "webp_corrupt_lossless.webp"] {
            let path = Self.image(file)
            assertInvalidImage(try ImageDecoder.decode(path: path), name: path,
                               mentions: "corrupt or truncated WebP: invalid WebP data", file)
        }
    }

    /// WebP has no checksums: a changed byte in lossy data may decode to other pixels (as in
    /// Pillow). What must hold is no crash, and either a whole image or a typed error.
    func testRandomByteMutationsNeverCrash() throws {
        var generator = SeededGenerator(seed: 16)
        var outcomes = [String: Int]()
        for file in ["webp_lossy.webp", "webp_lossless.webp", "webp_lossy_alpha.webp", "webp_lossless_alpha.webp",
                     "webp_exif_o6.webp", "webp_exif_o8_prefixed.webp"] {
            let original = [UInt8](try bytes(file))
            for _ in 0..<150 {
                var mutated = original
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    mutated[Int.random(in: 12..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                do {
                    let image = try ImageDecoder.decode(data: Data(mutated), name: file,
                                                        limits: ImageLimits(maxWidth: 4096, maxHeight: 4096, maxPixels: 1 << 22))
                    XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                    outcomes["decoded", default: 0] += 1
                } catch let error as FaceNetError {
                    switch error {
                    case .invalidImage(file, _), .imageTooLarge(file, _, _, _): outcomes["typed error", default: 0] += 1
                    default: XCTFail("\(file): \(error)")
                    }
                }
            }
        }
        XCTAssertGreaterThan(outcomes["typed error", default: 0], 0, "\(outcomes)")
        print("WebP mutations: \(outcomes)")
    }

    /// Headers claiming 16384×16384 (lossless) and 16383×16383 (lossy), over the 64 Mi pixel
    /// limit, are refused from the header. The data behind them is a 37×23 image's: had
    /// decoding started, libwebp would have failed on it (invalidImage), not the limit.
    func testOversizedWebPHeaderIsRefusedBeforeDecoding() throws {
        let bombs = try manifest().invalid.filter { $0.file.hasPrefix("bomb_") && $0.file.hasSuffix(".webp") }
        XCTAssertEqual(bombs.map(\.error), ["imageTooLarge", "imageTooLarge"], "a lossy and a lossless one")
        for file in bombs.map(\.file) {
            let sides = file.dropFirst("bomb_".count).dropLast(".webp".count).split(separator: "x").compactMap { Int($0) }
            XCTAssertEqual(sides.count, 2, file)
            let path = Self.image(file)
            let start = Date()
            XCTAssertThrowsError(try ImageDecoder.decode(path: path)) { error in
                XCTAssertEqual(error as? FaceNetError,
                               .imageTooLarge(path: path, width: sides[0], height: sides[1],
                                              limit: ImageLimits.default.pixelLimitDescription))
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), 1.0, file)
        }
        // Custom limits: one pixel short of the image refuses it, its exact size allows it.
        let entry = try entry("webp_lossless.webp")
        let path = Self.image(entry.file), pixels = entry.width * entry.height
        XCTAssertNoThrow(try ImageDecoder.decode(path: path, limits: ImageLimits(maxPixels: pixels)))
        for limits in [ImageLimits(maxWidth: entry.width - 1), ImageLimits(maxHeight: entry.height - 1),
                       ImageLimits(maxPixels: pixels - 1)] {
            XCTAssertThrowsError(try ImageDecoder.decode(path: path, limits: limits)) { error in
                XCTAssertEqual(error as? FaceNetError, .imageTooLarge(path: path, width: entry.width, height: entry.height,
                                                                      limit: limits.pixelLimitDescription))
            }
        }
    }

    /// Animated WebP is refused in the header phase with a message saying what to do.
    func testAnimatedWebPIsRefusedWithAClearMessage() throws {
        let found = try XCTUnwrap(header(try bytes("webp_animated.webp")))
        XCTAssertTrue(found.status.isUnsupported)
        let path = Self.image("webp_animated.webp")
        XCTAssertThrowsError(try ImageDecoder.decode(path: path)) { error in
            XCTAssertEqual(error as? FaceNetError,
                           .invalidImage(path: path, reason: "unsupported WebP: animated WebP is not supported "
                                            + "(save the frame you want as a still image)"))
        }
    }

    // MARK: - A real face

    /// Docs/samples/img5.jpg, 112 px wide, as lossless WebP and as PNG: the same pixels, and
    /// MTCNN (built-in nets) finds the same face in both, where the full-size photo's face
    /// is (Fixtures/detect/detections.json, scaled).
    func testFaceInWebPIsFoundAsInThePNGOfTheSamePixels() throws {
        let face = try manifest().webp_face
        let webp = try ImageDecoder.decode(path: Self.image(face.webp))
        let png = try ImageDecoder.decode(path: Self.image(face.png))
        XCTAssertEqual([webp.width, webp.height], [face.width, face.height])
        XCTAssertEqual(webp, png, "lossless WebP and PNG of the same pixels decode alike")

        let detector = try MTCNN()
        let inWebP = try detector.detect(webp), inPNG = try detector.detect(png)
        XCTAssertEqual(inWebP.count, 1, "\(inWebP)")
        XCTAssertEqual(inWebP, inPNG)

        let detections = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: Paths.fixture("detect/detections.json")))) as? [String: Any])
        let images = try XCTUnwrap(detections["images"] as? [String: [[String: Any]]])
        let name = (face.source as NSString).lastPathComponent
        let box = try XCTUnwrap(images[name]?.first?["box"] as? [Int], "\(name) not in detections.json")
        let s = Float(face.scale)
        let scaled = FaceBox(x1: Float(box[0]) * s, y1: Float(box[1]) * s, x2: Float(box[0] + box[2]) * s,
                             y2: Float(box[1] + box[3]) * s)
        let found = try XCTUnwrap(inWebP.first)
        print("face.webp: box \(found.box.roundedXYWH), IoU \(found.box.iou(scaled)) with the full-size box scaled")
        XCTAssertGreaterThanOrEqual(found.box.iou(scaled), 0.9)
    }
}
