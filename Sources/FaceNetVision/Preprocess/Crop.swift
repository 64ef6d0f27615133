import FaceNetKernels
import FaceNetEngine

/// A rectangle of an 8-bit interleaved image, addressed without copying: pixel (x, y),
/// channel c of the window is byte `offset + y·rowStride + x·channels + c` of the parent
/// buffer. The resizers read windows, so a centre crop costs nothing.
package struct PixelWindow: Sendable, Equatable {
    package let width: Int
    package let height: Int
    let channels: Int
    /// Bytes between the starts of two rows of the parent buffer.
    let rowStride: Int
    /// Byte index of pixel (0, 0) in the parent buffer.
    package let offset: Int

    /// The whole of a tightly packed `width × height × channels` buffer.
    package init(width: Int, height: Int, channels: Int) {
        self.init(width: width, height: height, channels: channels, rowStride: width * channels, offset: 0)
    }

    package init(width: Int, height: Int, channels: Int, rowStride: Int, offset: Int) {
        self.width = width
        self.height = height
        self.channels = channels
        self.rowStride = rowStride
        self.offset = offset
    }

    /// A sub-rectangle; the caller keeps it inside `self`.
    func cropped(x: Int, y: Int, width: Int, height: Int) -> PixelWindow {
        PixelWindow(width: width, height: height, channels: channels, rowStride: rowStride,
                    offset: offset + y * rowStride + x * channels)
    }

    /// Byte index of the first byte of row `y`.
    @inline(__always) func rowStart(_ y: Int) -> Int { offset + y * rowStride }

    /// The window's pixels as one packed buffer (rows back to back).
    package func packed(_ src: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let rowBytes = width * channels
        if offset == 0 && rowStride == rowBytes { return Array(src[0..<(rowBytes * height)]) }
        var out = [UInt8](repeating: 0, count: rowBytes * height)
        out.withUnsafeMutableBufferPointer { dst in
            guard let d = dst.baseAddress, let s = src.baseAddress else { return }
            for y in 0..<height {
                (d + y * rowBytes).update(from: s + rowStart(y), count: rowBytes)
            }
        }
        return out
    }
}

/// Centre crop to the largest centred square, as the shared `synthetic128` inputs were made
/// ("center square crop"): side `s = min(w, h)`, `left = (w − s) / 2`, `top = (h − s) / 2`
/// (integer division, i.e. Python's `//` on non-negative numbers; an odd excess drops the
/// extra column or row on the right or bottom). Checked against `shared/models/synthetic128/
/// inputs.f32`: Pillow decode → this crop → Pillow bilinear to 160 → (x − 127.5)/128
/// reproduces all 6 images exactly (max abs diff 0).
package enum CenterCrop {
    /// The square's origin and side for a `width × height` image.
    package static func square(width: Int, height: Int) -> (x: Int, y: Int, side: Int) {
        let side = min(width, height)
        return ((width - side) / 2, (height - side) / 2, side)
    }

    /// The centre square of `image`, as a new image (a square image is returned unchanged).
    package static func apply(_ image: RGBImage) throws -> RGBImage {
        let sq = square(width: image.width, height: image.height)
        if sq.side == image.width && sq.side == image.height { return image }
        let window = PixelWindow(width: image.width, height: image.height, channels: 3)
            .cropped(x: sq.x, y: sq.y, width: sq.side, height: sq.side)
        let pixels = image.pixels.withUnsafeBufferPointer { window.packed($0) }
        return try RGBImage(width: sq.side, height: sq.side, pixels: pixels)
    }

    /// The window `PreprocessOptions.Crop` selects on a packed RGB image.
    static func window(for image: RGBImage, crop: PreprocessOptions.Crop) -> PixelWindow {
        let full = PixelWindow(width: image.width, height: image.height, channels: 3)
        switch crop {
        case .none:
            return full
        case .center:
            let sq = square(width: image.width, height: image.height)
            return full.cropped(x: sq.x, y: sq.y, width: sq.side, height: sq.side)
        }
    }
}
