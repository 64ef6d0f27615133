/// Keras's Permute on a batch: the output written in order, each element read from the
/// input through `StridedWalk(permuting:sampleAxes:)`.
package enum PermuteKernel {
    package static func run(_ walk: StridedWalk, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let (d0, d1, d2) = walk.extent
        let (s0, s1, s2) = walk.strides
        var dst = output
        for n in 0..<walk.samples {
            let sample = input + n * walk.sampleCount
            for i in 0..<d0 {
                for j in 0..<d1 {
                    let row = sample + i * s0 + j * s1
                    // The last axis kept in place (H↔W swaps): whole runs copy at once.
                    if s2 == 1 {
                        dst.update(from: row, count: d2)
                    } else {
                        for k in 0..<d2 { dst[k] = row[k * s2] }
                    }
                    dst += d2
                }
            }
        }
    }
}

package enum PermuteReference {
    /// Any rank: each output coordinate vector mapped back to the input's, element by element.
    /// `dims` as Keras gives them (1-based, batch excluded).
    package static func run(_ x: Tensor, dims: [Int]) -> Tensor {
        let outShape = [x.shape[0]] + dims.map { x.shape[$0] }
        var y = Tensor(zeros: outShape)
        var coordinate = [Int](repeating: 0, count: outShape.count)
        for flat in 0..<y.count {
            var rest = flat
            for axis in stride(from: outShape.count - 1, through: 0, by: -1) {
                coordinate[axis] = rest % outShape[axis]
                rest /= outShape[axis]
            }
            var inputCoordinate = [Int](repeating: 0, count: x.rank)
            inputCoordinate[0] = coordinate[0]
            for (i, d) in dims.enumerated() { inputCoordinate[d] = coordinate[i + 1] }
            let source = zip(inputCoordinate, x.shape).reduce(0) { $0 * $1.1 + $1.0 }
            y.scalars[flat] = x.scalars[source]
        }
        return y
    }
}
