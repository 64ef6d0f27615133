import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// JPEG/PNG/WebP decoding against Pillow (Scripts/make_image_fixtures.py wrote the references:
/// `ImageOps.exif_transpose(Image.open(f)).convert("RGB")`), typed errors for bad files,
/// limits, EXIF parsing, and robustness against truncated or mutated input (WebP's own
/// cases are in WebPDecoderTests).
/// Every format matches Pillow exactly (max difference 0); the one deliberate exception,
/// 16-bit grayscale PNG, is explained in the fixture manifest and Docs/formats.md.
final class ImageDecoderTests: XCTestCase {
    private struct Manifest: Decodable {
        struct Image: Decodable {
            let file: String
            let reference: String
            let width: Int
            let height: Int
            let note: String?
        }
        struct Invalid: Decodable {
            let file: String
            let error: String
            let contains: String
        }
        let pillow: String
        let images: [Image]
        let invalid: [Invalid]
        // Named as the fixture's JSON keys.
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let shared_references: [Image]
    }

    private struct SharedDigests: Decodable {
        struct Entry: Decodable {
            let width: Int
            let height: Int
            let sha256: String
        }
        let photos: [String: Entry]
        let crops: [String: Entry]
    }

    private static func image(_ name: String) -> String { Paths.fixture("images/" + name) }

    private func manifest() throws -> Manifest {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.image("manifest.json")))
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    /// Exact comparison; on a mismatch, says how many bytes differ and by how much.
    private func assertPixelsEqual(_ image: RGBImage, reference path: String, width: Int, height: Int,
                                   _ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(image.width, width, "\(label): width", file: file, line: line)
        XCTAssertEqual(image.height, height, "\(label): height", file: file, line: line)
        let expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard image.pixels.count == expected.count else {
            return XCTFail("\(label): \(image.pixels.count) bytes, reference has \(expected.count)", file: file, line: line)
        }
        var differing = 0, worst = 0
        for (a, b) in zip(image.pixels, expected) where a != b {
            differing += 1
            worst = max(worst, abs(Int(a) - Int(b)))
        }
        XCTAssertEqual(differing, 0, "\(label): \(differing) bytes differ from Pillow, max difference \(worst)",
                       file: file, line: line)
    }

    // MARK: - Pixels equal Pillow's

    func testEveryFixtureImageEqualsPillow() throws {
        let manifest = try manifest()
        XCTAssertGreaterThanOrEqual(manifest.images.count, 40)
        for entry in manifest.images {
            let decoded = try ImageDecoder.decode(path: Self.image(entry.file))
            try assertPixelsEqual(decoded, reference: Self.image(entry.reference), width: entry.width,
                                  height: entry.height, entry.file)
        }
    }

    func testDataAndPathDecodeTheSame() throws {
        let path = Self.image("jpeg_exif_o6.jpg")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(try ImageDecoder.decode(data: data, name: "memory.jpg"), try ImageDecoder.decode(path: path))
    }

    func testFormatComesFromMagicBytesNotExtension() throws {
        // A PNG and a JPEG under each other's extension decode as what they are.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("img-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (source, renamed) in [("png_rgb8.png", "really_png.jpg"), ("jpeg_baseline_420.jpg", "really_jpeg.png")] {
            let target = dir.appendingPathComponent(renamed)
            try FileManager.default.copyItem(at: URL(fileURLWithPath: Self.image(source)), to: target)
            XCTAssertEqual(try ImageDecoder.decode(path: target.path), try ImageDecoder.decode(path: Self.image(source)))
        }
    }

    func testOnePixelImagesDecode() throws {
        for name in ["jpeg_1x1.jpg", "png_1x1.png"] {
            let image = try ImageDecoder.decode(path: Self.image(name))
            XCTAssertEqual([image.width, image.height, image.pixels.count], [1, 1, 3], name)
        }
    }

    func testExifOrientationSwapsSidesOfNonSquareImage() throws {
        for o in 1...8 {
            let image = try ImageDecoder.decode(path: Self.image("jpeg_exif_o\(o).jpg"))
            XCTAssertEqual([image.width, image.height], o >= 5 ? [32, 48] : [48, 32], "orientation \(o)")
        }
    }

    // MARK: - Bad input: typed errors naming the file

    func testEveryInvalidFixtureGivesTheRightTypedError() throws {
        let manifest = try manifest()
        XCTAssertGreaterThanOrEqual(manifest.invalid.count, 15)
        for entry in manifest.invalid {
            let path = Self.image(entry.file)
            XCTAssertThrowsError(try ImageDecoder.decode(path: path), entry.file) { error in
                guard let error = error as? FaceNetError else { return XCTFail("\(entry.file): untyped \(error)") }
                switch (entry.error, error) {
                case ("invalidImage", .invalidImage(let p, _)), ("imageTooLarge", .imageTooLarge(let p, _, _, _)):
                    XCTAssertEqual(p, path, entry.file)
                default:
                    XCTFail("\(entry.file): expected \(entry.error), got \(error)")
                }
                XCTAssertTrue(error.description.contains(entry.contains),
                              "\(entry.file): '\(error.description)' does not mention '\(entry.contains)'")
                XCTAssertTrue(error.description.contains(entry.file), "\(entry.file): message does not name the file")
            }
        }
    }

    func testBombFailsOnLimitsBeforeAllocating() throws {
        // 60000×60000 RGB would be 10.8 GB: the header check must refuse it at once.
        for name in ["bomb_60000x60000.jpg", "bomb_60000x60000.png"] {
            let start = Date()
            XCTAssertThrowsError(try ImageDecoder.decode(path: Self.image(name))) { error in
                XCTAssertEqual(error as? FaceNetError,
                               .imageTooLarge(path: Self.image(name), width: 60000, height: 60000,
                                              limit: ImageLimits.default.pixelLimitDescription))
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), 1.0, name)
        }
    }

    func testCustomPixelLimits() throws {
        let path = Self.image("jpeg_baseline_420.jpg") // 48×32
        XCTAssertNoThrow(try ImageDecoder.decode(path: path, limits: ImageLimits(maxWidth: 48, maxHeight: 32, maxPixels: 1536)))
        for limits in [ImageLimits(maxWidth: 47), ImageLimits(maxHeight: 31), ImageLimits(maxPixels: 1535)] {
            XCTAssertThrowsError(try ImageDecoder.decode(path: path, limits: limits)) { error in
                guard case .imageTooLarge(path, 48, 32, _)? = error as? FaceNetError else {
                    return XCTFail("expected imageTooLarge, got \(error)")
                }
            }
        }
    }

    func testFileSizeLimitIsCheckedBeforeReading() throws {
        let path = Self.image("jpeg_baseline_420.jpg")
        let limits = ImageLimits(maxFileBytes: 1000)
        for attempt in [{ try ImageDecoder.decode(path: path, limits: limits) },
                        { try ImageDecoder.decode(data: Data(contentsOf: URL(fileURLWithPath: path)), name: path, limits: limits) }] {
            XCTAssertThrowsError(try attempt()) { error in
                guard case .invalidImage(path, let reason)? = error as? FaceNetError else {
                    return XCTFail("expected invalidImage, got \(error)")
                }
                XCTAssertTrue(reason.contains("maxFileBytes"), reason)
            }
        }
        XCTAssertEqual(ImageLimits.default.maxFileBytes, 256 << 20)
    }

    func testMissingFileAndDirectoryAreUnreadable() {
        let missing = Self.image("no_such_image.jpg")
        XCTAssertThrowsError(try ImageDecoder.decode(path: missing)) { error in
            guard case .unreadableFile(missing, _)? = error as? FaceNetError else { return XCTFail("\(error)") }
        }
        let directory = Paths.fixture("images")
        XCTAssertThrowsError(try ImageDecoder.decode(path: directory)) { error in
            guard case .unreadableFile(directory, _)? = error as? FaceNetError else { return XCTFail("\(error)") }
        }
    }

    func testInMemoryErrorsUseTheGivenName() {
        XCTAssertThrowsError(try ImageDecoder.decode(data: Data(), name: "upload #3")) { error in
            XCTAssertEqual(error as? FaceNetError, .invalidImage(path: "upload #3", reason: "the file is empty (0 bytes)"))
        }
    }

    func testSniffingNamesOtherFormats() {
        func reason(_ bytes: [UInt8]) -> String {
            if case .unsupported(let why) = ImageFormat.sniff(bytes) { return why }
            return "supported"
        }
        XCTAssertEqual(ImageFormat.sniff(Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8)), .supported(.webp))
        XCTAssertEqual(reason(Array("GIF89a\u{1}\u{0}".utf8)), "GIF images are not supported (only JPEG, PNG and WebP)")
        XCTAssertTrue(reason([0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0]).contains("TIFF"))
        XCTAssertTrue(reason(Array("\u{0}\u{0}\u{0}\u{18}ftypheic".utf8)).contains("HEIF"))
        XCTAssertTrue(reason(Array("<html><body>".utf8)).contains("text"))
        XCTAssertEqual(ImageFormat.sniff([0xFF, 0xD8, 0xFF, 0xE0]), .supported(.jpeg))
        XCTAssertEqual(ImageFormat.sniff([0xFF, 0xD8]),
                       .unsupported("unknown format: neither JPEG, PNG nor WebP (first bytes ff d8)"))
    }

    // MARK: - Robustness: truncation and mutation never crash or give wrong pixels silently

    func testEveryTruncationFailsOrGivesTheFullImage() throws {
        for name in ["jpeg_baseline_420.jpg", "jpeg_progressive_420.jpg", "jpeg_cmyk.jpg", "png_rgb8.png",
                     "png_interlaced_rgba16.png", "png_palette_trns.png"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: Self.image(name)))
            let full = try ImageDecoder.decode(data: data, name: name)
            for length in stride(from: 0, to: data.count, by: max(1, data.count / 150)) {
                do {
                    // Only a cut after the last pixel data (a missing JPEG EOI) may still decode.
                    let image = try ImageDecoder.decode(data: data.prefix(length), name: name)
                    XCTAssertEqual(image, full, "\(name) cut to \(length) bytes decoded to other pixels")
                } catch let error as FaceNetError {
                    guard case .invalidImage(name, _) = error else { return XCTFail("\(name) @\(length): \(error)") }
                }
            }
            XCTAssertThrowsError(try ImageDecoder.decode(data: data.prefix(data.count - 3), name: name), name)
        }
    }

    func testRandomByteMutationsNeverCrash() throws {
        var generator = SeededGenerator(seed: 7)
        for name in ["jpeg_baseline_420.jpg", "jpeg_progressive_420.jpg", "jpeg_exif_o6.jpg", "png_rgb8.png",
                     "png_interlaced_palette4.png", "png_exif_o6.png"] {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.image(name))))
            for _ in 0..<60 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    bytes[Int.random(in: 2..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                do {
                    let image = try ImageDecoder.decode(data: Data(bytes), name: name,
                                                        limits: ImageLimits(maxWidth: 4096, maxHeight: 4096, maxPixels: 1 << 22))
                    XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                } catch let error as FaceNetError {
                    switch error {
                    case .invalidImage(name, _), .imageTooLarge(name, _, _, _): break
                    default: XCTFail("\(name): \(error)")
                    }
                }
            }
        }
    }

    // MARK: - EXIF parsing

    private func tiff(bigEndian: Bool, entries: [(tag: UInt16, type: UInt16, count: UInt32, value: UInt32)],
                      ifdOffset: UInt32 = 8) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] {
            bigEndian ? u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF)) : u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16))
        }
        var bytes: [UInt8] = (bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]) + u16(42) + u32(ifdOffset) + u16(UInt16(entries.count))
        for e in entries {
            // A SHORT value sits in the first 2 bytes of the 4-byte value field.
            let value = e.type == 3 ? u16(UInt16(e.value)) + [0, 0] : u32(e.value)
            bytes += u16(e.tag) + u16(e.type) + u32(e.count) + value
        }
        return bytes + u32(0)
    }

    func testExifOrientationParsing() {
        for big in [false, true] {
            for o in 1...8 {
                let t = tiff(bigEndian: big, entries: [(0x010F, 2, 4, 0), (0x0112, 3, 1, UInt32(o))])
                XCTAssertEqual(ExifOrientation.orientation(tiff: t), o, "big-endian \(big), \(o)")
            }
            XCTAssertEqual(ExifOrientation.orientation(tiff: tiff(bigEndian: big, entries: [(0x0112, 4, 1, 6)])), 6, "LONG")
            for bad: UInt32 in [0, 9, 0xFFFF] {
                XCTAssertNil(ExifOrientation.orientation(tiff: tiff(bigEndian: big, entries: [(0x0112, 3, 1, bad)])))
            }
            XCTAssertNil(ExifOrientation.orientation(tiff: tiff(bigEndian: big, entries: [(0x0112, 2, 1, 6)])), "ASCII type")
            XCTAssertNil(ExifOrientation.orientation(tiff: tiff(bigEndian: big, entries: [(0x0110, 3, 1, 6)])), "other tag")
            XCTAssertNil(ExifOrientation.orientation(tiff: tiff(bigEndian: big, entries: [(0x0112, 3, 1, 6)], ifdOffset: 5000)))
            XCTAssertNil(ExifOrientation.orientation(tiff: tiff(bigEndian: big, entries: [(0x0112, 3, 1, 6)], ifdOffset: 0xFFFF_FFFF)))
        }
        XCTAssertNil(ExifOrientation.orientation(tiff: []))
        XCTAssertNil(ExifOrientation.orientation(tiff: [0x49, 0x49, 0x2A, 0x00]))
        XCTAssertNil(ExifOrientation.orientation(tiff: Array("XX*\u{0}\u{8}\u{0}\u{0}\u{0}".utf8)))
        // An entry count far larger than the data: stops at the end, no crash.
        var huge = tiff(bigEndian: false, entries: [(0x0100, 3, 1, 1)])
        huge[8] = 0xFF
        huge[9] = 0xFF
        XCTAssertNil(ExifOrientation.orientation(tiff: huge))
        // Random bytes after a valid header never crash.
        var generator = SeededGenerator(seed: 3)
        for _ in 0..<500 {
            var bytes = tiff(bigEndian: Bool.random(using: &generator), entries: [(0x0112, 3, 1, 6), (0x0100, 4, 1, 9)])
            for _ in 0..<3 { bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            if let o = ExifOrientation.orientation(tiff: bytes) { XCTAssertTrue((1...8).contains(o)) }
        }
    }

    func testOrientationTransformsOnTinyImage() throws {
        // 3×2 image, pixel value = index; expected layouts as Pillow's transpose methods.
        let image = try RGBImage(width: 3, height: 2, pixels: (0..<6).flatMap { [UInt8($0), 0, 0] })
        let expected: [Int: (Int, Int, [UInt8])] = [
            1: (3, 2, [0, 1, 2, 3, 4, 5]), 2: (3, 2, [2, 1, 0, 5, 4, 3]), 3: (3, 2, [5, 4, 3, 2, 1, 0]),
            4: (3, 2, [3, 4, 5, 0, 1, 2]), 5: (2, 3, [0, 3, 1, 4, 2, 5]), 6: (2, 3, [3, 0, 4, 1, 5, 2]),
            7: (2, 3, [5, 2, 4, 1, 3, 0]), 8: (2, 3, [2, 5, 1, 4, 0, 3]),
        ]
        for (o, (w, h, order)) in expected {
            let out = try ExifOrientation.apply(o, to: image)
            XCTAssertEqual([out.width, out.height], [w, h], "orientation \(o)")
            XCTAssertEqual(stride(from: 0, to: out.pixels.count, by: 3).map { out.pixels[$0] }, order, "orientation \(o)")
        }
    }

    // MARK: - Shared photos (../shared, skipped when absent)

    func testSharedPhotoPixelsEqualPillow() throws {
        _ = try Paths.shared("faces/photos") // skips when ../shared is absent
        let manifest = try manifest()
        XCTAssertFalse(manifest.shared_references.isEmpty)
        for entry in manifest.shared_references {
            let path = try Paths.shared("faces/" + entry.file)
            let decoded = try ImageDecoder.decode(path: path)
            try assertPixelsEqual(decoded, reference: Self.image(entry.reference), width: entry.width,
                                  height: entry.height, entry.file)
        }
    }

    private func checkDigests(folder: String, pick: (SharedDigests) -> [String: SharedDigests.Entry]) throws {
        let directory = try Paths.shared("faces/" + folder)
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.image("shared_digests.json")))
        let expected = pick(try JSONDecoder().decode(SharedDigests.self, from: data))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted()
        XCTAssertEqual(Set(files), Set(expected.keys), "files in \(folder) and digests differ")
        for name in files {
            guard let want = expected[name] else { continue }
            let image = try ImageDecoder.decode(path: directory + "/" + name)
            XCTAssertEqual([image.width, image.height], [want.width, want.height], name)
            XCTAssertEqual(sha256Hex(image.pixels), want.sha256, "\(name): pixels differ from Pillow's")
        }
    }

    func testEverySharedPhotoEqualsPillowDigest() throws {
        try checkDigests(folder: "photos") { $0.photos }
    }

    func testEverySharedCropEqualsPillowDigest() throws {
        try checkDigests(folder: "crops") { $0.crops }
    }

}
