import FaceNetKit
import Foundation

extension RequestFields {
    /// The image bytes of field `name`: a multipart file upload, or base64 text (plain, or a
    /// `data:image/...;base64,` URI). A server-side path or a URL is refused (400
    /// `image_refused`): the server never opens files or fetches URLs for a client (deepface
    /// does both, a file-read and SSRF hole). nil when the field is absent.
    func imageData(_ name: String) throws(APIError) -> Data? {
        switch values[name] {
        case nil, .json(.null): return nil
        case .file(let data): return data
        case .json(.string(let text)), .text(let text): return try Self.imageBytes(text, field: name)
        case .json(let other):
            throw APIError.invalidField(name, "must be an image: base64 text or a file upload, not \(other.typeName)")
        }
    }

    /// The image field `name`, required.
    func requiredImage(_ name: String) throws(APIError) -> Data {
        guard let data = try imageData(name) else { throw APIError.missingField(name) }
        return data
    }

    /// Base64 text (or a data URI) to bytes, refusing what looks like a URL or a path.
    static func imageBytes(_ text: String, field: String) throws(APIError) -> Data {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.lowercased().hasPrefix("data:") {
            guard let comma = trimmed.firstIndex(of: ","), trimmed[..<comma].lowercased().hasSuffix(";base64"),
                  let data = base64(trimmed[trimmed.index(after: comma)...]) else {
                throw APIError.invalidField(field, "a data URI must be data:image/...;base64,<base64 bytes>")
            }
            return data
        }
        if looksLikeURL(trimmed) {
            throw APIError(.badRequest, "image_refused",
                           "\(field): URLs are not fetched; send the image itself, as a file upload or base64")
        }
        let decoded = base64(trimmed[...])
        if let decoded, case .supported = ImageFormat.sniff(decoded) { return decoded }
        if looksLikePath(trimmed) {
            throw APIError(.badRequest, "image_refused",
                           "\(field): server-side files are not read; send the image itself, as a file upload or base64")
        }
        guard let decoded else { throw APIError.invalidField(field, "is not valid base64 (nor a data: URI)") }
        return decoded  // the decoder says what is wrong with these bytes
    }

    /// Standard base64, whitespace ignored, padding optional.
    private static func base64(_ text: Substring) -> Data? {
        var compact = String(text.filter { !$0.isWhitespace })
        guard !compact.isEmpty else { return nil }
        if compact.count % 4 != 0 { compact += String(repeating: "=", count: 4 - compact.count % 4) }
        return Data(base64Encoded: compact)
    }

    /// `scheme://…`, or `www.…`.
    private static func looksLikeURL(_ text: String) -> Bool {
        if text.lowercased().hasPrefix("www.") { return true }
        guard let range = text.range(of: "://") else { return false }
        let scheme = text[..<range.lowerBound]
        return !scheme.isEmpty && scheme.allSatisfy { $0.isLetter || $0.isNumber || "+.-".contains($0) }
    }

    /// Short text with a path separator, a `~`, or an image file extension.
    private static func looksLikePath(_ text: String) -> Bool {
        guard text.count < 4096 else { return false }
        let lower = text.lowercased()
        return lower.contains("/") || lower.contains("\\") || lower.hasPrefix("~")
            || ImageFormat.fileExtensions.contains((lower as NSString).pathExtension)
    }
}
