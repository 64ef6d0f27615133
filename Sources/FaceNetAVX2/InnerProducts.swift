/// Inner products of one query with consecutive rows of a matrix, for x86-64 CPUs with
/// AVX2 and FMA. This module is compiled for those instructions (`-target-cpu haswell`):
/// call it only after checking the CPU (FaceNetGallery's `ExactSearch` does).
///
/// The scan of a gallery for one query is bound by memory bandwidth (every row is read
/// once, the query stays in L1), so the kernel's job is to never be the bottleneck and to
/// read the rows front to back, one row after another: a single stream the hardware
/// prefetcher follows. (Four rows per pass, sharing each query load, measured 15–20% slower
/// at 100k × 512-d on AMD Zen 3: four streams 2 KB apart.)
public enum InnerProducts {
    typealias Lanes = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
    }

    /// `scores[i] = Σ_d query[d] · rows[i · dimension + d]` for i in 0..<count.
    ///
    /// Shapes: `query` dimension floats; `rows` count × dimension floats, row-major,
    /// contiguous; `scores` count floats. Any dimension ≥ 1 (a tail below 8 is scalar).
    public static func scores(query: UnsafePointer<Float>, rows: UnsafePointer<Float>, count: Int, dimension: Int,
                              into scores: UnsafeMutablePointer<Float>) {
        guard count > 0, dimension > 0 else { return }
        for row in 0..<count {
            scores[row] = one(query: query, row: rows + row * dimension, dimension: dimension)
        }
    }

    /// One row: two 8-lane accumulators (the second half of each 16 floats in the second).
    @inline(__always)
    static func one(query q: UnsafePointer<Float>, row r: UnsafePointer<Float>, dimension: Int) -> Float {
        var a = Lanes(), b = Lanes()
        var d = 0
        while d + 16 <= dimension {
            a = a.addingProduct(load(r + d), load(q + d))
            b = b.addingProduct(load(r + d + 8), load(q + d + 8))
            d += 16
        }
        if d + 8 <= dimension {
            a = a.addingProduct(load(r + d), load(q + d))
            d += 8
        }
        var s = (a + b).sum()
        while d < dimension {
            s += q[d] * r[d]
            d += 1
        }
        return s
    }
}
