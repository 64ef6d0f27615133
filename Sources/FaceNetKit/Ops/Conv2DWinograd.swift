import Foundation

/// Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions (`same` or `valid` padding):
/// 16 multiplies per 2×2 outputs and channel pair instead of 36, so 2.25× fewer FLOPs.
///
/// Per chunk of 2×2 output tiles: each 4×4 input patch d (zero outside the image) becomes
/// V = Bᵀ d B; then 16 GEMMs, one per position ξ of the 4×4 transform,
/// M[ξ] (tiles × filters) = V[ξ] (tiles × inChannels) · U[ξ] (inChannels × filters);
/// then Y = Aᵀ M A gives the 2×2 outputs. U = G g Gᵀ is computed once at load.
enum Conv2DWinograd {
    /// Whether this convolution can run here.
    static func applies(to g: Conv2DGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1 && g.strideWidth == 1
    }

    /// Whether to precompute the transform for a layer: 3×3 stride 1 with enough channels
    /// for the 16 GEMMs (K = inChannels, N = filters) to run well and the transforms to stay
    /// cheap next to them. Measured on FaceNet (Docs/performance.md): 32→64 and wider win
    /// (1.3–2.8× per layer), 32→32 loses or breaks even.
    static func worthwhile(config: Conv2DConfig, inChannels: Int) -> Bool {
        enabled && config.kernel == (3, 3) && config.strides == (1, 1) && inChannels >= 32 && config.filters >= minimumFilters
    }
    /// `FACENET_WINOGRAD_MIN_FILTERS` overrides the filter threshold, for measuring it.
    static let minimumFilters = Int(ProcessInfo.processInfo.environment["FACENET_WINOGRAD_MIN_FILTERS"] ?? "") ?? 64
    /// `FACENET_WINOGRAD=0` in the environment turns the Winograd path off, for comparisons.
    static let enabled = ProcessInfo.processInfo.environment["FACENET_WINOGRAD"] != "0"

    static func tiles(_ g: Conv2DGeometry) -> (rows: Int, columns: Int, total: Int) {
        let rows = (g.outHeight + 1) / 2, columns = (g.outWidth + 1) / 2
        return (rows, columns, g.batch * rows * columns)
    }

    /// Tiles per chunk so V and M stay under `scratchLimit` floats.
    static func tilesPerChunk(_ g: Conv2DGeometry, scratchLimit: Int) -> Int {
        max(1, min(tiles(g).total, scratchLimit / (16 * (g.inChannels + g.filters))))
    }

    static func scratchCount(_ g: Conv2DGeometry, scratchLimit: Int) -> Int {
        16 * tilesPerChunk(g, scratchLimit: scratchLimit) * (g.inChannels + g.filters) + g.inChannels
    }

    /// U = G g Gᵀ for every (input channel, filter): 16 matrices of (inChannels × filters),
    /// position-major, from an HWIO 3×3 kernel.
    static func transformKernel(_ kernel: [Float], inChannels: Int, filters: Int) -> [Float] {
        var u = [Float](repeating: 0, count: 16 * inChannels * filters)
        let plane = inChannels * filters
        // In Double, on locals only (no per-pair arrays: this runs ~10⁵ times per model load).
        u.withUnsafeMutableBufferPointer { out in
            kernel.withUnsafeBufferPointer { k in
                guard let out = out.baseAddress, let k = k.baseAddress else { return }
                for ci in 0..<inChannels {
                    for co in 0..<filters {
                        func tap(_ kh: Int, _ kw: Int) -> Double { Double(k[((kh * 3 + kw) * inChannels + ci) * filters + co]) }
                        // G g: 4×3, column by column.
                        func column(_ c: Int) -> (Double, Double, Double, Double) {
                            let g0 = tap(0, c), g1 = tap(1, c), g2 = tap(2, c)
                            return (g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2)
                        }
                        let c0 = column(0), c1 = column(1), c2 = column(2)
                        // (G g) Gᵀ: row r of G g times Gᵀ.
                        func store(_ r: Int, _ a: Double, _ b: Double, _ c: Double) {
                            let base = out + ci * filters + co
                            base[(r * 4 + 0) * plane] = Float(a)
                            base[(r * 4 + 1) * plane] = Float((a + b + c) / 2)
                            base[(r * 4 + 2) * plane] = Float((a - b + c) / 2)
                            base[(r * 4 + 3) * plane] = Float(c)
                        }
                        store(0, c0.0, c1.0, c2.0)
                        store(1, c0.1, c1.1, c2.1)
                        store(2, c0.2, c1.2, c2.2)
                        store(3, c0.3, c1.3, c2.3)
                    }
                }
            }
        }
        return u
    }

    /// Runs the convolution with transformed weights `u` (16 matrices of inChannels × filters);
    /// output rows `ldc` floats apart.
    /// `scratch` holds `scratchCount` floats.
    static func run(_ g: Conv2DGeometry, input: UnsafePointer<Float>, u: GEMMWeights,
                    output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue,
                    scratch: UnsafeMutablePointer<Float>, scratchLimit: Int) {
        multiply(g, tiles: 0..<tiles(g).total, input: input, u: u, output: output, ldc: ldc, epilogue: epilogue,
                 scratch: scratch, scratchLimit: scratchLimit)
        epilogue.apply(to: output, rows: g.rows, columns: g.filters, ldc: ldc)
    }

    /// The transforms and GEMMs for the tiles in `tileRange` (alpha and accumulation
    /// applied, not the rest of the epilogue): threads share a convolution by tiles.
    static func multiply(_ g: Conv2DGeometry, tiles tileRange: Range<Int>, input: UnsafePointer<Float>, u: GEMMWeights,
                         output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue,
                         scratch: UnsafeMutablePointer<Float>, scratchLimit: Int) {
        let (tileRows, tileColumns, _) = tiles(g)
        let total = tileRange.upperBound
        let chunk = tilesPerChunk(g, scratchLimit: scratchLimit)
        let cin = g.inChannels, cout = g.filters
        let v = scratch, m = scratch + 16 * chunk * cin
        let zeros = m + 16 * chunk * cout  // one pixel of zeros, for taps outside the image
        zeros.initialize(repeating: 0, count: cin)
        // The 16 tap pointers of a patch live in a tuple: on the stack, no allocation.
        let zero = UnsafePointer(zeros)
        var tapStorage = (zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero)
        withUnsafeMutableBytes(of: &tapStorage) { raw in
            guard let base = raw.baseAddress else { return }
            let taps = base.assumingMemoryBound(to: UnsafePointer<Float>.self)
            var first = tileRange.lowerBound
            while first < total {
                let count = min(chunk, total - first)
                // Input transform of each tile's 4×4 patch, channels innermost.
                for t in 0..<count {
                    let tile = first + t
                    let n = tile / (tileRows * tileColumns)
                    let rest = tile - n * tileRows * tileColumns
                    let ty = rest / tileColumns, tx = rest - (rest / tileColumns) * tileColumns
                    let image = input + n * g.inHeight * g.inWidth * cin
                    for i in 0..<4 {
                        let ih = ty * 2 - g.padTop + i
                        for j in 0..<4 {
                            let iw = tx * 2 - g.padLeft + j
                            let inside = ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth
                            taps[i * 4 + j] = inside ? image + (ih * g.inWidth + iw) * cin : UnsafePointer(zeros)
                        }
                    }
                    let stride = count * cin
                    let base = v + t * cin
                    for c in 0..<cin {
                        // Bᵀ d: rows.
                        let d00 = taps[0][c], d01 = taps[1][c], d02 = taps[2][c], d03 = taps[3][c]
                        let d10 = taps[4][c], d11 = taps[5][c], d12 = taps[6][c], d13 = taps[7][c]
                        let d20 = taps[8][c], d21 = taps[9][c], d22 = taps[10][c], d23 = taps[11][c]
                        let d30 = taps[12][c], d31 = taps[13][c], d32 = taps[14][c], d33 = taps[15][c]
                        let t00 = d00 - d20, t01 = d01 - d21, t02 = d02 - d22, t03 = d03 - d23
                        let t10 = d10 + d20, t11 = d11 + d21, t12 = d12 + d22, t13 = d13 + d23
                        let t20 = d20 - d10, t21 = d21 - d11, t22 = d22 - d12, t23 = d23 - d13
                        let t30 = d10 - d30, t31 = d11 - d31, t32 = d12 - d32, t33 = d13 - d33
                        // (Bᵀ d) B: columns.
                        base[c] = t00 - t02
                        base[stride + c] = t01 + t02
                        base[2 * stride + c] = t02 - t01
                        base[3 * stride + c] = t01 - t03
                        base[4 * stride + c] = t10 - t12
                        base[5 * stride + c] = t11 + t12
                        base[6 * stride + c] = t12 - t11
                        base[7 * stride + c] = t11 - t13
                        base[8 * stride + c] = t20 - t22
                        base[9 * stride + c] = t21 + t22
                        base[10 * stride + c] = t22 - t21
                        base[11 * stride + c] = t21 - t23
                        base[12 * stride + c] = t30 - t32
                        base[13 * stride + c] = t31 + t32
                        base[14 * stride + c] = t32 - t31
                        base[15 * stride + c] = t31 - t33
                    }
                }
                for xi in 0..<16 {
                    u.multiply(matrix: xi, m: count, a: v + xi * count * cin, c: m + xi * count * cout, ldc: cout)
                }
                // Output transform, written to the 2×2 outputs that exist.
                let plane = count * cout
                for t in 0..<count {
                    let tile = first + t
                    let n = tile / (tileRows * tileColumns)
                    let rest = tile - n * tileRows * tileColumns
                    let ty = rest / tileColumns, tx = rest - (rest / tileColumns) * tileColumns
                    let oh = ty * 2, ow = tx * 2
                    let rowBase = (n * g.outHeight + oh) * g.outWidth + ow
                    let down = oh + 1 < g.outHeight, right = ow + 1 < g.outWidth
                    let y00 = output + rowBase * ldc
                    let y01 = output + (rowBase + 1) * ldc
                    let y10 = output + (rowBase + g.outWidth) * ldc
                    let y11 = output + (rowBase + g.outWidth + 1) * ldc
                    let mt = m + t * cout
                    let alpha = epilogue.alpha
                    for co in 0..<cout {
                        let m00 = mt[co], m01 = mt[plane + co], m02 = mt[2 * plane + co], m03 = mt[3 * plane + co]
                        let m10 = mt[4 * plane + co], m11 = mt[5 * plane + co], m12 = mt[6 * plane + co], m13 = mt[7 * plane + co]
                        let m20 = mt[8 * plane + co], m21 = mt[9 * plane + co], m22 = mt[10 * plane + co], m23 = mt[11 * plane + co]
                        let m30 = mt[12 * plane + co], m31 = mt[13 * plane + co], m32 = mt[14 * plane + co], m33 = mt[15 * plane + co]
                        // Aᵀ m: 2×4.
                        let a0 = m00 + m10 + m20, a1 = m01 + m11 + m21, a2 = m02 + m12 + m22, a3 = m03 + m13 + m23
                        let b0 = m10 - m20 - m30, b1 = m11 - m21 - m31, b2 = m12 - m22 - m32, b3 = m13 - m23 - m33
                        // (Aᵀ m) A: 2×2.
                        let o00 = alpha * (a0 + a1 + a2), o01 = alpha * (a1 - a2 - a3)
                        let o10 = alpha * (b0 + b1 + b2), o11 = alpha * (b1 - b2 - b3)
                        if epilogue.accumulate {
                            y00[co] += o00
                            if right { y01[co] += o01 }
                            if down { y10[co] += o10 }
                            if down && right { y11[co] += o11 }
                        } else {
                            y00[co] = o00
                            if right { y01[co] = o01 }
                            if down { y10[co] = o10 }
                            if down && right { y11[co] = o11 }
                        }
                    }
                }
                first += count
            }
        }
    }
}
