/// Winograd F(2, 7), one-dimensional, for 1×7 and 7×1 kernels (the tile runs along a row or
/// down a column; the transforms do not care which): 8 input pixels per 2 outputs, 8
/// multiplies per 2 outputs and channel pair instead of 14 (1.75× fewer).
///
/// Toom-Cook at the points 0, ±1, ±2, ±1/2, ∞ (the construction of Lavin & Gray 2015, worked
/// out in exact fractions for this project). Y = Aᵀ [(G g) ⊙ (Bᵀ d)] for y_i = Σ_k g_k d_{i+k}:
///
///     Bᵀ = [-1    0  21/4     0 -21/4     0  1  0]     Aᵀ = [1 1  1 1  1   1    1   0]
///          [ 0    1     1 -17/4 -17/4     1  1  0]          [0 1 -1 2 -2 1/2 -1/2  1]
///          [ 0   -1     1  17/4 -17/4    -1  1  0]
///          [ 0  1/2   1/4  -5/2  -5/4     2  1  0]     G: row 0 (-1, 0, …, 0), row 7 (0, …, 0, 1),
///          [ 0 -1/2   1/4   5/2  -5/4    -2  1  0]        rows 1–6 a_j^k / Π_{l≠j}(a_j − a_l)
///          [ 0    2     4  -5/2    -5   1/2  1  0]        over the finite points a_l (table below).
///          [ 0   -2     4   5/2    -5  -1/2  1  0]
///          [ 0   -1     0  21/4     0 -21/4  0  1]
///
/// Float error: ~1e-6 of the largest output on 128-channel inputs (like F(4×4, 3×3)).
package enum WinogradF2x7: WinogradTransform {
    /// G (8 × 7), row-major.
    private static let g: [Double] = [
        -1, 0, 0, 0, 0, 0, 0,
        -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9,
        -2.0 / 9, 2.0 / 9, -2.0 / 9, 2.0 / 9, -2.0 / 9, 2.0 / 9, -2.0 / 9,
        1.0 / 90, 1.0 / 45, 2.0 / 45, 4.0 / 45, 8.0 / 45, 16.0 / 45, 32.0 / 45,
        1.0 / 90, -1.0 / 45, 2.0 / 45, -4.0 / 45, 8.0 / 45, -16.0 / 45, 32.0 / 45,
        32.0 / 45, 16.0 / 45, 8.0 / 45, 4.0 / 45, 2.0 / 45, 1.0 / 45, 1.0 / 90,
        32.0 / 45, -16.0 / 45, 8.0 / 45, -4.0 / 45, 2.0 / 45, -1.0 / 45, 1.0 / 90,
        0, 0, 0, 0, 0, 0, 1,
    ]

    package static func transformKernel(_ taps: UnsafePointer<Double>, into u: UnsafeMutablePointer<Double>,
                                scratch: UnsafeMutablePointer<Double>) {
        for position in 0..<8 {
            var sum = 0.0
            for k in 0..<7 { sum += g[position * 7 + k] * taps[k] }
            u[position] = sum
        }
    }

    package static func transformInput(taps: UnsafePointer<UnsafePointer<Float>>, channels: Int,
                               into v: UnsafeMutablePointer<Float>, stride: Int) {
        forEachLaneGroup(channels) { c, lanes in
            @inline(__always) func load(_ i: Int) -> SIMD8<Float> { loadLanes(taps[i] + c, lanes) }
            let d0 = load(0), d1 = load(1), d2 = load(2), d3 = load(3)
            let d4 = load(4), d5 = load(5), d6 = load(6), d7 = load(7)
            // Rows 1–6 in pairs that share their even and odd halves.
            let even1 = d2 - d4 * 4.25 + d6, odd1 = d1 - d3 * 4.25 + d5
            let even2 = d2 * 0.25 - d4 * 1.25 + d6, odd2 = d1 * 0.5 - d3 * 2.5 + d5 * 2
            let even3 = d2 * 4 - d4 * 5 + d6, odd3 = d1 * 2 - d3 * 2.5 + d5 * 0.5
            let base = v + c
            storeLanes(d6 - d0 + (d2 - d4) * 5.25, base, lanes)
            storeLanes(even1 + odd1, base + stride, lanes)
            storeLanes(even1 - odd1, base + 2 * stride, lanes)
            storeLanes(even2 + odd2, base + 3 * stride, lanes)
            storeLanes(even2 - odd2, base + 4 * stride, lanes)
            storeLanes(even3 + odd3, base + 5 * stride, lanes)
            storeLanes(even3 - odd3, base + 6 * stride, lanes)
            storeLanes(d7 - d1 + (d3 - d5) * 5.25, base + 7 * stride, lanes)
        }
    }

    package static func transformOutput(m: UnsafePointer<Float>, plane: Int, filters: Int,
                                into y: UnsafePointer<UnsafeMutablePointer<Float>>, rows: Int, columns: Int,
                                alpha: Float, accumulate: Bool) {
        let second = rows * columns > 1  // the tile's second output exists (along either axis)
        forEachLaneGroup(filters) { co, lanes in
            @inline(__always) func load(_ i: Int) -> SIMD8<Float> { loadLanes(m + i * plane + co, lanes) }
            let m1 = load(1), m2 = load(2), m3 = load(3), m4 = load(4), m5 = load(5), m6 = load(6)
            writeOutput((load(0) + m1 + m2 + m3 + m4 + m5 + m6) * alpha, y[0] + co, lanes, accumulate)
            if second {
                writeOutput((m1 - m2 + (m3 - m4) * 2 + (m5 - m6) * 0.5 + load(7)) * alpha, y[1] + co, lanes, accumulate)
            }
        }
    }
}
