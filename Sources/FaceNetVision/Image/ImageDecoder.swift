import CImageCodecs
import Foundation
import FaceNetKernels
import FaceNetEngine

/// Decodes JPEG, PNG and WebP files into upright 8-bit RGB, with pixels equal to Pillow's
/// `ImageOps.exif_transpose(Image.open(f)).convert("RGB")` (see Docs/formats.md, "Images").
///
/// - Format by magic bytes, not extension: JPEG `FF D8 FF`, PNG's 8-byte signature, WebP's
///   `RIFF` container of form `WEBP` (lossy or lossless, alpha dropped; animated WebP is
///   refused as unsupported).
/// - Output: `RGBImage`, height × width × 3 bytes, row-major, RGB interleaved, top row first.
/// - Limits: the file size (`maxFileBytes`) before reading it; the stored width, height and
///   pixel count right after the header, before the pixel buffer is allocated.
/// - EXIF orientation 2–8 (JPEG APP1, PNG eXIf, WebP EXIF) is applied; broken EXIF is ignored.
///
/// Errors: `.unreadableFile` (missing or unreadable file), `.invalidImage` (empty, not an
/// image, unsupported format, truncated, corrupt, zero size, file over `maxFileBytes`),
/// `.imageTooLarge` (over the pixel limits), each naming the file.
public enum ImageDecoder {
    /// Reads and decodes the file at `path`.
    public static func decode(path: String, limits: ImageLimits = .default) throws -> RGBImage {
        let data = try readFile(path: path, maxBytes: limits.maxFileBytes)
        return try decode(data: data, name: path, limits: limits)
    }

    /// Decodes an encoded image held in memory; `name` is used in error messages.
    public static func decode(data: Data, name: String, limits: ImageLimits = .default) throws -> RGBImage {
        guard !data.isEmpty else {
            throw FaceNetError.invalidImage(path: name, reason: "the file is empty (0 bytes)")
        }
        guard data.count <= limits.maxFileBytes else {
            throw FaceNetError.invalidImage(path: name, reason: fileSizeReason(data.count, limits.maxFileBytes))
        }
        let format: ImageFormat
        switch ImageFormat.sniff(data) {
        case .supported(let found): format = found
        case .unsupported(let reason): throw FaceNetError.invalidImage(path: name, reason: reason)
        }
        guard let handle = CodecHandle(format: format) else {
            throw FaceNetError.invalidImage(path: name, reason: "out of memory creating the \(format.label) decoder")
        }
        return try data.withUnsafeBytes { bytes in
            try decode(bytes: bytes, handle: handle, name: name, limits: limits)
        }
    }

    /// Both phases on a fresh handle; `bytes` outlives the handle's use here.
    private static func decode(bytes: UnsafeRawBufferPointer, handle: CodecHandle, name: String,
                               limits: ImageLimits) throws -> RGBImage {
        let label = handle.format.label
        var info = cic_image_info()
        let header = handle.readHeader(bytes, into: &info)
        guard header.ok else { throw failure(header, handle: handle, name: name, label: label) }
        let width = Int(info.width), height = Int(info.height)
        guard width > 0, height > 0 else {
            throw FaceNetError.invalidImage(path: name, reason: "\(label) header gives a zero size (\(width)×\(height))")
        }
        guard limits.allows(width: width, height: height) else {
            throw FaceNetError.imageTooLarge(path: name, width: width, height: height,
                                             limit: limits.pixelLimitDescription)
        }
        let count = width * height * 3
        var status = CodecHandle.Status(code: Int32(CIC_ERR_USAGE))
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = handle.decode(into: buffer)
            initialized = status.ok ? count : 0
        }
        guard status.ok else { throw failure(status, handle: handle, name: name, label: label) }
        let image = try RGBImage(width: width, height: height, pixels: pixels)
        guard let exif = handle.exif(), let orientation = ExifOrientation.orientation(tiff: exif) else {
            return image
        }
        return try ExifOrientation.apply(orientation, to: image)
    }

    private static func failure(_ status: CodecHandle.Status, handle: CodecHandle, name: String,
                                label: String) -> FaceNetError {
        let detail = handle.message.isEmpty ? "decoder error \(status.code)" : handle.message
        let kind = status.isUnsupported ? "unsupported \(label)" : status.isOutOfMemory ? "\(label) decoder out of memory" : "corrupt or truncated \(label)"
        return .invalidImage(path: name, reason: "\(kind): \(detail)")
    }

    /// The whole file, refusing one over `maxBytes` before reading it.
    private static func readFile(path: String, maxBytes: Int) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FaceNetError.noSuchFile(path, advice: "check the image path")
        }
        guard !isDirectory.boolValue else {
            throw FaceNetError.unreadableFile(path: path, reason: "is a directory, not an image file")
        }
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber,
           size.intValue > maxBytes {
            throw FaceNetError.invalidImage(path: path, reason: fileSizeReason(size.intValue, maxBytes))
        }
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: "cannot open: \(error.localizedDescription)")
        }
        defer { try? handle.close() }
        do {
            // One byte past the limit tells a file that grew since the size check.
            let data = try handle.read(upToCount: maxBytes + 1) ?? Data()
            guard data.count <= maxBytes else {
                throw FaceNetError.invalidImage(path: path, reason: fileSizeReason(data.count, maxBytes))
            }
            return data
        } catch let error as FaceNetError {
            throw error
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: "read failed: \(error.localizedDescription)")
        }
    }

    private static func fileSizeReason(_ size: Int, _ limit: Int) -> String {
        "the file is \(size) bytes, over the limit of \(limit) bytes (ImageLimits.maxFileBytes)"
    }
}

extension ImageFormat {
    package var label: String {
        switch self {
        case .jpeg: return "JPEG"
        case .png: return "PNG"
        case .webp: return "WebP"
        }
    }
}
