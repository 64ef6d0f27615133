import CImageCodecs
import FaceNetKernels
import FaceNetEngine

/// One C decoder (libjpeg, libpng or libwebp behind `CImageCodecs`), used in two phases:
/// `readHeader` (no pixel memory yet), then `decode` into a caller buffer. The input
/// bytes passed to `readHeader` must stay valid until the handle is released.
/// Local to one decode call: not shared between threads.
package final class CodecHandle {
    package let format: ImageFormat
    private let raw: OpaquePointer

    /// Result of a C call: 0 on success, else a `CIC_ERR_*` code.
    package struct Status {
        let code: Int32
        package var ok: Bool { code == Int32(CIC_OK) }
        var isUnsupported: Bool { code == Int32(CIC_ERR_UNSUPPORTED) }
        var isOutOfMemory: Bool { code == Int32(CIC_ERR_NOMEM) }
    }

    package init?(format: ImageFormat) {
        let pointer: OpaquePointer?
        switch format {
        case .jpeg: pointer = cic_jpeg_create()
        case .png: pointer = cic_png_create()
        case .webp: pointer = cic_webp_create()
        }
        guard let pointer else { return nil }
        self.format = format
        self.raw = pointer
    }

    deinit {
        switch format {
        case .jpeg: cic_jpeg_destroy(raw)
        case .png: cic_png_destroy(raw)
        case .webp: cic_webp_destroy(raw)
        }
    }

    func readHeader(_ bytes: UnsafeRawBufferPointer, into info: inout cic_image_info) -> Status {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return Status(code: Int32(CIC_ERR_USAGE))
        }
        switch format {
        case .jpeg: return Status(code: cic_jpeg_read_header(raw, base, bytes.count, &info))
        case .png: return Status(code: cic_png_read_header(raw, base, bytes.count, &info))
        case .webp: return Status(code: cic_webp_read_header(raw, base, bytes.count, &info))
        }
    }

    package func decode(into out: UnsafeMutableBufferPointer<UInt8>) -> Status {
        guard let base = out.baseAddress else { return Status(code: Int32(CIC_ERR_USAGE)) }
        switch format {
        case .jpeg: return Status(code: cic_jpeg_decode_rgb(raw, base, out.count))
        case .png: return Status(code: cic_png_decode_rgb(raw, base, out.count))
        case .webp: return Status(code: cic_webp_decode_rgb(raw, base, out.count))
        }
    }

    /// The failure message of the last call.
    package var message: String {
        let text: UnsafePointer<CChar>?
        switch format {
        case .jpeg: text = cic_jpeg_message(raw)
        case .png: text = cic_png_message(raw)
        case .webp: text = cic_webp_message(raw)
        }
        return text.map { String(cString: $0) } ?? ""
    }

    /// The TIFF structure of the file's Exif block (JPEG APP1 / PNG eXIf / WebP EXIF), copied.
    func exif() -> [UInt8]? {
        var size = 0
        let pointer: UnsafePointer<UInt8>?
        switch format {
        case .jpeg: pointer = cic_jpeg_exif(raw, &size)
        case .png: pointer = cic_png_exif(raw, &size)
        case .webp: pointer = cic_webp_exif(raw, &size)
        }
        guard let pointer, size > 0 else { return nil }
        return Array(UnsafeBufferPointer(start: pointer, count: size))
    }
}
