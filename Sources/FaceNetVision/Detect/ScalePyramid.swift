import Foundation
import FaceNetKernels
import FaceNetEngine

/// The image pyramid P-Net scans: scales and area-averaged resizing, as the Python `mtcnn`
/// package (1.0.0) builds it with TensorFlow's `resize(method=AREA)`.
package enum ScalePyramid {
    /// Scales m·f^k, k = 0 ..< count, with m = 12 / minFaceSize and f the scale factor,
    /// ending where the Python package's pyramid ends at its default min face size (20 px):
    /// there `build_scale_pyramid` takes c = round(log(min side / 12) / −log f − 1) levels
    /// from 12 / 20, the last, s = (12 / 20)·f^(c−1), leaving a short side of 12–17 px
    /// (faces up to 70–100% of the short side). Here count is the fewest levels from m
    /// that reach s, so at 20 px it is c (the same scales, bit for bit). The package keeps
    /// c for every min face size, so a smaller one, starting higher, stopped short of large
    /// faces: at 10 px, img21's face (226×314 px in 439×579) was lost.
    package static func scales(width: Int, height: Int, minFaceSize: Float, scaleFactor: Float, cellSize: Int = 12) -> [Float] {
        let minSide = Double(min(width, height))
        guard minSide >= Double(cellSize), scaleFactor > 0, scaleFactor < 1, minFaceSize > 0 else { return [] }
        let f = Double(scaleFactor)
        let packageCount = Int((-(log(minSide / Double(cellSize)) / log(f) + 1)).rounded(.toNearestOrEven))
        let last = Double(cellSize) / 20 * pow(f, Double(packageCount - 1))
        let first = Double(cellSize) / Double(minFaceSize)
        // Steps from m down to s; at 20 px a whole number up to rounding, which the 1e-9 absorbs.
        let steps = (log(first / last) / -log(f) - 1e-9).rounded(.up)
        let count = steps.isFinite ? Int(steps) + 1 : 0
        return (0..<max(0, count)).map { Float(first * pow(f, Double($0))) }
    }

    /// Output size for a scale: truncated, as TensorFlow converts the float size.
    static func scaledSize(width: Int, height: Int, scale: Float) -> (width: Int, height: Int) {
        (Int(Double(width) * Double(scale)), Int(Double(height) * Double(scale)))
    }

    /// The weights one output index takes from the input: the overlap of input cell
    /// [i, i+1) with output cell [o·s, (o+1)·s), divided by s (TensorFlow's resize_area).
    package struct Taps {
        package var first: [Int32]
        package var count: [Int32]
        package var weights: [Float]
        var offsets: [Int32]
    }

    static func taps(input n: Int, output m: Int) -> Taps {
        let s = Double(n) / Double(m)
        var taps = Taps(first: [], count: [], weights: [], offsets: [])
        for o in 0..<m {
            let start = Double(o) * s
            let end = Double(o + 1) * s
            let lo = Int(start.rounded(.down))
            let hi = Int(end.rounded(.up))
            taps.first.append(Int32(lo))
            taps.offsets.append(Int32(taps.weights.count))
            var used = 0
            for i in lo..<hi {
                let w = min(Double(i + 1), end) - max(Double(i), start)
                guard w > 0 else { continue }
                taps.weights.append(Float(w / s))
                used += 1
            }
            taps.count.append(Int32(used))
        }
        return taps
    }

    /// Floats of scratch `resize` needs for an input `inWidth` pixels wide: one input-wide
    /// line of RGB, plus one so the 4-lane loads of the last pixel stay inside it.
    static func lineFloats(inWidth: Int) -> Int { inWidth * 3 + 1 }

    /// Area-averages an HWC image (3 channels) to `width` × `height` (smaller, or larger for
    /// a min face size under 12 px: each output cell then takes one or two input cells) and
    /// maps each averaged value by `map`. Vertical pass first: each output row is one
    /// weighted sum of the input rows it covers (contiguous, vectorised), then only that
    /// line is reduced horizontally, so the input is read once per level and the per-pixel
    /// work scales with the output, not the input. With 8-bit input that read is a quarter
    /// of the float image's (the photo stays in cache across levels); the weights sum to 1,
    /// so mapping after averaging equals averaging mapped pixels, up to float rounding.
    /// `line`: scratch of `lineFloats(inWidth:)` floats.
    package static func resize<Pixel: MTCNNPixel>(_ input: UnsafePointer<Pixel>, width inWidth: Int, height inHeight: Int,
                                          to output: UnsafeMutablePointer<Float>, width: Int, height: Int,
                                          map: PixelMap = .identity, line: UnsafeMutablePointer<Float>) {
        let tx = taps(input: inWidth, output: width)
        let ty = taps(input: inHeight, output: height)
        let lineCount = inWidth * 3
        line[lineCount] = 0
        ty.withPointers { yFirst, yCount, yOffset, yWeight in
            tx.withPointers { xFirst, xCount, xOffset, xWeight in
                for o in 0..<height {
                    let first = Int(yFirst[o]), w = yWeight + Int(yOffset[o]), count = max(1, Int(yCount[o]))
                    func row(_ k: Int) -> UnsafePointer<Pixel> { input + min(first + k, inHeight - 1) * lineCount }
                    // Two input rows per pass over the line: half the line's loads and stores.
                    var k = 0
                    if count % 2 == 1 {
                        let src = row(0), weight = w[0]
                        for i in 0..<lineCount { line[i] = weight * src[i].floatValue }
                        k = 1
                    } else {
                        let a = row(0), b = row(1), wa = w[0], wb = w[1]
                        for i in 0..<lineCount { line[i] = wa * a[i].floatValue + wb * b[i].floatValue }
                        k = 2
                    }
                    while k < count {
                        let a = row(k), b = row(k + 1), wa = w[k], wb = w[k + 1]
                        for i in 0..<lineCount { line[i] += wa * a[i].floatValue + wb * b[i].floatValue }
                        k += 2
                    }
                    let dst = output + o * width * 3
                    for x in 0..<width {
                        let first = Int(xFirst[x]), wx = xWeight + Int(xOffset[x])
                        // R, G, B and one float past them in one 4-lane load; the fourth lane is unused.
                        var sum = SIMD4<Float>()
                        for k in 0..<Int(xCount[x]) {
                            let column = min(first + k, inWidth - 1)
                            sum += wx[k] * UnsafeRawPointer(line + column * 3).loadUnaligned(as: SIMD4<Float>.self)
                        }
                        dst[x * 3] = map(sum[0])
                        dst[x * 3 + 1] = map(sum[1])
                        dst[x * 3 + 2] = map(sum[2])
                    }
                }
            }
        }
    }

    /// Naive reference for `resize`: each output pixel the covered-area-weighted mean of
    /// the input, in Double, straight from the definition.
    static func referenceResize(_ input: [Float], width inWidth: Int, height inHeight: Int,
                                width: Int, height: Int) -> [Float] {
        let sx = Double(inWidth) / Double(width), sy = Double(inHeight) / Double(height)
        func overlap(_ i: Int, _ start: Double, _ end: Double) -> Double {
            max(0, min(Double(i + 1), end) - max(Double(i), start))
        }
        var out = [Float](repeating: 0, count: width * height * 3)
        for oy in 0..<height {
            let y0 = Double(oy) * sy, y1 = Double(oy + 1) * sy
            for ox in 0..<width {
                let x0 = Double(ox) * sx, x1 = Double(ox + 1) * sx
                var sum = [0.0, 0.0, 0.0]
                for iy in Int(y0.rounded(.down))..<min(inHeight, Int(y1.rounded(.up))) {
                    let wy = overlap(iy, y0, y1)
                    for ix in Int(x0.rounded(.down))..<min(inWidth, Int(x1.rounded(.up))) {
                        let w = wy * overlap(ix, x0, x1)
                        for c in 0..<3 { sum[c] += w * Double(input[(iy * inWidth + ix) * 3 + c]) }
                    }
                }
                for c in 0..<3 { out[(oy * width + ox) * 3 + c] = Float(sum[c] / (sx * sy)) }
            }
        }
        return out
    }
}

/// What the pyramid and the patch sampler read: normalised floats, or the photo's 8-bit
/// values, mapped to MTCNN's input range after resampling.
package protocol MTCNNPixel {
    var floatValue: Float { get }
}

extension Float: MTCNNPixel {
    package var floatValue: Float { self }
}

extension UInt8: MTCNNPixel {
    package var floatValue: Float { Float(self) }
}

/// An affine map applied to resampled values: (v − subtract) · multiply.
package struct PixelMap: Sendable {
    var subtract: Float
    package var multiply: Float

    package static let identity = PixelMap(subtract: 0, multiply: 1)
    /// MTCNN's input normalisation, (x − 127.5) / 128 (dividing by 128 and multiplying by
    /// 1/128 give the same float).
    package static let mtcnn = PixelMap(subtract: 127.5, multiply: 1.0 / 128)

    @inline(__always) func callAsFunction(_ v: Float) -> Float { (v - subtract) * multiply }
}

extension ScalePyramid.Taps {
    /// The four arrays as pointers, for the inner loops.
    func withPointers(_ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Float>) -> Void) {
        first.withUnsafeBufferPointer { f in
            count.withUnsafeBufferPointer { c in
                offsets.withUnsafeBufferPointer { o in
                    weights.withUnsafeBufferPointer { w in
                        // nil only for an empty output row or column: nothing to resample.
                        guard let f = f.baseAddress, let c = c.baseAddress, let o = o.baseAddress, let w = w.baseAddress else { return }
                        body(f, c, o, w)
                    }
                }
            }
        }
    }
}
