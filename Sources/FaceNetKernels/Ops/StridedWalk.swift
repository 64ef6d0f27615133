/// A walk over every sample of a batch in row-major order of `extent` — the per-sample shape
/// padded to three axes with leading 1s — where position (i, j, k) reads a second array at
/// i·s0 + j·s1 + k·s2. PReLU reads its alpha this way (stride 0 along shared axes), Permute
/// its input (the input strides of the axes the output takes). Built from shapes without
/// allocating, so `forward` may build one.
package struct StridedWalk {
    package let samples: Int
    /// Floats per sample.
    let sampleCount: Int
    package let extent: (Int, Int, Int)
    package let strides: (Int, Int, Int)

    /// `inputShape` full (batch first), 2 to 4 axes; `size(a)` and `stride(a)` describe
    /// per-sample axis `a` of the walk (rank axes).
    private init(inputShape: [Int], rank: Int, size: (Int) -> Int, stride: (Int) -> Int) {
        samples = inputShape.first ?? 0
        var count = 1
        for axis in 0..<rank { count *= inputShape[1 + axis] }
        sampleCount = count
        let pad = 3 - rank
        func padded(_ k: Int, _ value: (Int) -> Int, absent: Int) -> Int { k < pad ? absent : value(k - pad) }
        extent = (padded(0, size, absent: 1), padded(1, size, absent: 1), padded(2, size, absent: 1))
        strides = (padded(0, stride, absent: 0), padded(1, stride, absent: 0), padded(2, stride, absent: 0))
    }

    /// PReLU: the input's own shape, reading alpha of `alphaShape` (per sample, same rank,
    /// size 1 on shared axes) by its row-major strides, 0 where it broadcasts.
    package init(broadcasting alphaShape: [Int], over inputShape: [Int]) {
        self.init(inputShape: inputShape, rank: alphaShape.count, size: { inputShape[1 + $0] }, stride: { axis in
            alphaShape[axis] == 1 ? 0 : alphaShape[(axis + 1)...].reduce(1, *)
        })
    }

    /// Permute: the output's shape (output axis a is input per-sample axis `sampleAxes[a]`,
    /// 0-based), reading the input by that axis's row-major stride.
    package init(permuting inputShape: [Int], sampleAxes: [Int]) {
        self.init(inputShape: inputShape, rank: sampleAxes.count, size: { inputShape[1 + sampleAxes[$0]] }, stride: { axis in
            inputShape[(2 + sampleAxes[axis])...].reduce(1, *)
        })
    }
}
