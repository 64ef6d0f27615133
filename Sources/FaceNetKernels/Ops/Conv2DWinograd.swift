import Foundation

/// The Winograd variants: which kernel each takes and the output tile it makes.
package enum WinogradTile: Sendable, CaseIterable {
    /// F(2×2, 3×3): 4×4 input tiles, 16 positions, 2.25× fewer multiplies.
    case f2x2
    /// F(4×4, 3×3): 6×6 input tiles, 36 positions, 4× fewer multiplies.
    case f4x4
    /// F(2, 7) along each row, for 1×7 kernels: 1×8 input tiles, 8 positions, 1.75× fewer.
    case rowF2x7
    /// F(2, 7) down each column, for 7×1 kernels: 8×1 input tiles.
    case columnF2x7

    package var kernel: (height: Int, width: Int) {
        switch self {
        case .f2x2, .f4x4: (3, 3)
        case .rowF2x7: (1, 7)
        case .columnF2x7: (7, 1)
        }
    }
    /// Outputs per tile, down and across.
    package var output: (height: Int, width: Int) {
        switch self {
        case .f2x2: (2, 2)
        case .f4x4: (4, 4)
        case .rowF2x7: (1, 2)
        case .columnF2x7: (2, 1)
        }
    }
    /// Input pixels per tile: the output tile plus the kernel's overhang.
    var span: (height: Int, width: Int) {
        (output.height + kernel.height - 1, output.width + kernel.width - 1)
    }
    /// Points of the transform: GEMMs per chunk of tiles.
    package var positions: Int { span.height * span.width }
}

/// One Winograd variant as its three transforms (`WinogradF2x2`, `WinogradF4x4`,
/// `WinogradF2x7`). Taps, positions and outputs are numbered row-major over the tile.
package protocol WinogradTransform {
    /// U of one (input channel, filter) pair: `g` holds the kernel's taps row-major,
    /// `u` receives the positions; `scratch` holds 3 × 6 doubles.
    static func transformKernel(_ g: UnsafePointer<Double>, into u: UnsafeMutablePointer<Double>,
                                scratch: UnsafeMutablePointer<Double>)
    /// V = Bᵀ d (B) of one tile: `taps[i]` points at the `channels` floats of the tile's input
    /// pixel i (or at zeros); position ξ of channel c goes to `v[ξ·stride + c]`.
    static func transformInput(taps: UnsafePointer<UnsafePointer<Float>>, channels: Int,
                               into v: UnsafeMutablePointer<Float>, stride: Int)
    /// Y = alpha · Aᵀ M (A) of one tile (added to Y when `accumulate`): position ξ of filter co
    /// is `m[ξ·plane + co]`; output (r, c) goes to `y[r·outputWidth + c]`, for r < rows,
    /// c < columns only.
    static func transformOutput(m: UnsafePointer<Float>, plane: Int, filters: Int,
                                into y: UnsafePointer<UnsafeMutablePointer<Float>>, rows: Int, columns: Int,
                                alpha: Float, accumulate: Bool)
}

/// The 3×3 variants F(m×m, 3×3), whose kernel transform U = G g Gᵀ is G on g's columns,
/// then on the rows of G g.
package protocol Winograd3x3Transform: WinogradTransform {
    static var span: Int { get }
    /// G (span × 3) times three kernel values; `store(i, value)` takes the span results.
    static func kernelLine(_ g0: Double, _ g1: Double, _ g2: Double, into store: (Int, Double) -> Void)
}

extension Winograd3x3Transform {
    package static func transformKernel(_ g: UnsafePointer<Double>, into u: UnsafeMutablePointer<Double>,
                                scratch gg: UnsafeMutablePointer<Double>) {
        for kw in 0..<3 { kernelLine(g[kw], g[3 + kw], g[6 + kw]) { r, value in gg[r * 3 + kw] = value } }
        for r in 0..<span {
            kernelLine(gg[r * 3], gg[r * 3 + 1], gg[r * 3 + 2]) { s, value in u[r * span + s] = value }
        }
    }
}

/// Winograd convolution for stride-1 3×3, 1×7 and 7×1 convolutions (`same` or `valid`
/// padding).
///
/// Per chunk of output tiles: each input patch d (zero outside the image) becomes
/// V = Bᵀ d B (Bᵀ d along one axis for 1×7 / 7×1); then one GEMM per position ξ of the
/// transform, M[ξ] (tiles × filters) = V[ξ] (tiles × inChannels) · U[ξ] (inChannels × filters);
/// then Y = Aᵀ M A gives the tile's outputs. U = G g Gᵀ (G g) is computed once at load.
package enum Conv2DWinograd {
    /// The variant for a layer under `policy`, or nil when it stays direct: stride 1, a
    /// 3×3, 1×7 or 7×1 kernel, and enough channels for the GEMMs (K = inChannels, N =
    /// filters) to run well and the transforms to stay cheap next to them. Measured on
    /// FaceNet (Docs/performance.md): with the vector transforms 32→32 wins too; MTCNN's
    /// 10→16 and 16→32 stay direct. A 3×3 layer takes F(4×4) or F(2×2) by its tiles per
    /// image (`height` × `width` of its input; nil: not known at load) unless the policy
    /// forces one.
    package static func tile(config: Conv2DConfig, inChannels: Int, height: Int?, width: Int?,
                             policy: WinogradPolicy) -> WinogradTile? {
        guard policy.enabled, config.strides == (1, 1), inChannels >= 32, config.filters >= policy.minimumFilters else {
            return nil  // direct by design: not a Winograd layer
        }
        switch config.kernel {
        case (3, 3): break
        case (1, 7): return policy.oneDimensional ? .rowF2x7 : nil
        case (7, 1): return policy.oneDimensional ? .columnF2x7 : nil
        default: return nil
        }
        switch policy.tile {
        case .f2x2: return .f2x2
        case .f4x4: return .f4x4
        case .automatic: break
        }
        guard let height, let width else { return .f2x2 }
        let outHeight = convolvedSize(height, kernel: 3, stride: 1, padding: config.padding)
        let outWidth = convolvedSize(width, kernel: 3, stride: 1, padding: config.padding)
        return ((outHeight + 3) / 4) * ((outWidth + 3) / 4) >= minimumLargeTiles ? .f4x4 : .f2x2
    }
    /// F(4×4) tiles per image from which F(4×4) is chosen: its transformed kernel is 2.25×
    /// larger, so with few tiles per GEMM (Mixed_7a's 8×8 at batch 1: 4) reading it costs
    /// more than the multiplies it saves.
    static let minimumLargeTiles = 16

    package static func tiles(_ g: Conv2DGeometry, _ tile: WinogradTile) -> (rows: Int, columns: Int, total: Int) {
        let rows = (g.outHeight + tile.output.height - 1) / tile.output.height
        let columns = (g.outWidth + tile.output.width - 1) / tile.output.width
        return (rows, columns, g.batch * rows * columns)
    }

    /// Tiles per chunk: V and M of a chunk (`perTile` floats each tile) near
    /// `tuning.winogradChunkFloats`, so the GEMMs and the output transform find them in L2,
    /// but at least `tuning.winogradMinimumChunkTiles`, so each pass over U (all positions'
    /// weights) serves enough rows; never over `scratchLimit`.
    static func tilesPerChunk(_ g: Conv2DGeometry, _ tile: WinogradTile, scratchLimit: Int, tuning: ConvolutionTuning) -> Int {
        let perTile = tile.positions * (g.inChannels + g.filters)
        return max(1, min(tiles(g, tile).total, scratchLimit / perTile,
                          max(tuning.winogradMinimumChunkTiles, tuning.winogradChunkFloats / perTile)))
    }

    /// Floats of scratch `run` / `multiply` need with the same `scratchLimit` and `tuning`.
    package static func scratchCount(_ g: Conv2DGeometry, _ tile: WinogradTile, scratchLimit: Int,
                                     tuning: ConvolutionTuning) -> Int {
        tile.positions * tilesPerChunk(g, tile, scratchLimit: scratchLimit, tuning: tuning) * (g.inChannels + g.filters)
            + g.inChannels
    }

    /// U for every (input channel, filter): `tile.positions` matrices of (inChannels × filters),
    /// position-major, from an HWIO kernel of the tile's kernel size.
    package static func transformKernel(_ kernel: [Float], inChannels: Int, filters: Int, tile: WinogradTile) -> [Float] {
        switch tile {
        case .f2x2: transformKernel(WinogradF2x2.self, tile, kernel, inChannels: inChannels, filters: filters)
        case .f4x4: transformKernel(WinogradF4x4.self, tile, kernel, inChannels: inChannels, filters: filters)
        case .rowF2x7, .columnF2x7: transformKernel(WinogradF2x7.self, tile, kernel, inChannels: inChannels, filters: filters)
        }
    }

    private static func transformKernel<T: WinogradTransform>(_: T.Type, _ tile: WinogradTile, _ kernel: [Float],
                                                              inChannels: Int, filters: Int) -> [Float] {
        let positions = tile.positions, taps = tile.kernel.height * tile.kernel.width
        var u = [Float](repeating: 0, count: positions * inChannels * filters)
        let plane = inChannels * filters
        // In Double, in one stack buffer (no per-pair arrays: this runs ~10⁵ times per model load).
        withUnsafeTemporaryAllocation(of: Double.self, capacity: taps + positions + 18) { buffer in
            u.withUnsafeMutableBufferPointer { out in
                kernel.withUnsafeBufferPointer { k in
                    // nil only for an empty kernel (no filters or channels): nothing to transform.
                    guard let out = out.baseAddress, let k = k.baseAddress, let g = buffer.baseAddress else { return }
                    let transformed = g + taps, scratch = transformed + positions
                    for ci in 0..<inChannels {
                        for co in 0..<filters {
                            for tap in 0..<taps { g[tap] = Double(k[(tap * inChannels + ci) * filters + co]) }
                            T.transformKernel(g, into: transformed, scratch: scratch)
                            let base = out + ci * filters + co
                            for position in 0..<positions { base[position * plane] = Float(transformed[position]) }
                        }
                    }
                }
            }
        }
        return u
    }

    /// Runs the convolution with transformed weights `u` (`tile.positions` matrices of
    /// inChannels × filters); output rows `ldc` floats apart. `scratch` holds `scratchCount`
    /// floats for the same `scratchLimit` and `tuning`.
    package static func run(_ g: Conv2DGeometry, tile: WinogradTile, input: UnsafePointer<Float>, u: GEMMWeights,
                    output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue,
                    scratch: UnsafeMutablePointer<Float>, scratchLimit: Int, tuning: ConvolutionTuning) {
        multiply(g, tile: tile, tiles: 0..<tiles(g, tile).total, input: input, u: u, output: output, ldc: ldc,
                 epilogue: epilogue, scratch: scratch, scratchLimit: scratchLimit, tuning: tuning)
        epilogue.apply(to: output, rows: g.rows, columns: g.filters, ldc: ldc)
    }

    /// The transforms and GEMMs for the tiles in `tileRange` (alpha and accumulation
    /// applied, not the rest of the epilogue): threads share a convolution by tiles.
    package static func multiply(_ g: Conv2DGeometry, tile: WinogradTile, tiles tileRange: Range<Int>, input: UnsafePointer<Float>,
                         u: GEMMWeights, output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue,
                         scratch: UnsafeMutablePointer<Float>, scratchLimit: Int, tuning: ConvolutionTuning) {
        switch tile {
        case .f2x2:
            multiply(WinogradF2x2.self, g, tile: tile, tiles: tileRange, input: input, u: u, output: output, ldc: ldc,
                     epilogue: epilogue, scratch: scratch, scratchLimit: scratchLimit, tuning: tuning)
        case .f4x4:
            multiply(WinogradF4x4.self, g, tile: tile, tiles: tileRange, input: input, u: u, output: output, ldc: ldc,
                     epilogue: epilogue, scratch: scratch, scratchLimit: scratchLimit, tuning: tuning)
        case .rowF2x7, .columnF2x7:
            multiply(WinogradF2x7.self, g, tile: tile, tiles: tileRange, input: input, u: u, output: output, ldc: ldc,
                     epilogue: epilogue, scratch: scratch, scratchLimit: scratchLimit, tuning: tuning)
        }
    }

    private static func multiply<T: WinogradTransform>(_: T.Type, _ g: Conv2DGeometry, tile: WinogradTile, tiles tileRange: Range<Int>,
                                                       input: UnsafePointer<Float>, u: GEMMWeights,
                                                       output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue,
                                                       scratch: UnsafeMutablePointer<Float>, scratchLimit: Int,
                                                       tuning: ConvolutionTuning) {
        let (outputHeight, outputWidth) = tile.output, (spanHeight, spanWidth) = tile.span, positions = tile.positions
        let (tileRows, tileColumns, _) = tiles(g, tile)
        let total = tileRange.upperBound
        let chunk = tilesPerChunk(g, tile, scratchLimit: scratchLimit, tuning: tuning)
        let cin = g.inChannels, cout = g.filters
        let v = scratch, transformed = scratch + positions * chunk * cin
        let zeros = transformed + positions * chunk * cout  // one pixel of zeros, for taps outside the image
        zeros.initialize(repeating: 0, count: cin)
        /// Tile index → (image, tile row, tile column).
        func locate(_ tileIndex: Int) -> (n: Int, ty: Int, tx: Int) {
            let n = tileIndex / (tileRows * tileColumns), rest = tileIndex - n * tileRows * tileColumns
            return (n, rest / tileColumns, rest % tileColumns)
        }
        // Pointer tables of at most 36 taps and 16 outputs: on the stack, no allocation.
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 36) { tapBuffer in
            withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: 16) { outputBuffer in
                // Never nil: both buffers have a non-zero capacity.
                guard let taps = tapBuffer.baseAddress, let outputs = outputBuffer.baseAddress else { return }
                var first = tileRange.lowerBound
                while first < total {
                    let count = min(chunk, total - first)
                    for t in 0..<count {
                        let (n, ty, tx) = locate(first + t)
                        let image = input + n * g.inHeight * g.inWidth * cin
                        for i in 0..<spanHeight {
                            let ih = ty * outputHeight - g.padTop + i
                            for j in 0..<spanWidth {
                                let iw = tx * outputWidth - g.padLeft + j
                                let inside = ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth
                                taps[i * spanWidth + j] = inside ? image + (ih * g.inWidth + iw) * cin : UnsafePointer(zeros)
                            }
                        }
                        T.transformInput(taps: taps, channels: cin, into: v + t * cin, stride: count * cin)
                    }
                    for xi in 0..<positions {
                        u.multiply(matrix: xi, m: count, a: v + xi * count * cin, c: transformed + xi * count * cout, ldc: cout)
                    }
                    // Output transform, written to the outputs of each tile that exist.
                    for t in 0..<count {
                        let (n, ty, tx) = locate(first + t)
                        let oh = ty * outputHeight, ow = tx * outputWidth
                        let rows = min(outputHeight, g.outHeight - oh), columns = min(outputWidth, g.outWidth - ow)
                        let corner = output + ((n * g.outHeight + oh) * g.outWidth + ow) * ldc
                        for r in 0..<rows {
                            for c in 0..<columns { outputs[r * outputWidth + c] = corner + (r * g.outWidth + c) * ldc }
                        }
                        T.transformOutput(m: transformed + t * cout, plane: count * cout, filters: cout, into: outputs,
                                          rows: rows, columns: columns, alpha: epilogue.alpha, accumulate: epilogue.accumulate)
                    }
                    first += count
                }
            }
        }
    }
}
