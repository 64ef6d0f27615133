import FaceNetKernels
import FaceNetEngine

/// deepface's aspect-preserving fit into the model's square input
/// (`deepface/modules/preprocessing.py`, `resize_image`):
///
///     factor = min(size / h, size / w)                      # Python floats (Double)
///     resized = cv2.resize(img, (int(w · factor), int(h · factor)))   # INTER_LINEAR
///     diff_h = size − resized_h;  diff_w = size − resized_w
///     np.pad(resized, ((diff_h // 2, diff_h − diff_h // 2),
///                      (diff_w // 2, diff_w − diff_w // 2), (0, 0)), "constant")  # black
///
/// deepface then resizes again "if the size is off by rounding"; after the padding above
/// the size is always exactly `size × size`, so that second resize never runs and is not
/// reproduced. Layout of the result (`size × size`, HWC):
///
///     rows 0 ..< top              black
///     rows top ..< top + rh       black | resized image (cols left ..< left + rw) | black
///     rows top + rh ..< size      black
///
/// Here the resize filter is the caller's choice (deepface's is `.bilinear`). A side that
/// `int()` would truncate to 0 (aspect ratios beyond `size : 1`) is kept at 1 pixel where
/// deepface would fail.
public enum Letterbox {
    /// The resized size and the padding offsets for a `width × height` image.
    public static func geometry(width: Int, height: Int, size: Int) -> (width: Int, height: Int, top: Int, left: Int) {
        let factor = min(Double(size) / Double(height), Double(size) / Double(width))
        let rw = min(max(Int(Double(width) * factor), 1), size)
        let rh = min(max(Int(Double(height) * factor), 1), size)
        return (rw, rh, (size - rh) / 2, (size - rw) / 2)
    }

    /// Letterboxes an RGB image into `size × size` with the given resize filter.
    public static func apply(_ image: RGBImage, size: Int, filter: PreprocessOptions.Resize) throws -> RGBImage {
        try ResizeTarget.check(width: size, height: size)
        let window = PixelWindow(width: image.width, height: image.height, channels: 3)
        let out = image.pixels.withUnsafeBufferPointer { apply($0, window, size: size, filter: filter) }
        return try RGBImage(width: size, height: size, pixels: out)
    }

    /// Letterboxes the window of `src` into a packed `size × size` image.
    package static func apply(_ src: UnsafeBufferPointer<UInt8>, _ window: PixelWindow, size: Int,
                      filter: PreprocessOptions.Resize) -> [UInt8] {
        let g = geometry(width: window.width, height: window.height, size: size)
        let resized = ResizeTarget.resample(src, window, width: g.width, height: g.height, filter: filter)
        let cn = window.channels
        if g.width == size && g.height == size { return resized }
        var out = [UInt8](repeating: 0, count: size * size * cn)
        out.withUnsafeMutableBufferPointer { dst in
            resized.withUnsafeBufferPointer { r in
                guard let d = dst.baseAddress, let s = r.baseAddress else { return }
                let rowBytes = g.width * cn
                for y in 0..<g.height {
                    (d + ((g.top + y) * size + g.left) * cn).update(from: s + y * rowBytes, count: rowBytes)
                }
            }
        }
        return out
    }
}
