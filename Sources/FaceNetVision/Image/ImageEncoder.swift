import CImageCodecs
import Foundation
import FaceNetKernels
import FaceNetEngine

/// Writes RGB images as JPEG (libjpeg, with the same exit()-free error handling as decoding).
public enum ImageEncoder {
    /// JPEG bytes of `image` at `quality` (1–100).
    public static func jpeg(_ image: RGBImage, quality: Int = 90) throws -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = image.pixels.withUnsafeBufferPointer { rgb in
            message.withUnsafeMutableBufferPointer { text in
                cic_jpeg_encode_rgb(rgb.baseAddress, UInt32(image.width), UInt32(image.height), Int32(quality),
                                    &out, &size, text.baseAddress, text.count)
            }
        }
        guard status == 0, let out else {
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw FaceNetError.invalidArgument("JPEG encoding failed: \(reason.isEmpty ? "status \(status)" : reason)")
        }
        defer { cic_free(out) }
        return Data(bytes: out, count: size)
    }

    /// Writes `image` as a JPEG file, atomically (a temporary file renamed into place).
    public static func writeJPEG(_ image: RGBImage, to path: String, quality: Int = 90) throws {
        do {
            try jpeg(image, quality: quality).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch let error as FaceNetError {
            throw error
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
