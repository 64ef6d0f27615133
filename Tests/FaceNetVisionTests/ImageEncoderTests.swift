import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
import FaceNetTestSupport

/// The PNG writer is lossless (decoding what it wrote gives the pixels back exactly), writes
/// the header a PNG reader expects, and both writers name the file they cannot write.
final class ImageEncoderTests: XCTestCase {
    private func temporaryPath(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("encoder-\(UUID().uuidString)-\(name)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Noise (every byte value, no two rows alike: nothing for the filters to predict), one
    /// pixel, a single row and a real photo, through a file and back.
    func testPNGRoundTripIsExact() throws {
        var state: UInt32 = 12345
        func byte() -> UInt8 {
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        let photo = try ImageDecoder.decode(path: Paths.packageRoot.appendingPathComponent("Docs/samples/img5.jpg").path)
        let images = [
            try RGBImage(width: 37, height: 23, pixels: (0..<(37 * 23 * 3)).map { _ in byte() }),
            try RGBImage(width: 1, height: 1, pixels: [0, 128, 255]),
            try RGBImage(width: 300, height: 1, pixels: (0..<900).map { UInt8($0 % 256) }),
            photo,
        ]
        for image in images {
            let path = temporaryPath("\(image.width)x\(image.height).png")
            try ImageEncoder.writePNG(image, to: path)
            let back = try ImageDecoder.decode(path: path)
            XCTAssertEqual(back.width, image.width)
            XCTAssertEqual(back.height, image.height)
            let worst = zip(back.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max() ?? -1
            XCTAssertEqual(worst, 0, "\(image.width)×\(image.height)")
            XCTAssertEqual(back.pixels, image.pixels, "\(image.width)×\(image.height)")
        }
        print("PNG round trip: \(images.count) images, max pixel difference 0 (\(photo.width)×\(photo.height) photo included)")
    }

    /// The signature and the IHDR chunk as the PNG specification lays them out: width and
    /// height big-endian, 8 bits, colour type 2 (truecolour), no interlace.
    func testPNGHeader() throws {
        let image = try RGBImage(width: 260, height: 3, pixels: [UInt8](repeating: 7, count: 260 * 3 * 3))
        let bytes = Array(try ImageEncoder.png(image))
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(Array(bytes[8..<16]), [0, 0, 0, 13] + Array("IHDR".utf8))
        XCTAssertEqual(Array(bytes[16..<29]), [0, 0, 1, 4, 0, 0, 0, 3, 8, 2, 0, 0, 0])
        XCTAssertEqual(Array(bytes.suffix(8)), Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82])
    }

    /// A missing directory: a typed error naming the file and what to check, for both formats.
    func testUnwritablePathIsATypedErrorNamingTheFile() throws {
        let image = try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 200, count: 12))
        let directory = temporaryPath("missing")
        for (path, write) in [(directory + "/face.png", { try ImageEncoder.writePNG(image, to: $0) }),
                              (directory + "/face.jpg", { (p: String) in try ImageEncoder.writeJPEG(image, to: p) })] {
            XCTAssertThrowsError(try write(path)) { error in
                guard case .unwritableFile(let named, let reason)? = error as? FaceNetError else {
                    return XCTFail("\(path): expected FaceNetError.unwritableFile, got \(error)")
                }
                XCTAssertEqual(named, path)
                XCTAssertTrue(reason.contains("check that its directory exists and is writable"), reason)
                XCTAssertTrue(String(describing: error).hasPrefix("\(path): cannot write: "), "\(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        }
    }
}
