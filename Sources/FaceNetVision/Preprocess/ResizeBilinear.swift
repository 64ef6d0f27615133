import FaceNetKernels
import FaceNetEngine

/// OpenCV's `cv2.resize(src, (w, h), interpolation=cv2.INTER_LINEAR)` on 8-bit images,
/// bit-exact (OpenCV 4.x/5.0 `modules/imgproc/src/resize.cpp`; checked against
/// opencv-python-headless 5.0.0.93: 0 differing bytes over the fixtures).
///
/// What OpenCV does for 8-bit input, and so what this does:
/// - same size: a copy. Exactly 2× smaller on both axes: OpenCV switches to its INTER_AREA
///   fast path, the rounded mean of each 2×2 block, `(a + b + c + d + 2) >> 2`.
/// - otherwise two passes. Source coordinate of output `d` (half-pixel centres):
///   `f = Float((d + 0.5)·(src/dst) − 0.5)`, `s = floor(f)`, weights `1 − (f − s)` and
///   `f − s`, each rounded (half to even) to 11-bit fixed point (×2048).
///   Horizontally `s` is clamped to the image with weight (2048, 0) at both edges; the pass
///   keeps the exact integer sums `S = p₀·w₀ + p₁·w₁` (×2048) per row.
///   Vertically the weights are not clamped, only the rows (to 0…h−1), and OpenCV's 8-bit
///   vertical kernel rounds as `((b₀·(S₀ >> 4)) >> 16) + ((b₁·(S₁ >> 4)) >> 16) + 2) >> 2`
///   (its SIMD and scalar paths agree): this is why a float bilinear differs by up to 1.
package enum OpenCVLinearResize {
    /// Resizes an RGB image to `width × height`.
    package static func resize(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        try ResizeTarget.resize(image, width: width, height: height) { resize($0, $1, width: $2, height: $3) }
    }

    /// Resizes the window of `src` to `width × height` (same channel count), packed output.
    package static func resize(_ src: UnsafeBufferPointer<UInt8>, _ window: PixelWindow, width: Int, height: Int) -> [UInt8] {
        if width == window.width && height == window.height { return window.packed(src) }
        let sx = OpenCVScale(source: window.width, destination: width)
        let sy = OpenCVScale(source: window.height, destination: height)
        if sx.isInteger && sy.isInteger && sx.integer == 2 && sy.integer == 2 {
            // resize.cpp: "INTER_AREA (fast) also is equal to INTER_LINEAR" at exactly 1/2.
            return OpenCVAreaResize.decimate(src, window, factorX: 2, factorY: 2)
        }
        return OpenCVFixedPointLinear.resize(src, window, width: width, height: height, areaMode: false)
    }
}

/// OpenCV's bookkeeping of one axis's scale: `inverse = dst/src` (its `inv_scale`),
/// `scale = 1/inverse`, `integer = cvRound(scale)`, and whether the scale is an integer
/// to within `DBL_EPSILON` (its `is_area_fast`).
package struct OpenCVScale {
    let inverse: Double
    package let scale: Double
    let integer: Int

    package init(source: Int, destination: Int) {
        inverse = Double(destination) / Double(source)
        scale = 1.0 / inverse
        integer = Int(scale.rounded(.toNearestOrEven))
    }

    var isInteger: Bool { abs(scale - Double(integer)) < Double.ulpOfOne }
}

/// OpenCV's 8-bit two-tap fixed-point resampler (`resizeGeneric_` with `HResizeLinear` /
/// `VResizeLinear<uchar, int, short>`), shared by INTER_LINEAR and by INTER_AREA's
/// enlarging branch, which only computes its weights differently (`areaMode`).
package enum OpenCVFixedPointLinear {
    /// Per output index along one axis: the two source indices (already clamped to the
    /// image) and their 11-bit weights.
    package struct AxisTaps {
        package var first: [Int]
        package var second: [Int]
        var w0: [Int32]
        var w1: [Int32]
    }

    /// `saturate_cast<short>(v · INTER_RESIZE_COEF_SCALE)`: Float product, rounded half to even.
    @inline(__always) static func fixedWeight(_ v: Float) -> Int32 {
        let r = (v * 2048).rounded(.toNearestOrEven)
        return Int32(max(-32768, min(32767, r)))
    }

    /// The taps of one axis. `clampWeights` is OpenCV's horizontal treatment (an index
    /// outside the image gets weight (1, 0)); the vertical axis clamps rows only.
    static func taps(source n: Int, destination m: Int, areaMode: Bool, clampWeights: Bool) -> AxisTaps {
        let axis = OpenCVScale(source: n, destination: m)
        var t = AxisTaps(first: [Int](repeating: 0, count: m), second: [Int](repeating: 0, count: m),
                         w0: [Int32](repeating: 0, count: m), w1: [Int32](repeating: 0, count: m))
        for d in 0..<m {
            var s: Int
            var f: Float
            if !areaMode {
                f = Float((Double(d) + 0.5) * axis.scale - 0.5)
                s = Int(f.rounded(.down))
                f -= Float(s)
            } else {
                s = Int((Double(d) * axis.scale).rounded(.down))
                f = Float(Double(d + 1) - Double(s + 1) * axis.inverse)
                f = f <= 0 ? 0 : f - f.rounded(.down)
            }
            if clampWeights {
                if s < 0 { s = 0; f = 0 }
                if s >= n - 1 { s = n - 1; f = 0 }
            }
            t.first[d] = min(max(s, 0), n - 1)
            t.second[d] = min(max(s + 1, 0), n - 1)
            t.w0[d] = fixedWeight(1 - f)
            t.w1[d] = fixedWeight(f)
        }
        return t
    }

    package static func resize(_ src: UnsafeBufferPointer<UInt8>, _ window: PixelWindow,
                       width: Int, height: Int, areaMode: Bool) -> [UInt8] {
        let cn = window.channels
        let xt = taps(source: window.width, destination: width, areaMode: areaMode, clampWeights: true)
        let yt = taps(source: window.height, destination: height, areaMode: areaMode, clampWeights: false)
        let rowLen = width * cn
        var out = [UInt8](repeating: 0, count: rowLen * height)
        // Two horizontally resampled rows, reused while consecutive output rows share them.
        var rows = [Int32](repeating: 0, count: 2 * rowLen)
        var tags = [-1, -1]
        out.withUnsafeMutableBufferPointer { dst in
            rows.withUnsafeMutableBufferPointer { buf in
                guard let s = src.baseAddress, let d = dst.baseAddress, let b = buf.baseAddress else { return }
                func slot(for row: Int, keeping other: Int) -> UnsafeMutablePointer<Int32> {
                    if tags[0] == row { return b }
                    if tags[1] == row { return b + rowLen }
                    let k = tags[0] == other ? 1 : 0
                    horizontal(s + window.rowStart(row), cn: cn, taps: xt, into: b + k * rowLen, width: width)
                    tags[k] = row
                    return b + k * rowLen
                }
                for dy in 0..<height {
                    let ra = yt.first[dy], rb = yt.second[dy]
                    let r0 = slot(for: ra, keeping: rb)
                    let r1 = slot(for: rb, keeping: ra)
                    vertical(r0, r1, b0: yt.w0[dy], b1: yt.w1[dy], into: d + dy * rowLen, count: rowLen)
                }
            }
        }
        return out
    }

    /// One source row → `width·cn` sums `p₀·w₀ + p₁·w₁` (exact integers, scale 2048).
    @inline(__always)
    static func horizontal(_ row: UnsafePointer<UInt8>, cn: Int, taps t: AxisTaps,
                           into dst: UnsafeMutablePointer<Int32>, width: Int) {
        t.first.withUnsafeBufferPointer { x0 in
            t.second.withUnsafeBufferPointer { x1 in
                t.w0.withUnsafeBufferPointer { w0 in
                    t.w1.withUnsafeBufferPointer { w1 in
                        for dx in 0..<width {
                            let p0 = row + x0[dx] * cn, p1 = row + x1[dx] * cn
                            let a0 = w0[dx], a1 = w1[dx]
                            let o = dst + dx * cn
                            for c in 0..<cn {
                                o[c] = Int32(p0[c]) &* a0 &+ Int32(p1[c]) &* a1
                            }
                        }
                    }
                }
            }
        }
    }

    /// OpenCV's 8-bit vertical rounding (see the type's documentation).
    @inline(__always)
    static func vertical(_ r0: UnsafePointer<Int32>, _ r1: UnsafePointer<Int32>, b0: Int32, b1: Int32,
                         into dst: UnsafeMutablePointer<UInt8>, count: Int) {
        for i in 0..<count {
            let v = (((b0 &* (r0[i] >> 4)) >> 16) &+ ((b1 &* (r1[i] >> 4)) >> 16) &+ 2) >> 2
            dst[i] = UInt8(clamping: v)
        }
    }
}
