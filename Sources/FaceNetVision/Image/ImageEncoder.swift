import CImageCodecs
import Foundation
import FaceNetKernels
import FaceNetEngine

/// Writes RGB images as JPEG (libjpeg) or PNG (libpng), with the same exit()-free error
/// handling as decoding.
public enum ImageEncoder {
    /// JPEG bytes of `image` at `quality` (1–100). Lossy.
    public static func jpeg(_ image: RGBImage, quality: Int = 90) throws -> Data {
        try encode(image, format: "JPEG") { rgb, out, size, text, capacity in
            cic_jpeg_encode_rgb(rgb, UInt32(image.width), UInt32(image.height), Int32(quality), out, size, text, capacity)
        }
    }

    /// PNG bytes of `image`: 8-bit truecolour, not interlaced. Lossless: decoding them
    /// gives back `image.pixels` exactly.
    public static func png(_ image: RGBImage) throws -> Data {
        try encode(image, format: "PNG") { rgb, out, size, text, capacity in
            cic_png_encode_rgb(rgb, UInt32(image.width), UInt32(image.height), out, size, text, capacity)
        }
    }

    /// Writes `image` as a JPEG file, atomically (a temporary file renamed into place).
    /// Throws `FaceNetError.unwritableFile` naming `path` when it cannot be written.
    public static func writeJPEG(_ image: RGBImage, to path: String, quality: Int = 90) throws {
        try write(jpeg(image, quality: quality), to: path)
    }

    /// Writes `image` as a PNG file (lossless), atomically (a temporary file renamed into
    /// place). Throws `FaceNetError.unwritableFile` naming `path` when it cannot be written.
    public static func writePNG(_ image: RGBImage, to path: String) throws {
        try write(png(image), to: path)
    }

    /// Runs one C encoder (RGB bytes, out buffer, out size, message buffer, its capacity)
    /// and turns its malloc'ed output into `Data`.
    private static func encode(
        _ image: RGBImage, format: String,
        _ encoder: (UnsafePointer<UInt8>?, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>,
                    UnsafeMutablePointer<CChar>?, Int) -> Int32
    ) throws -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = image.pixels.withUnsafeBufferPointer { rgb in
            message.withUnsafeMutableBufferPointer { text in encoder(rgb.baseAddress, &out, &size, text.baseAddress, text.count) }
        }
        guard status == 0, let out else {
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw FaceNetError.invalidArgument("\(format) encoding of a \(image.width)×\(image.height) image failed: "
                + (reason.isEmpty ? "status \(status)" : reason))
        }
        defer { cic_free(out) }
        return Data(bytes: out, count: size)
    }

    private static func write(_ data: Data, to path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw FaceNetError.unwritableFile(
                path: path, reason: "\(error.localizedDescription); check that its directory exists and is writable")
        }
    }
}
