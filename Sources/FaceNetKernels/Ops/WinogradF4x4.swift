/// Winograd F(4×4, 3×3) (Lavin & Gray 2015, interpolation points 0, ±1, ±2, ∞): 6×6
/// input tiles, 36 multiplies per 4×4 outputs and channel pair instead of 144 (4× fewer),
/// at the price of larger constants in the transforms (errors ~1e-6 relative in Float).
///
///     Bᵀ = [4  0 -5  0 1 0]     G = [ 1/4     0    0 ]     Aᵀ = [1 1  1 1  1 0]
///          [0 -4 -4  1 1 0]         [-1/6 -1/6 -1/6 ]          [0 1 -1 2 -2 0]
///          [0  4 -4 -1 1 0]         [-1/6  1/6 -1/6 ]          [0 1  1 4  4 0]
///          [0 -2 -1  2 1 0]         [1/24 1/12  1/6 ]          [0 1 -1 8 -8 1]
///          [0  2 -1 -2 1 0]         [1/24 -1/12 1/6 ]
///          [0  4  0 -5 0 1]         [  0     0    1 ]
package enum WinogradF4x4: Winograd3x3Transform {
    package static let span = 6

    /// G times one column (or row) of three kernel taps.
    package static func kernelLine(_ g0: Double, _ g1: Double, _ g2: Double, into store: (Int, Double) -> Void) {
        let even = -(g0 + g2) / 6, odd = -g1 / 6
        let evenQuarter = g0 / 24 + g2 / 6, oddQuarter = g1 / 12
        store(0, g0 / 4); store(1, even + odd); store(2, even - odd)
        store(3, evenQuarter + oddQuarter); store(4, evenQuarter - oddQuarter); store(5, g2)
    }

    package typealias Line = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

    /// The six columns of a 6×6 tile (`load(row, column)`), each through `line`.
    @inline(__always)
    private static func mapColumns<R>(_ load: (Int, Int) -> SIMD8<Float>, _ line: (Line) -> R) -> (R, R, R, R, R, R) {
        @inline(__always) func column(_ j: Int) -> R { line((load(0, j), load(1, j), load(2, j), load(3, j), load(4, j), load(5, j))) }
        return (column(0), column(1), column(2), column(3), column(4), column(5))
    }

    /// Bᵀ times one column (or row) of six values.
    @inline(__always)
    private static func inputLine(_ d: Line) -> Line {
        let fourthMinusSecond = d.4 - d.2 * 4, thirdMinusFirst = d.3 - d.1 * 4
        let fourthMinusSecondOnce = d.4 - d.2, thirdMinusFirstTwice = (d.3 - d.1) * 2
        return (d.0 * 4 - d.2 * 5 + d.4,
                fourthMinusSecond + thirdMinusFirst,
                fourthMinusSecond - thirdMinusFirst,
                fourthMinusSecondOnce + thirdMinusFirstTwice,
                fourthMinusSecondOnce - thirdMinusFirstTwice,
                d.1 * 4 - d.3 * 5 + d.5)
    }

    package static func transformInput(taps: UnsafePointer<UnsafePointer<Float>>, channels: Int,
                               into v: UnsafeMutablePointer<Float>, stride: Int) {
        forEachLaneGroup(channels) { c, lanes in
            @inline(__always) func load(_ i: Int, _ j: Int) -> SIMD8<Float> { loadLanes(taps[i * 6 + j] + c, lanes) }
            // Bᵀ d, column by column: (c0…c5).i is row i, column j of Bᵀ d.
            let (c0, c1, c2, c3, c4, c5) = mapColumns(load, inputLine)
            // (Bᵀ d) B: each row times B.
            @inline(__always) func row(_ r: Int, _ t: Line) {
                let out = inputLine(t), base = v + r * 6 * stride + c
                storeLanes(out.0, base, lanes)
                storeLanes(out.1, base + stride, lanes)
                storeLanes(out.2, base + 2 * stride, lanes)
                storeLanes(out.3, base + 3 * stride, lanes)
                storeLanes(out.4, base + 4 * stride, lanes)
                storeLanes(out.5, base + 5 * stride, lanes)
            }
            row(0, (c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))
            row(1, (c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
            row(2, (c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))
            row(3, (c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
            row(4, (c0.4, c1.4, c2.4, c3.4, c4.4, c5.4))
            row(5, (c0.5, c1.5, c2.5, c3.5, c4.5, c5.5))
        }
    }

    /// Aᵀ times one column (or row) of six values.
    @inline(__always)
    private static func outputLine(_ m: Line) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let sum12 = m.1 + m.2, difference12 = m.1 - m.2, sum34 = m.3 + m.4, difference34 = m.3 - m.4
        return (m.0 + sum12 + sum34, difference12 + difference34 * 2, sum12 + sum34 * 4, difference12 + difference34 * 8 + m.5)
    }

    package static func transformOutput(m: UnsafePointer<Float>, plane: Int, filters: Int,
                                into y: UnsafePointer<UnsafeMutablePointer<Float>>, rows: Int, columns: Int,
                                alpha: Float, accumulate: Bool) {
        forEachLaneGroup(filters) { co, lanes in
            @inline(__always) func load(_ i: Int, _ j: Int) -> SIMD8<Float> { loadLanes(m + (i * 6 + j) * plane + co, lanes) }
            // Aᵀ m, column by column: four rows of six.
            let (c0, c1, c2, c3, c4, c5) = mapColumns(load, outputLine)
            @inline(__always) func row(_ r: Int, _ t: Line) {
                guard r < rows else { return }  // the tile overhangs the last output row
                let out = outputLine(t)
                writeOutput(out.0 * alpha, y[r * 4] + co, lanes, accumulate)
                if columns > 1 { writeOutput(out.1 * alpha, y[r * 4 + 1] + co, lanes, accumulate) }
                if columns > 2 { writeOutput(out.2 * alpha, y[r * 4 + 2] + co, lanes, accumulate) }
                if columns > 3 { writeOutput(out.3 * alpha, y[r * 4 + 3] + co, lanes, accumulate) }
            }
            row(0, (c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))
            row(1, (c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
            row(2, (c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))
            row(3, (c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
        }
    }
}
