import FaceNetKernels
import FaceNetEngine

/// The container formats the decoder tells apart by their first bytes (never by the
/// file extension).
package enum ImageFormat: Equatable {
    case jpeg
    case png
    case webp

    /// The file extensions a folder's images are picked up by, lower case (`facenet embed DIR`,
    /// `gallery add`, a folder gallery): the one list. The decoder itself goes by content.
    package static let fileExtensions: Set<String> = ["jpg", "jpeg", "png", "webp"]

    /// What the first bytes say: a decodable format, or why the file cannot be decoded.
    package enum Sniffed: Equatable {
        case supported(ImageFormat)
        case unsupported(String)
    }

    /// JPEG: `FF D8 FF` (SOI then a marker). PNG: the 8-byte signature `89 'PNG' 0D 0A 1A 0A`.
    /// WebP: a RIFF container of form type `WEBP` (`'RIFF'`, a 4-byte size, `'WEBP'`).
    package static func sniff(_ bytes: some Collection<UInt8>) -> Sniffed {
        let head = Array(bytes.prefix(32))
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .supported(.jpeg) }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .supported(.png) }
        if head.count >= 12, head.starts(with: Array("RIFF".utf8)), Array(head[8..<12]) == Array("WEBP".utf8) {
            return .supported(.webp)
        }
        if let name = otherFormatName(head) {
            return .unsupported("\(name) images are not supported (only JPEG, PNG and WebP)")
        }
        if looksLikeText(head) {
            return .unsupported("not an image: the file starts with text (\"\(textPreview(head))\")")
        }
        let hex = head.prefix(8).map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: " ")
        return .unsupported("unknown format: neither JPEG, PNG nor WebP (first bytes \(hex))")
    }

    /// Formats worth naming in the message, so the user knows to convert the file.
    private static func otherFormatName(_ h: [UInt8]) -> String? {
        func ascii(_ s: String, at offset: Int = 0) -> Bool {
            let b = Array(s.utf8)
            return h.count >= offset + b.count && Array(h[offset..<offset + b.count]) == b
        }
        if ascii("GIF87a") || ascii("GIF89a") { return "GIF" }
        if h.starts(with: [0x49, 0x49, 0x2A, 0x00]) || h.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { return "TIFF" }
        if ascii("BM") && h.count >= 14 { return "BMP" }
        if ascii("ftyp", at: 4) {
            if ascii("avif", at: 8) || ascii("avis", at: 8) { return "AVIF" }
            if ascii("heic", at: 8) || ascii("heix", at: 8) || ascii("mif1", at: 8) { return "HEIF" }
        }
        if h.starts(with: [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) { return "JPEG 2000" }
        if h.starts(with: [0xFF, 0x0A]) { return "JPEG XL" }
        return nil
    }

    /// Printable ASCII and common whitespace only (or UTF-8 continuation bytes).
    private static func looksLikeText(_ h: [UInt8]) -> Bool {
        !h.isEmpty && h.allSatisfy { (0x20...0x7E).contains($0) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 >= 0x80 }
            && h.contains { (0x20...0x7E).contains($0) }
    }

    private static func textPreview(_ h: [UInt8]) -> String {
        let printable = h.prefix(16).map { (0x20...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "." }
        return String(printable)
    }
}
