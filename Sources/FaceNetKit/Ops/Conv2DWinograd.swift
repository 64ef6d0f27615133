import Foundation

/// The Winograd variants, by output tile size.
enum WinogradTile: Int, Sendable, CaseIterable {
    /// F(2×2, 3×3): 4×4 input tiles, 16 positions, 2.25× fewer multiplies.
    case f2x2 = 2
    /// F(4×4, 3×3): 6×6 input tiles, 36 positions, 4× fewer multiplies.
    case f4x4 = 4

    var outputSize: Int { rawValue }
    /// Input tile side: the output tile plus the 3×3 kernel's overhang.
    var span: Int { rawValue + 2 }
    /// Points of the transform: GEMMs per chunk of tiles.
    var positions: Int { span * span }
}

/// One Winograd variant F(m×m, 3×3) as its three transforms (`WinogradF2x2`, `WinogradF4x4`).
/// A tile's span = m + 2 input rows and columns; positions are span² in row-major order.
protocol WinogradTransform {
    static var outputSize: Int { get }
    /// G (span × 3) times one column or row of three kernel values; `store(i, value)` takes
    /// the span results. U = G g Gᵀ is this on g's columns, then on the rows of G g.
    static func kernelLine(_ g0: Double, _ g1: Double, _ g2: Double, into store: (Int, Double) -> Void)
    /// V = Bᵀ d B of one tile: `taps[i·span + j]` points at the `channels` floats of patch
    /// pixel (i, j) (or at zeros); position ξ of channel c goes to `v[ξ·stride + c]`.
    static func transformInput(taps: UnsafePointer<UnsafePointer<Float>>, channels: Int,
                               into v: UnsafeMutablePointer<Float>, stride: Int)
    /// Y = alpha · Aᵀ M A of one tile (added to Y when `accumulate`): position ξ of filter co
    /// is `m[ξ·plane + co]`; output (r, c) goes to `y[r·m + c]`, for r < rows, c < columns only.
    static func transformOutput(m: UnsafePointer<Float>, plane: Int, filters: Int,
                                into y: UnsafePointer<UnsafeMutablePointer<Float>>, rows: Int, columns: Int,
                                alpha: Float, accumulate: Bool)
}

/// Winograd convolution for 3×3 stride-1 convolutions (`same` or `valid` padding).
///
/// Per chunk of m×m output tiles: each span×span input patch d (zero outside the image)
/// becomes V = Bᵀ d B; then one GEMM per position ξ of the transform,
/// M[ξ] (tiles × filters) = V[ξ] (tiles × inChannels) · U[ξ] (inChannels × filters);
/// then Y = Aᵀ M A gives the m×m outputs. U = G g Gᵀ is computed once at load.
enum Conv2DWinograd {
    /// Whether this convolution can run here.
    static func applies(to g: Conv2DGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1 && g.strideWidth == 1
    }

    /// Whether to precompute the transform for a layer: 3×3 stride 1 with enough channels
    /// for the GEMMs (K = inChannels, N = filters) to run well and the transforms to stay
    /// cheap next to them. Measured on FaceNet (Docs/performance.md): with the vector
    /// transforms 32→32 wins too (1.25× per layer); MTCNN's 10→16 and 16→32 stay direct.
    static func worthwhile(config: Conv2DConfig, inChannels: Int) -> Bool {
        enabled && config.kernel == (3, 3) && config.strides == (1, 1) && inChannels >= 32 && config.filters >= minimumFilters
    }
    /// `FACENET_WINOGRAD_MIN_FILTERS` overrides the filter threshold, for measuring it.
    static let minimumFilters = Int(ProcessInfo.processInfo.environment["FACENET_WINOGRAD_MIN_FILTERS"] ?? "") ?? 32
    /// `FACENET_WINOGRAD=0` in the environment turns the Winograd path off, for comparisons.
    static let enabled = ProcessInfo.processInfo.environment["FACENET_WINOGRAD"] != "0"
    /// `FACENET_WINOGRAD_TILE=2` or `4` forces that variant on every Winograd layer.
    static let forcedTile = Int(ProcessInfo.processInfo.environment["FACENET_WINOGRAD_TILE"] ?? "").flatMap(WinogradTile.init)
    /// F(4×4) tiles per image from which F(4×4) is chosen: its transformed kernel is 2.25×
    /// larger, so with few tiles per GEMM (Mixed_7a's 8×8 at batch 1: 4) reading it costs
    /// more than the multiplies it saves.
    static let minimumLargeTiles = 16

    /// The variant for a layer whose input is `height` × `width` (nil: not known at load).
    static func tile(config: Conv2DConfig, height: Int?, width: Int?) -> WinogradTile {
        if let forcedTile { return forcedTile }
        guard let height, let width else { return .f2x2 }
        let outHeight = convolvedSize(height, kernel: 3, stride: 1, padding: config.padding)
        let outWidth = convolvedSize(width, kernel: 3, stride: 1, padding: config.padding)
        return ((outHeight + 3) / 4) * ((outWidth + 3) / 4) >= minimumLargeTiles ? .f4x4 : .f2x2
    }

    static func tiles(_ g: Conv2DGeometry, _ tile: WinogradTile) -> (rows: Int, columns: Int, total: Int) {
        let m = tile.outputSize
        let rows = (g.outHeight + m - 1) / m, columns = (g.outWidth + m - 1) / m
        return (rows, columns, g.batch * rows * columns)
    }

    /// Tiles per chunk: V and M of a chunk (`perTile` floats each tile) near `cacheFloats`, so
    /// the GEMMs and the output transform find them in L2, but at least `minimumChunkTiles`,
    /// so each pass over U (all positions' weights) serves enough rows; never over `scratchLimit`.
    static func tilesPerChunk(_ g: Conv2DGeometry, _ tile: WinogradTile, scratchLimit: Int) -> Int {
        let perTile = tile.positions * (g.inChannels + g.filters)
        return max(1, min(tiles(g, tile).total, scratchLimit / perTile, max(minimumChunkTiles, cacheFloats / perTile)))
    }
    /// `FACENET_WINOGRAD_FLOATS` and `FACENET_WINOGRAD_MIN_TILES` override these, for measuring.
    static let cacheFloats = Int(ProcessInfo.processInfo.environment["FACENET_WINOGRAD_FLOATS"] ?? "") ?? 262_144
    static let minimumChunkTiles = Int(ProcessInfo.processInfo.environment["FACENET_WINOGRAD_MIN_TILES"] ?? "") ?? 48

    static func scratchCount(_ g: Conv2DGeometry, _ tile: WinogradTile, scratchLimit: Int) -> Int {
        tile.positions * tilesPerChunk(g, tile, scratchLimit: scratchLimit) * (g.inChannels + g.filters) + g.inChannels
    }

    /// U = G g Gᵀ for every (input channel, filter): `tile.positions` matrices of
    /// (inChannels × filters), position-major, from an HWIO 3×3 kernel.
    static func transformKernel(_ kernel: [Float], inChannels: Int, filters: Int, tile: WinogradTile) -> [Float] {
        switch tile {
        case .f2x2: transformKernel(WinogradF2x2.self, kernel, inChannels: inChannels, filters: filters)
        case .f4x4: transformKernel(WinogradF4x4.self, kernel, inChannels: inChannels, filters: filters)
        }
    }

    private static func transformKernel<T: WinogradTransform>(_: T.Type, _ kernel: [Float], inChannels: Int, filters: Int) -> [Float] {
        let span = T.outputSize + 2
        var u = [Float](repeating: 0, count: span * span * inChannels * filters)
        let plane = inChannels * filters
        // In Double, with G g in one stack buffer (no per-pair arrays: this runs ~10⁵ times per model load).
        withUnsafeTemporaryAllocation(of: Double.self, capacity: span * 3) { gg in
            u.withUnsafeMutableBufferPointer { out in
                kernel.withUnsafeBufferPointer { k in
                    guard let out = out.baseAddress, let k = k.baseAddress, let gg = gg.baseAddress else { return }
                    for ci in 0..<inChannels {
                        for co in 0..<filters {
                            func tap(_ kh: Int, _ kw: Int) -> Double { Double(k[((kh * 3 + kw) * inChannels + ci) * filters + co]) }
                            for kw in 0..<3 {
                                T.kernelLine(tap(0, kw), tap(1, kw), tap(2, kw)) { r, value in gg[r * 3 + kw] = value }
                            }
                            let base = out + ci * filters + co
                            for r in 0..<span {
                                T.kernelLine(gg[r * 3], gg[r * 3 + 1], gg[r * 3 + 2]) { s, value in
                                    base[(r * span + s) * plane] = Float(value)
                                }
                            }
                        }
                    }
                }
            }
        }
        return u
    }

    /// Runs the convolution with transformed weights `u` (`tile.positions` matrices of
    /// inChannels × filters); output rows `ldc` floats apart. `scratch` holds `scratchCount` floats.
    static func run(_ g: Conv2DGeometry, tile: WinogradTile, input: UnsafePointer<Float>, u: GEMMWeights,
                    output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue,
                    scratch: UnsafeMutablePointer<Float>, scratchLimit: Int) {
        multiply(g, tile: tile, tiles: 0..<tiles(g, tile).total, input: input, u: u, output: output, ldc: ldc,
                 epilogue: epilogue, scratch: scratch, scratchLimit: scratchLimit)
        epilogue.apply(to: output, rows: g.rows, columns: g.filters, ldc: ldc)
    }

    /// The transforms and GEMMs for the tiles in `tileRange` (alpha and accumulation
    /// applied, not the rest of the epilogue): threads share a convolution by tiles.
    static func multiply(_ g: Conv2DGeometry, tile: WinogradTile, tiles tileRange: Range<Int>, input: UnsafePointer<Float>,
                         u: GEMMWeights, output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue,
                         scratch: UnsafeMutablePointer<Float>, scratchLimit: Int) {
        switch tile {
        case .f2x2:
            multiply(WinogradF2x2.self, g, tile: tile, tiles: tileRange, input: input, u: u, output: output, ldc: ldc,
                     epilogue: epilogue, scratch: scratch, scratchLimit: scratchLimit)
        case .f4x4:
            multiply(WinogradF4x4.self, g, tile: tile, tiles: tileRange, input: input, u: u, output: output, ldc: ldc,
                     epilogue: epilogue, scratch: scratch, scratchLimit: scratchLimit)
        }
    }

    private static func multiply<T: WinogradTransform>(_: T.Type, _ g: Conv2DGeometry, tile: WinogradTile, tiles tileRange: Range<Int>,
                                                       input: UnsafePointer<Float>, u: GEMMWeights,
                                                       output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue,
                                                       scratch: UnsafeMutablePointer<Float>, scratchLimit: Int) {
        let m = tile.outputSize, span = tile.span, positions = tile.positions
        let (tileRows, tileColumns, _) = tiles(g, tile)
        let total = tileRange.upperBound
        let chunk = tilesPerChunk(g, tile, scratchLimit: scratchLimit)
        let cin = g.inChannels, cout = g.filters
        let v = scratch, transformed = scratch + positions * chunk * cin
        let zeros = transformed + positions * chunk * cout  // one pixel of zeros, for taps outside the image
        zeros.initialize(repeating: 0, count: cin)
        // Pointer tables of at most 36 taps and 16 outputs: on the stack, no allocation.
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 36) { tapBuffer in
            withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: 16) { outputBuffer in
                guard let taps = tapBuffer.baseAddress, let outputs = outputBuffer.baseAddress else { return }
                var first = tileRange.lowerBound
                while first < total {
                    let count = min(chunk, total - first)
                    for t in 0..<count {
                        let tileIndex = first + t
                        let n = tileIndex / (tileRows * tileColumns)
                        let rest = tileIndex - n * tileRows * tileColumns
                        let ty = rest / tileColumns, tx = rest - ty * tileColumns
                        let image = input + n * g.inHeight * g.inWidth * cin
                        for i in 0..<span {
                            let ih = ty * m - g.padTop + i
                            for j in 0..<span {
                                let iw = tx * m - g.padLeft + j
                                let inside = ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth
                                taps[i * span + j] = inside ? image + (ih * g.inWidth + iw) * cin : UnsafePointer(zeros)
                            }
                        }
                        T.transformInput(taps: taps, channels: cin, into: v + t * cin, stride: count * cin)
                    }
                    for xi in 0..<positions {
                        u.multiply(matrix: xi, m: count, a: v + xi * count * cin, c: transformed + xi * count * cout, ldc: cout)
                    }
                    // Output transform, written to the outputs of each tile that exist.
                    for t in 0..<count {
                        let tileIndex = first + t
                        let n = tileIndex / (tileRows * tileColumns)
                        let rest = tileIndex - n * tileRows * tileColumns
                        let ty = rest / tileColumns, tx = rest - ty * tileColumns
                        let oh = ty * m, ow = tx * m
                        let rows = min(m, g.outHeight - oh), columns = min(m, g.outWidth - ow)
                        let corner = output + ((n * g.outHeight + oh) * g.outWidth + ow) * ldc
                        for r in 0..<rows {
                            for c in 0..<columns { outputs[r * m + c] = corner + (r * g.outWidth + c) * ldc }
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
