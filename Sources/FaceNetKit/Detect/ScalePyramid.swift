import Foundation

/// The image pyramid P-Net scans: scales and area-averaged resizing, as the Python `mtcnn`
/// package (1.0.0) builds it with TensorFlow's `resize(method=AREA)`.
enum ScalePyramid {
    /// Scales m·f^k, k = 0 ..< count, with m = 12 / minFaceSize, f the scale factor, and
    /// count = round(log(min side / 12) / −log f − 1) (as `build_scale_pyramid`).
    static func scales(width: Int, height: Int, minFaceSize: Float, scaleFactor: Float, cellSize: Int = 12) -> [Float] {
        let minSide = Double(min(width, height))
        guard minSide >= Double(cellSize), scaleFactor > 0, scaleFactor < 1 else { return [] }
        let count = Int((-(log(minSide / Double(cellSize)) / log(Double(scaleFactor)) + 1)).rounded(.toNearestOrEven))
        let first = Double(cellSize) / Double(minFaceSize)
        return (0..<max(0, count)).map { Float(first * pow(Double(scaleFactor), Double($0))) }
    }

    /// Output size for a scale: truncated, as TensorFlow converts the float size.
    static func scaledSize(width: Int, height: Int, scale: Float) -> (width: Int, height: Int) {
        (Int(Double(width) * Double(scale)), Int(Double(height) * Double(scale)))
    }

    /// The weights one output index takes from the input: the overlap of input cell
    /// [i, i+1) with output cell [o·s, (o+1)·s), divided by s (TensorFlow's resize_area).
    struct Taps {
        var first: [Int32]
        var count: [Int32]
        var weights: [Float]
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

    /// Area-averages an HWC float image (3 channels) to `width` × `height` (≤ input size).
    /// `rows` is scratch for the horizontally reduced image (inHeight × width × 3 floats).
    static func resize(_ input: UnsafePointer<Float>, width inWidth: Int, height inHeight: Int,
                       to output: UnsafeMutablePointer<Float>, width: Int, height: Int, rows: UnsafeMutablePointer<Float>) {
        let tx = taps(input: inWidth, output: width)
        let ty = taps(input: inHeight, output: height)
        tx.withPointers { xFirst, xCount, xOffset, xWeight in
            // Horizontal pass: every input row to `width` columns.
            for y in 0..<inHeight {
                let src = input + y * inWidth * 3
                let dst = rows + y * width * 3
                for o in 0..<width {
                    let first = Int(xFirst[o]), count = Int(xCount[o]), w = xWeight + Int(xOffset[o])
                    if first + count < inWidth {
                        // R, G, B (and the next float, unused) in one 4-lane vector: each lane adds
                        // the same products in the same order as the scalar loop, so nothing changes.
                        var sum = SIMD4<Float>()
                        for k in 0..<count {
                            sum += w[k] * UnsafeRawPointer(src + (first + k) * 3).loadUnaligned(as: SIMD4<Float>.self)
                        }
                        dst[o * 3] = sum[0]
                        dst[o * 3 + 1] = sum[1]
                        dst[o * 3 + 2] = sum[2]
                        continue
                    }
                    // Taps reaching the last pixel: a 4-float load would read past the image.
                    var r: Float = 0, g: Float = 0, b: Float = 0
                    for k in 0..<count {
                        let p = src + min(first + k, inWidth - 1) * 3
                        r += w[k] * p[0]
                        g += w[k] * p[1]
                        b += w[k] * p[2]
                    }
                    dst[o * 3] = r
                    dst[o * 3 + 1] = g
                    dst[o * 3 + 2] = b
                }
            }
        }
        ty.withPointers { yFirst, yCount, yOffset, yWeight in
            let rowFloats = width * 3
            for o in 0..<height {
                let dst = output + o * rowFloats
                dst.initialize(repeating: 0, count: rowFloats)
                let first = Int(yFirst[o]), w = yWeight + Int(yOffset[o])
                for k in 0..<Int(yCount[o]) {
                    let weight = w[k]
                    let src = rows + min(first + k, inHeight - 1) * rowFloats
                    for i in 0..<rowFloats { dst[i] += weight * src[i] }
                }
            }
        }
    }
}

extension ScalePyramid.Taps {
    /// The four arrays as pointers, for the inner loops.
    func withPointers(_ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Float>) -> Void) {
        first.withUnsafeBufferPointer { f in
            count.withUnsafeBufferPointer { c in
                offsets.withUnsafeBufferPointer { o in
                    weights.withUnsafeBufferPointer { w in
                        guard let f = f.baseAddress, let c = c.baseAddress, let o = o.baseAddress, let w = w.baseAddress else { return }
                        body(f, c, o, w)
                    }
                }
            }
        }
    }
}
