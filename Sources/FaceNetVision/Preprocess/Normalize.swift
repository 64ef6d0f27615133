import Foundation
import FaceNetKernels
import FaceNetEngine

/// Pixel normalisations: 8-bit RGB (HWC) in, Float HWC out in the requested channel order.
///
/// deepface's modes follow `deepface/modules/preprocessing.py` `normalize_input` exactly,
/// including its Float32 steps: the image reaches it as `v = Float(x) / 255` (deepface's
/// `resize_image` divides when the max is > 1), `base` returns that, every other mode
/// first does `v *= 255` (not always exactly x in Float) and then:
///
/// | mode          | deepface name | value                                               |
/// |---------------|---------------|-----------------------------------------------------|
/// | `base`        | base          | x / 255                                             |
/// | `raw`         | raw           | (x / 255)·255                                       |
/// | `facenet`     | Facenet       | (v − mean) / std, one mean and std over all values  |
/// | `facenet2018` | Facenet2018   | v / 127.5 − 1                                       |
/// | `vggFace`     | VGGFace       | v − per-colour mean (B 93.5940, G 104.7624, R 129.1863) |
/// | `vggFace2`    | VGGFace2      | v − per-colour mean (B 91.4953, G 103.8827, R 131.0912) |
/// | `arcFace`     | ArcFace       | (v − 127.5) / 128                                   |
///
/// and two modes outside deepface, on x directly:
/// - `prewhiten` (Sandberg's `facenet.prewhiten`, Float64 as NumPy computes it on a uint8
///   image): `(x − mean) · (1 / max(std, 1/√N))`, N = H·W·3, population std.
/// - `fixed`: `(x − 127.5) / 128` in Float (how the `synthetic128` inputs were made).
///
/// Means and stds accumulate in Double (NumPy's Float32 pairwise sums for `Facenet` differ
/// from them by ~1e-7 relative). deepface divides by a zero std (NaN everywhere for a
/// constant image); here a constant image gives all zeros in `facenet` mode.
///
/// **Colour of the per-channel means.** deepface subtracts its VGGFace means by index from
/// a BGR image, so index 0 (93.5940) is blue. Here the means belong to the colour, not the
/// position: blue always loses 93.5940 whatever `ColorOrder` is asked for. With `.bgr`
/// that is deepface's tensor exactly; with `.rgb` it is the same values with the channels
/// reversed. The order only moves values; no other mode depends on it.
public enum PixelNormalization {
    /// Per-colour means (R, G, B) of the mean-subtraction modes, nil for the others.
    public static func colourMeans(_ mode: PreprocessOptions.Normalization) -> (r: Float, g: Float, b: Float)? {
        switch mode {
        case .vggFace: return (129.1863, 104.7624, 93.5940)
        case .vggFace2: return (131.0912, 103.8827, 91.4953)
        default: return nil
        }
    }

    /// Normalises an RGB image into a new `H·W·3` Float array in `order`.
    public static func apply(_ mode: PreprocessOptions.Normalization, to image: RGBImage,
                             order: PreprocessOptions.ColorOrder) -> [Float] {
        var out = [Float](repeating: 0, count: image.pixels.count)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { apply(mode, rgb: src, order: order, into: $0) }
        }
        return out
    }

    /// Normalises `rgb` (interleaved R, G, B bytes) into `out` (same count) in `order`.
    public static func apply(_ mode: PreprocessOptions.Normalization, rgb: UnsafeBufferPointer<UInt8>,
                             order: PreprocessOptions.ColorOrder, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(out.count >= rgb.count && rgb.count % 3 == 0, "normalise: buffer sizes")
        let n = rgb.count
        guard n > 0 else { return }
        // deepface's Float32 round trip: x / 255, then × 255.
        @inline(__always) func restored(_ x: UInt8) -> Float { (Float(x) / 255) * 255 }
        switch mode {
        case .prewhiten:
            let (mean, std) = meanStd(rgb, n) { Double($0) }
            let scale = 1.0 / max(std, 1.0 / Double(n).squareRoot())
            map(rgb, order, out) { Float((Double($0) - mean) * scale) }
        case .fixed:
            map(rgb, order, out) { (Float($0) - 127.5) / 128 }
        case .base:
            map(rgb, order, out) { Float($0) / 255 }
        case .raw:
            map(rgb, order, out) { restored($0) }
        case .facenet:
            let (mean, std) = meanStd(rgb, n) { Double(restored($0)) }
            let m = Float(mean), s = Float(std)
            map(rgb, order, out) { s > 0 ? (restored($0) - m) / s : 0 }
        case .facenet2018:
            map(rgb, order, out) { restored($0) / 127.5 - 1 }
        case .arcFace:
            map(rgb, order, out) { (restored($0) - 127.5) / 128 }
        case .vggFace, .vggFace2:
            let means = colourMeans(mode) ?? (0, 0, 0)
            let perColour = [means.r, means.g, means.b]
            for i in stride(from: 0, to: n, by: 3) {
                for c in 0..<3 {
                    out[i + slot(c, order)] = restored(rgb[i + c]) - perColour[c]
                }
            }
        }
    }

    /// Where colour `c` (0 R, 1 G, 2 B) goes inside a pixel for `order`.
    @inline(__always) static func slot(_ c: Int, _ order: PreprocessOptions.ColorOrder) -> Int {
        order == .rgb ? c : 2 - c
    }

    /// Applies `f` to every byte, writing colours in `order`.
    @inline(__always)
    package static func map(_ rgb: UnsafeBufferPointer<UInt8>, _ order: PreprocessOptions.ColorOrder,
                    _ out: UnsafeMutableBufferPointer<Float>, _ f: (UInt8) -> Float) {
        let n = rgb.count
        if order == .rgb {
            for i in 0..<n { out[i] = f(rgb[i]) }
        } else {
            for i in stride(from: 0, to: n, by: 3) {
                out[i] = f(rgb[i + 2])
                out[i + 1] = f(rgb[i + 1])
                out[i + 2] = f(rgb[i])
            }
        }
    }

    /// Mean and population standard deviation (two passes, Double) of `value(byte)`.
    static func meanStd(_ rgb: UnsafeBufferPointer<UInt8>, _ n: Int, _ value: (UInt8) -> Double) -> (Double, Double) {
        // A byte has 256 values: histogram once, then both moments from it.
        var histogram = [Int](repeating: 0, count: 256)
        for x in rgb { histogram[Int(x)] += 1 }
        var sum = 0.0
        for v in 0..<256 where histogram[v] > 0 { sum += Double(histogram[v]) * value(UInt8(v)) }
        let mean = sum / Double(n)
        var squares = 0.0
        for v in 0..<256 where histogram[v] > 0 {
            let d = value(UInt8(v)) - mean
            squares += Double(histogram[v]) * d * d
        }
        return (mean, (squares / Double(n)).squareRoot())
    }
}
