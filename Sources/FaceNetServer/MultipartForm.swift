import Foundation
import MultipartKit
import NIOCore

/// `multipart/form-data` bodies: each part named by its `Content-Disposition`; a part with
/// a file name, or a content type other than text, is a file upload.
enum MultipartForm {
    /// The fields of a whole multipart body. Throws `APIError` (400) for a missing boundary
    /// or a malformed body.
    static func parse(_ body: ByteBuffer, contentType: String) throws(APIError) -> [String: RequestFields.Value] {
        guard let boundary = parameter("boundary", of: contentType), !boundary.isEmpty else {
            throw APIError(.badRequest, "invalid_form", "a multipart/form-data body needs a boundary in its Content-Type")
        }
        let collector = PartCollector()
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in collector.headers[name.lowercased()] = value }
        parser.onBody = { chunk in collector.body.writeBuffer(&chunk) }
        parser.onPartComplete = { collector.finishPart() }
        do {
            try parser.execute(body)
        } catch {
            throw APIError(.badRequest, "invalid_form", "the multipart/form-data body is malformed")
        }
        return collector.fields
    }

    /// A `; key=value` parameter of a header value (quotes removed).
    static func parameter(_ key: String, of header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == key else { continue }
            var value = pair[1]
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}

/// The parser's callbacks write here, one part at a time (used on one thread only).
private final class PartCollector {
    var headers: [String: String] = [:]
    var body = ByteBuffer()
    var fields: [String: RequestFields.Value] = [:]

    func finishPart() {
        defer {
            headers = [:]
            body = ByteBuffer()
        }
        let disposition = headers["content-disposition"] ?? ""
        guard let name = MultipartForm.parameter("name", of: disposition) else { return }
        let type = (headers["content-type"] ?? "text/plain").lowercased()
        let isFile = MultipartForm.parameter("filename", of: disposition) != nil || !type.hasPrefix("text/")
        let bytes = Data(body.readableBytesView)
        if !isFile, let text = String(data: bytes, encoding: .utf8) {
            fields[name] = .text(text)
        } else {
            fields[name] = .file(bytes)
        }
    }
}
