import FaceNetKernels
import FaceNetEngine

/// A decoded 8-bit RGB image: `pixels` holds height × width × 3 bytes, row-major, RGB
/// interleaved (HWC), top row first, already upright (EXIF orientation applied).
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw FaceNetError.invalidArgument("RGB image \(width)×\(height) needs \(max(width * height * 3, 0)) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// Bounds checked before any pixel buffer is allocated, so a decompression bomb fails fast.
/// Width, height and pixels are the dimensions stored in the file (before EXIF rotation).
public struct ImageLimits: Sendable, Equatable {
    public var maxWidth: Int
    public var maxHeight: Int
    public var maxPixels: Int
    /// Largest compressed file accepted, checked before the file is read into memory.
    public var maxFileBytes: Int

    /// Defaults: 16384 per side, 64 megapixels (~192 MB of RGB), 256 MB files.
    public init(maxWidth: Int = 16_384, maxHeight: Int = 16_384, maxPixels: Int = 64 << 20,
                maxFileBytes: Int = 256 << 20) {
        self.maxWidth = maxWidth
        self.maxHeight = maxHeight
        self.maxPixels = maxPixels
        self.maxFileBytes = maxFileBytes
    }

    /// The pixel limits as the `limit` text of `FaceNetError.imageTooLarge`.
    public var pixelLimitDescription: String {
        "at most \(maxWidth)×\(maxHeight) and \(maxPixels) pixels"
    }

    /// Whether an image of this stored size is within the limits.
    public func allows(width: Int, height: Int) -> Bool {
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        return width <= maxWidth && height <= maxHeight && !overflow && pixels <= maxPixels
    }

    public static let `default` = ImageLimits()
}
