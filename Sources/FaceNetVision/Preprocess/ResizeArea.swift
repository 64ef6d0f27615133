import FaceNetKernels
import FaceNetEngine

/// OpenCV's `cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)` on 8-bit images,
/// bit-exact (OpenCV 4.x/5.0 `resize.cpp`; checked against opencv-python-headless 5.0.0.93).
///
/// OpenCV has three code paths, chosen from the per-axis scales `src/dst`:
/// - both scales integers (to `DBL_EPSILON`) and ≥ 1: block means. A 2×2 block gives
///   `(Σ + 2) >> 2`; any other k×l block gives `Σ · Float(1/(k·l))` rounded half to even.
/// - both scales ≥ 1 otherwise: true area averaging. Each output pixel covers `scale`
///   source pixels per axis; edge pixels count with their covered fraction. Weights are
///   Float, sums Float in OpenCV's order (row by row: `Σ pixel·α` across, then `Σ β·row`
///   down), result rounded half to even.
/// - any axis enlarging: not an area filter at all but OpenCV's fixed-point bilinear
///   (see `OpenCVLinearResize`) with different weights: for output `d`,
///   `s = floor(d·scale)`, `f = (d + 1) − (s + 1)/scale`, weight `f − floor(f)` if `f > 0`
///   else 0, i.e. nearest-neighbour-like blocks with a one-pixel linear ramp between them.
///   This applies to both axes whenever either one enlarges.
package enum OpenCVAreaResize {
    /// Resizes an RGB image to `width × height`.
    package static func resize(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        try ResizeTarget.resize(image, width: width, height: height) { resize($0, $1, width: $2, height: $3) }
    }

    /// Resizes the window of `src` to `width × height`, packed output.
    package static func resize(_ src: UnsafeBufferPointer<UInt8>, _ window: PixelWindow, width: Int, height: Int) -> [UInt8] {
        if width == window.width && height == window.height { return window.packed(src) }
        let sx = OpenCVScale(source: window.width, destination: width)
        let sy = OpenCVScale(source: window.height, destination: height)
        guard sx.scale >= 1 && sy.scale >= 1 else {
            return OpenCVFixedPointLinear.resize(src, window, width: width, height: height, areaMode: true)
        }
        if sx.isInteger && sy.isInteger {
            return decimate(src, window, factorX: sx.integer, factorY: sy.integer, width: width, height: height)
        }
        return average(src, window, scaleX: sx.scale, scaleY: sy.scale, width: width, height: height)
    }

    /// Integer-factor block means (`resizeAreaFast_`). Output size defaults to the source
    /// size divided by the factors.
    static func decimate(_ src: UnsafeBufferPointer<UInt8>, _ window: PixelWindow, factorX fx: Int, factorY fy: Int,
                         width: Int? = nil, height: Int? = nil) -> [UInt8] {
        let cn = window.channels
        let dw = width ?? window.width / fx, dh = height ?? window.height / fy
        let rounded2x2 = fx == 2 && fy == 2 && (cn == 1 || cn == 3 || cn == 4)
        let inverseArea = 1 / Float(fx * fy)
        let fullColumns = window.width / fx
        var out = [UInt8](repeating: 0, count: dw * dh * cn)
        out.withUnsafeMutableBufferPointer { dst in
            guard let s = src.baseAddress, let d = dst.baseAddress else { return }
            for dy in 0..<dh {
                let y0 = dy * fy
                if y0 >= window.height { continue }  // OpenCV writes zeros there
                let fullRow = y0 + fy <= window.height
                for dx in 0..<dw {
                    let x0 = dx * fx
                    let o = d + (dy * dw + dx) * cn
                    if fullRow && dx < fullColumns {
                        for c in 0..<cn {
                            var sum = 0
                            for yy in 0..<fy {
                                let p = s + window.rowStart(y0 + yy) + x0 * cn + c
                                for xx in 0..<fx { sum += Int(p[xx * cn]) }
                            }
                            o[c] = rounded2x2 ? UInt8(truncatingIfNeeded: (sum + 2) >> 2)
                                              : roundToByte(Float(sum) * inverseArea)
                        }
                    } else {
                        // A block cut by the border: mean of the pixels it holds.
                        for c in 0..<cn {
                            var sum = 0, count = 0
                            for yy in 0..<fy where y0 + yy < window.height {
                                for xx in 0..<fx where x0 + xx < window.width {
                                    sum += Int(s[window.rowStart(y0 + yy) + (x0 + xx) * cn + c])
                                    count += 1
                                }
                            }
                            o[c] = count == 0 ? 0 : roundToByte(Float(sum) / Float(count))
                        }
                    }
                }
            }
        }
        return out
    }

    /// One output index's share of a source index (`DecimateAlpha`): both already
    /// multiplied by the channel count on the horizontal axis, as in OpenCV.
    package struct Share {
        package let destination: Int
        package let source: Int
        let alpha: Float
    }

    /// OpenCV's `computeResizeAreaTab`: the source pixels each output pixel covers.
    package static func shares(source n: Int, destination m: Int, scale: Double, channels cn: Int) -> [Share] {
        var tab: [Share] = []
        tab.reserveCapacity(2 * n + m)
        for d in 0..<m {
            let f1 = Double(d) * scale, f2 = f1 + scale
            let cellWidth = min(scale, Double(n) - f1)
            var s2 = Int(f2.rounded(.down))
            s2 = min(s2, n - 1)
            let s1 = min(Int(f1.rounded(.up)), s2)
            if Double(s1) - f1 > 1e-3 {
                tab.append(Share(destination: d * cn, source: (s1 - 1) * cn, alpha: Float((Double(s1) - f1) / cellWidth)))
            }
            if s1 < s2 {
                for s in s1..<s2 {
                    tab.append(Share(destination: d * cn, source: s * cn, alpha: Float(1.0 / cellWidth)))
                }
            }
            if f2 - Double(s2) > 1e-3 {
                let part = min(min(f2 - Double(s2), 1.0), cellWidth)
                tab.append(Share(destination: d * cn, source: s2 * cn, alpha: Float(part / cellWidth)))
            }
        }
        return tab
    }

    /// Fractional-area averaging (`resizeArea_<uchar, float>`), Float arithmetic in
    /// OpenCV's order so the rounding matches.
    static func average(_ src: UnsafeBufferPointer<UInt8>, _ window: PixelWindow,
                        scaleX: Double, scaleY: Double, width: Int, height: Int) -> [UInt8] {
        let cn = window.channels
        let xtab = shares(source: window.width, destination: width, scale: scaleX, channels: cn)
        let ytab = shares(source: window.height, destination: height, scale: scaleY, channels: 1)
        let rowLen = width * cn
        var out = [UInt8](repeating: 0, count: rowLen * height)
        var buf = [Float](repeating: 0, count: rowLen)
        var sum = [Float](repeating: 0, count: rowLen)
        guard let firstRow = ytab.first?.destination else { return out }
        out.withUnsafeMutableBufferPointer { dst in
            buf.withUnsafeMutableBufferPointer { bp in
                sum.withUnsafeMutableBufferPointer { sp in
                    xtab.withUnsafeBufferPointer { xt in
                        guard let s = src.baseAddress, let d = dst.baseAddress,
                              let b = bp.baseAddress, let acc = sp.baseAddress else { return }
                        var current = firstRow
                        for entry in ytab {
                            let row = s + window.rowStart(entry.source)
                            b.update(repeating: 0, count: rowLen)
                            for share in xt {
                                let p = row + share.source, q = b + share.destination
                                for c in 0..<cn { q[c] = q[c] + Float(p[c]) * share.alpha }
                            }
                            let beta = entry.alpha
                            if entry.destination != current {
                                store(acc, into: d + current * rowLen, count: rowLen)
                                for i in 0..<rowLen { acc[i] = beta * b[i] }
                                current = entry.destination
                            } else {
                                for i in 0..<rowLen { acc[i] = acc[i] + beta * b[i] }
                            }
                        }
                        store(acc, into: d + current * rowLen, count: rowLen)
                    }
                }
            }
        }
        return out
    }

    @inline(__always)
    static func store(_ sum: UnsafePointer<Float>, into dst: UnsafeMutablePointer<UInt8>, count: Int) {
        for i in 0..<count { dst[i] = roundToByte(sum[i]) }
    }

    /// `saturate_cast<uchar>(float)`: round half to even, clamp to 0…255 (NaN → 0).
    @inline(__always) static func roundToByte(_ v: Float) -> UInt8 {
        let r = v.rounded(.toNearestOrEven)
        return r >= 255 ? 255 : (r > 0 ? UInt8(r) : 0)
    }
}
