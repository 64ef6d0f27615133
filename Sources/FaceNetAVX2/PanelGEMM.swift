/// Single-precision GEMM on weights packed once into column panels, for x86-64 CPUs with
/// AVX2 and FMA. This module is compiled for those instructions (`-target-cpu haswell`):
/// call it only after checking the CPU (FaceNetKit's `GEMMBackend` does).
///
/// C (m × n, rows `ldc` apart) = alpha · A (m × k, rows `lda` apart) · B (k × n)
/// (+ C when accumulating). B is packed as panels of `panelWidth` columns: panel p holds
/// columns 16p ..< 16p + 16 as k rows of 16 floats (zero past column n), panels one after
/// another. A is read in place: im2col patches and NHWC activations are already row-major.
///
/// The micro-kernel keeps a 6 × 16 block of C in twelve 8-lane registers and adds one
/// rank-1 update per k: two panel loads, six broadcasts, twelve FMAs. k is taken in blocks
/// of `depthBlock` so a panel's block (16 KB) stays in L1 while every row block reuses it.
public enum PanelGEMM {
    /// Per-column work done on each tile as it is stored, after the last depth block:
    /// C = C · scale[j] + shift[j], then ReLU, then PReLU with `slopes[j]` (each optional).
    /// Pointers are indexed by C's column.
    public struct Epilogue {
        public var scale: UnsafePointer<Float>?
        public var shift: UnsafePointer<Float>?
        public var relu: Bool
        public var slopes: UnsafePointer<Float>?

        public init(scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, relu: Bool, slopes: UnsafePointer<Float>?) {
            self.scale = scale
            self.shift = shift
            self.relu = relu
            self.slopes = slopes
        }
    }

    public static let panelWidth = 16
    static let rowBlock = 6
    static let depthBlock = 256

    typealias Lanes = SIMD8<Float>

    /// Where row r of A keeps its k values: `segments` runs of `segmentDepth` floats, run s
    /// at `a + r·lda + s·segmentStride` (k = segments · segmentDepth). A plain matrix is one
    /// run; a stride-1-per-row convolution's patches are the input itself ("implicit
    /// im2col"): one run per kernel row, `segmentStride` = one input row.
    public struct RowLayout {
        public var lda: Int
        public var segments: Int
        public var segmentStride: Int

        public init(lda: Int, segments: Int = 1, segmentStride: Int = 0) {
            self.lda = lda
            self.segments = segments
            self.segmentStride = segmentStride
        }
    }

    /// Computes the columns `columns` of C (`columns.lowerBound` a multiple of 16), A's rows
    /// laid out as `layout` says. `c` is C's first column; `panels` the whole packed B.
    public static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, layout: RowLayout,
                                panels: UnsafePointer<Float>, columns: Range<Int>,
                                c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, accumulate: Bool,
                                epilogue: Epilogue? = nil) {
        guard m > 0, k > 0, !columns.isEmpty, layout.segments > 0, k % layout.segments == 0 else { return }
        let firstPanel = columns.lowerBound / panelWidth
        let endPanel = (min(columns.upperBound, n) + panelWidth - 1) / panelWidth
        let segmentDepth = k / layout.segments
        // Depth blocks: whole runs while they are short, else slices of one run.
        let runsPerBlock = segmentDepth >= depthBlock ? 1 : max(1, depthBlock / segmentDepth)
        let sliceDepth = segmentDepth >= depthBlock ? depthBlock : segmentDepth
        var segment = 0, offset = 0
        while segment < layout.segments {
            let runs = min(runsPerBlock, layout.segments - segment)
            let depth = min(sliceDepth, segmentDepth - offset)
            let k0 = segment * segmentDepth + offset
            let a0 = a + segment * layout.segmentStride + offset
            let last = segment + runs == layout.segments && offset + depth == segmentDepth
            // Later depth blocks add onto what the first one wrote; the last one finishes the tile.
            let add = accumulate || k0 > 0
            let finish = last ? epilogue : nil
            let shape = BlockShape(runs: runs, depth: depth, runStride: layout.segmentStride, lda: layout.lda)
            for p in firstPanel..<endPanel {
                let b = panels + (p * k + k0) * panelWidth
                let width = min(panelWidth, n - p * panelWidth)
                let tail = TileTail(epilogue: finish, column: p * panelWidth, width: width)
                if width > 8 {
                    rowBlocks(Wide.self, m: m, shape, width: width, a: a0, b: b, c: c + p * panelWidth, ldc: ldc, alpha: alpha,
                              add: add, tail: tail)
                } else {
                    rowBlocks(Narrow.self, m: m, shape, width: width, a: a0, b: b, c: c + p * panelWidth, ldc: ldc, alpha: alpha,
                              add: add, tail: tail)
                }
            }
            offset += depth
            if offset == segmentDepth {
                segment += runs
                offset = 0
            }
        }
    }

    /// Every row of one panel: blocks of 6 rows, then the remainder; `H` says whether the
    /// panel's right half (columns 8..<16) exists at all.
    @inline(__always)
    static func rowBlocks<H: PanelHalves>(_: H.Type, m: Int, _ shape: BlockShape, width: Int, a: UnsafePointer<Float>,
                                          b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float,
                                          add: Bool, tail: TileTail) {
        var row = 0
        while row + rowBlock <= m {
            block(Rows6.self, H.self, shape, width: width, a: a + row * shape.lda, b: b, c: c + row * ldc, ldc: ldc,
                  alpha: alpha, add: add, tail: tail)
            row += rowBlock
        }
        let ap = a + row * shape.lda, cp = c + row * ldc
        switch m - row {
        case 1: block(Rows1.self, H.self, shape, width: width, a: ap, b: b, c: cp, ldc: ldc, alpha: alpha, add: add, tail: tail)
        case 2: block(Rows2.self, H.self, shape, width: width, a: ap, b: b, c: cp, ldc: ldc, alpha: alpha, add: add, tail: tail)
        case 3: block(Rows3.self, H.self, shape, width: width, a: ap, b: b, c: cp, ldc: ldc, alpha: alpha, add: add, tail: tail)
        case 4: block(Rows4.self, H.self, shape, width: width, a: ap, b: b, c: cp, ldc: ldc, alpha: alpha, add: add, tail: tail)
        case 5: block(Rows5.self, H.self, shape, width: width, a: ap, b: b, c: cp, ldc: ldc, alpha: alpha, add: add, tail: tail)
        default: break
        }
    }

    /// One depth block of A: `runs` runs of `depth` floats, `runStride` apart, rows `lda` apart.
    struct BlockShape {
        var runs: Int
        var depth: Int
        var runStride: Int
        var lda: Int
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
    }

    @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
    }

    /// The epilogue's vectors for one panel's 16 columns, loaded once per panel.
    struct TileTail {
        var active = false
        var relu = false
        var scale = (Lanes(repeating: 1), Lanes(repeating: 1))
        var shift = (Lanes(), Lanes())
        var slopes: (Lanes, Lanes)?

        /// `width`: the columns that exist in this panel (the vectors are not read past them).
        @inline(__always)
        init(epilogue: Epilogue?, column: Int, width: Int) {
            guard let epilogue else { return }
            active = true
            relu = epilogue.relu
            if let s = epilogue.scale { scale = pair(s + column, width: width, fill: 1) }
            if let t = epilogue.shift { shift = pair(t + column, width: width, fill: 0) }
            if let p = epilogue.slopes { slopes = pair(p + column, width: width, fill: 0) }
        }

        @inline(__always)
        private func pair(_ p: UnsafePointer<Float>, width: Int, fill: Float) -> (Lanes, Lanes) {
            if width == panelWidth { return (load(p), load(p + 8)) }
            var low = Lanes(repeating: fill), high = Lanes(repeating: fill)
            for j in 0..<width {
                if j < 8 { low[j] = p[j] } else { high[j - 8] = p[j] }
            }
            return (low, high)
        }

        @_transparent
        func finish(_ low: inout Lanes, _ high: inout Lanes) {
            guard active else { return }
            low = low * scale.0 + shift.0
            high = high * scale.1 + shift.1
            if relu {
                low = low.replacing(with: 0, where: low .< 0)
                high = high.replacing(with: 0, where: high .< 0)
            }
            if let slopes {
                low = low.replacing(with: low * slopes.0, where: low .< 0)
                high = high.replacing(with: high * slopes.1, where: high .< 0)
            }
        }
    }

    /// One block of `R.count` ≤ 6 rows × one panel. The row count is a type, so each count
    /// is its own specialisation: a register-only loop with no per-row test inside.
    static func block<R: RowCount, H: PanelHalves>(_: R.Type, _: H.Type, _ shape: BlockShape, width: Int, a: UnsafePointer<Float>,
                                                   b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float,
                                                   add: Bool, tail: TileTail) {
        let rows = R.count, wide = H.wide
        var c00 = Lanes(), c01 = Lanes(), c10 = Lanes(), c11 = Lanes(), c20 = Lanes(), c21 = Lanes()
        var c30 = Lanes(), c31 = Lanes(), c40 = Lanes(), c41 = Lanes(), c50 = Lanes(), c51 = Lanes()
        let lda = shape.lda, depth = shape.depth
        var bp = b
        for run in 0..<shape.runs {
            let base = a + run * shape.runStride
            let a0 = base, a1 = base + lda, a2 = base + 2 * lda, a3 = base + 3 * lda, a4 = base + 4 * lda, a5 = base + 5 * lda
            for i in 0..<depth {
                let b0 = load(bp), b1 = wide ? load(bp + 8) : Lanes()
                bp += panelWidth
                var s = Lanes(repeating: a0[i])
                c00 = c00.addingProduct(s, b0); if wide { c01 = c01.addingProduct(s, b1) }
                if rows > 1 { s = Lanes(repeating: a1[i]); c10 = c10.addingProduct(s, b0); if wide { c11 = c11.addingProduct(s, b1) } }
                if rows > 2 { s = Lanes(repeating: a2[i]); c20 = c20.addingProduct(s, b0); if wide { c21 = c21.addingProduct(s, b1) } }
                if rows > 3 { s = Lanes(repeating: a3[i]); c30 = c30.addingProduct(s, b0); if wide { c31 = c31.addingProduct(s, b1) } }
                if rows > 4 { s = Lanes(repeating: a4[i]); c40 = c40.addingProduct(s, b0); if wide { c41 = c41.addingProduct(s, b1) } }
                if rows > 5 { s = Lanes(repeating: a5[i]); c50 = c50.addingProduct(s, b0); if wide { c51 = c51.addingProduct(s, b1) } }
            }
        }
        let scale = Lanes(repeating: alpha)
        write(c00 * scale, c01 * scale, to: c, width: width, add: add, tail: tail)
        if rows > 1 { write(c10 * scale, c11 * scale, to: c + ldc, width: width, add: add, tail: tail) }
        if rows > 2 { write(c20 * scale, c21 * scale, to: c + 2 * ldc, width: width, add: add, tail: tail) }
        if rows > 3 { write(c30 * scale, c31 * scale, to: c + 3 * ldc, width: width, add: add, tail: tail) }
        if rows > 4 { write(c40 * scale, c41 * scale, to: c + 4 * ldc, width: width, add: add, tail: tail) }
        if rows > 5 { write(c50 * scale, c51 * scale, to: c + 5 * ldc, width: width, add: add, tail: tail) }
    }

    /// Stores one row of the block: 16 columns, or the first `width` of the last panel.
    @_transparent
    static func write(_ low: Lanes, _ high: Lanes, to p: UnsafeMutablePointer<Float>, width: Int, add: Bool, tail: TileTail) {
        guard width == panelWidth else {
            writePartial(low, high, to: p, width: width, add: add, tail: tail)
            return
        }
        var low = low, high = high
        if add {
            low += load(p)
            high += load(p + 8)
        }
        tail.finish(&low, &high)
        store(low, p)
        store(high, p + 8)
    }

    /// The last panel's row when it has fewer than 16 columns.
    @inline(__always)
    static func writePartial(_ low: Lanes, _ high: Lanes, to p: UnsafeMutablePointer<Float>, width: Int, add: Bool, tail: TileTail) {
        var low = low, high = high
        if add {
            for j in 0..<width {
                if j < 8 { low[j] += p[j] } else { high[j - 8] += p[j] }
            }
        }
        tail.finish(&low, &high)
        if width <= 8 {
            storePrefix(low, count: width, to: p)
        } else {
            store(low, p)
            storePrefix(high, count: width - 8, to: p + 8)
        }
    }

    /// Stores the first `count` (0...8) lanes of `v` as one 4-, 2- and 1-lane store each at
    /// most, never touching p[count...] (a neighbouring slice of the output).
    @inline(__always)
    static func storePrefix(_ v: Lanes, count: Int, to p: UnsafeMutablePointer<Float>) {
        if count >= 8 { return store(v, p) }
        var rest = v.lowHalf, offset = 0
        if count >= 4 {
            UnsafeMutableRawPointer(p).storeBytes(of: v.lowHalf, as: SIMD4<Float>.self)
            rest = v.highHalf
            offset = 4
        }
        let left = count - offset
        if left >= 2 { UnsafeMutableRawPointer(p + offset).storeBytes(of: rest.lowHalf, as: SIMD2<Float>.self) }
        if left == 3 { p[offset + 2] = rest[2] }
        if left == 1 { p[offset] = rest[0] }
    }
}

/// A row count known at compile time (see `PanelGEMM.block`).
protocol RowCount { static var count: Int { get } }
enum Rows1: RowCount { static var count: Int { 1 } }
enum Rows2: RowCount { static var count: Int { 2 } }
enum Rows3: RowCount { static var count: Int { 3 } }
enum Rows4: RowCount { static var count: Int { 4 } }
enum Rows5: RowCount { static var count: Int { 5 } }
enum Rows6: RowCount { static var count: Int { 6 } }

/// Whether a panel's right half (columns 8..<16) is computed: not for the last panel of a
/// GEMM with ≤ 8 columns left (P-Net's 2- and 4-filter heads; a 20-filter conv's last 4).
protocol PanelHalves { static var wide: Bool { get } }
enum Wide: PanelHalves { static var wide: Bool { true } }
enum Narrow: PanelHalves { static var wide: Bool { false } }
