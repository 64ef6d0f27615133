import FaceNetKernels
import FaceNetEngine

/// Pillow's `Image.resize((w, h), Image.BILINEAR)` on RGB images, bit-exact (Pillow
/// `src/libImaging/Resample.c`; checked against Pillow 13.0.0: 0 differing bytes over the
/// fixtures). This is what made the shared crops and the `synthetic128` inputs.
///
/// Per axis (`precompute_coeffs`): `scale = src/dst`, `filterscale = max(scale, 1)`, so the
/// triangle filter widens to `support = filterscale` when shrinking (antialiasing); output
/// `d` is centred at `c = (d + 0.5)·scale`, reads sources `xmin = Int(c − support + 0.5)`
/// (≥ 0) up to `Int(c + support + 0.5)` (≤ src), weight `max(0, 1 − |(x − c + 0.5)/filterscale|)`
/// in Double, normalised to sum 1, then to fixed point `Int32(k·2²² ± 0.5)`
/// (`PRECISION_BITS = 32 − 8 − 2 = 22`). A pass sums `2²¹ + Σ pixel·k` in Int32 and keeps
/// `clamp(sum >> 22, 0, 255)`, so the intermediate image is 8-bit.
///
/// Pass order (Pillow ≥ 11-era `ImagingResampleInner`): horizontal then vertical, except
/// when the height shrinks by more than twice as many pixels as the width does
/// (`h − dh > 0 && h − dh > 2·(w − dw)`): then vertical first. Square inputs always go
/// horizontal first. A pass along an axis whose size does not change is skipped. Older
/// Pillow releases always went horizontal first; results differ by ≤ 1 only in the
/// vertical-first cases.
package enum PillowBilinearResize {
    /// Resizes an RGB image to `width × height`.
    package static func resize(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        try ResizeTarget.resize(image, width: width, height: height) { resize($0, $1, width: $2, height: $3) }
    }

    static let precisionBits = 22

    /// Fixed-point filter of one axis: output `d` reads `count[d]` sources from `start[d]`
    /// with weights `weights[d·ksize ..< d·ksize + count[d]]`.
    package struct Coefficients {
        var ksize: Int
        package var start: [Int]
        package var count: [Int]
        package var weights: [Int32]
    }

    /// `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear (triangle) filter.
    static func coefficients(source n: Int, destination m: Int) -> Coefficients {
        let scale = Double(n) / Double(m)
        let filterscale = max(scale, 1.0)
        let support = 1.0 * filterscale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        let inverse = 1.0 / filterscale
        var c = Coefficients(ksize: ksize, start: [Int](repeating: 0, count: m),
                             count: [Int](repeating: 0, count: m),
                             weights: [Int32](repeating: 0, count: m * ksize))
        var k = [Double](repeating: 0, count: ksize)
        let one = Double(1 << precisionBits)
        for d in 0..<m {
            let center = (Double(d) + 0.5) * scale
            let xmin = max(Int(center - support + 0.5), 0)  // Int() truncates toward zero, as C's (int)
            let xmax = min(Int(center + support + 0.5), n) - xmin
            var total = 0.0
            for x in 0..<max(xmax, 0) {
                let t = abs((Double(x + xmin) - center + 0.5) * inverse)
                let w = t < 1.0 ? 1.0 - t : 0.0
                k[x] = w
                total += w
            }
            for x in 0..<max(xmax, 0) {
                let v = total != 0 ? k[x] / total : k[x]
                c.weights[d * ksize + x] = Int32(v < 0 ? -0.5 + v * one : 0.5 + v * one)
            }
            c.start[d] = xmin
            c.count[d] = max(xmax, 0)
        }
        return c
    }

    /// Resizes the window of `src` to `width × height`, packed output.
    package static func resize(_ src: UnsafeBufferPointer<UInt8>, _ window: PixelWindow, width: Int, height: Int) -> [UInt8] {
        let w = window.width, h = window.height, cn = window.channels
        let needH = width != w, needV = height != h
        if !needH && !needV { return window.packed(src) }
        let verticalFirst = (h - height) > 0 && (h - height) > (w - width) * 2
        let vc = coefficients(source: h, destination: height)
        let hc = coefficients(source: w, destination: width)
        if verticalFirst {
            let mid = needV ? vertical(src, window, vc) : window.packed(src)
            guard needH else { return mid }
            return mid.withUnsafeBufferPointer {
                horizontal($0, PixelWindow(width: w, height: height, channels: cn), hc, rows: 0..<height)
            }
        }
        // Horizontal first, over the source rows the vertical pass will read.
        let first = vc.start[0], last = vc.start[height - 1] + vc.count[height - 1]
        let mid = needH ? horizontal(src, window, hc, rows: first..<last)
                        : window.cropped(x: 0, y: first, width: w, height: last - first).packed(src)
        guard needV else { return mid }
        var shifted = vc
        for i in 0..<height { shifted.start[i] -= first }
        return mid.withUnsafeBufferPointer {
            vertical($0, PixelWindow(width: width, height: last - first, channels: cn), shifted)
        }
    }

    @inline(__always) static func clip8(_ v: Int32) -> UInt8 {
        UInt8(clamping: v >> Int32(precisionBits))
    }

    /// Horizontal pass over `rows` of the window; output `width × rows.count`.
    static func horizontal(_ src: UnsafeBufferPointer<UInt8>, _ window: PixelWindow, _ c: Coefficients,
                           rows: Range<Int>) -> [UInt8] {
        let cn = window.channels, width = c.start.count
        var out = [UInt8](repeating: 0, count: width * rows.count * cn)
        let half = Int32(1) << Int32(precisionBits - 1)
        out.withUnsafeMutableBufferPointer { dst in
            c.weights.withUnsafeBufferPointer { wk in
                guard let s = src.baseAddress, let d = dst.baseAddress, let kk = wk.baseAddress else { return }
                var acc = [Int32](repeating: 0, count: cn)
                for (i, y) in rows.enumerated() {
                    let row = s + window.rowStart(y)
                    let o = d + i * width * cn
                    for xx in 0..<width {
                        let k = kk + xx * c.ksize
                        let p = row + c.start[xx] * cn, n = c.count[xx]
                        if cn == 3 {
                            // RGB: three accumulators in registers.
                            var s0 = half, s1 = half, s2 = half
                            for x in 0..<n {
                                let q = p + x * 3, kx = k[x]
                                s0 = s0 &+ Int32(q[0]) &* kx
                                s1 = s1 &+ Int32(q[1]) &* kx
                                s2 = s2 &+ Int32(q[2]) &* kx
                            }
                            o[xx * 3] = clip8(s0)
                            o[xx * 3 + 1] = clip8(s1)
                            o[xx * 3 + 2] = clip8(s2)
                            continue
                        }
                        for ch in 0..<cn { acc[ch] = half }
                        for x in 0..<n {
                            let q = p + x * cn
                            for ch in 0..<cn { acc[ch] = acc[ch] &+ Int32(q[ch]) &* k[x] }
                        }
                        for ch in 0..<cn { o[xx * cn + ch] = clip8(acc[ch]) }
                    }
                }
            }
        }
        return out
    }

    /// Vertical pass: output `window.width × c.start.count`.
    static func vertical(_ src: UnsafeBufferPointer<UInt8>, _ window: PixelWindow, _ c: Coefficients) -> [UInt8] {
        let rowLen = window.width * window.channels, height = c.start.count
        var out = [UInt8](repeating: 0, count: rowLen * height)
        var acc = [Int32](repeating: 0, count: rowLen)
        let half = Int32(1) << Int32(precisionBits - 1)
        out.withUnsafeMutableBufferPointer { dst in
            acc.withUnsafeMutableBufferPointer { ab in
                c.weights.withUnsafeBufferPointer { wk in
                    guard let s = src.baseAddress, let d = dst.baseAddress,
                          let a = ab.baseAddress, let kk = wk.baseAddress else { return }
                    for yy in 0..<height {
                        let k = kk + yy * c.ksize
                        a.update(repeating: half, count: rowLen)
                        for y in 0..<c.count[yy] {
                            let row = s + window.rowStart(c.start[yy] + y)
                            let ky = k[y]
                            for i in 0..<rowLen { a[i] = a[i] &+ Int32(row[i]) &* ky }
                        }
                        let o = d + yy * rowLen
                        for i in 0..<rowLen { o[i] = clip8(a[i]) }
                    }
                }
            }
        }
        return out
    }
}
