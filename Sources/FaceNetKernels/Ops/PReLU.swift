/// Keras's PReLU alpha, bound once at load: the values in their own row-major layout and
/// the per-sample shape they broadcast from (size 1 along shared axes): (1, 1, C) for
/// shared_axes [1, 2] on NHWC, (H, W, C) or (C) with nothing shared.
package struct PReLUSlopes: Sendable {
    package let alpha: [Float]
    package let shape: [Int]

    package init(alpha: [Float], shape: [Int]) {
        self.alpha = alpha
        self.shape = shape
    }

    /// One alpha per channel of a `channels`-wide last axis (every other axis shared, or a
    /// (C) alpha on (N, C)): then a GEMM epilogue can apply it column by column.
    package func isPerChannel(channels: Int) -> Bool {
        shape.last == channels && alpha.count == channels && shape.dropLast().allSatisfy { $0 == 1 }
    }
}

/// f(x) = x if x ≥ 0, else alpha · x. Keras computes relu(x) − alpha · relu(−x), which is
/// the same float: the negations are exact and one of the two terms is zero.
package enum PReLUKernel {
    /// `walk`: `StridedWalk(broadcasting: alpha's shape, over: the input's)`.
    package static func apply(_ walk: StridedWalk, alpha: UnsafePointer<Float>, input: UnsafePointer<Float>,
                      output: UnsafeMutablePointer<Float>) {
        let (d0, d1, d2) = walk.extent
        let (s0, s1, s2) = walk.strides
        var src = input, dst = output
        for _ in 0..<walk.samples {
            for i in 0..<d0 {
                for j in 0..<d1 {
                    let a = alpha + i * s0 + j * s1
                    if s2 == 0 {
                        let slope = a[0]
                        for k in 0..<d2 { let x = src[k]; dst[k] = max(x, 0) + slope * min(x, 0) }
                    } else {
                        for k in 0..<d2 { let x = src[k]; dst[k] = max(x, 0) + a[k] * min(x, 0) }
                    }
                    src += d2
                    dst += d2
                }
            }
        }
    }

    /// In a GEMM epilogue: per-channel slopes on one output row of `columns` values, whose
    /// first column is channel `firstColumn`.
    @inline(__always)
    static func applyPerChannel(_ slopes: UnsafePointer<Float>, to row: UnsafeMutablePointer<Float>, columns: Int,
                                firstColumn: Int) {
        let a = slopes + firstColumn
        // Branch-free: max(x, 0) + a·min(x, 0) equals x ≥ 0 ? x : a·x (the zero term adds nothing).
        for j in 0..<columns { let x = row[j]; row[j] = max(x, 0) + a[j] * min(x, 0) }
    }
}

package enum PReLUReference {
    /// Element by element, alpha's index found from the element's per-sample coordinates.
    package static func apply(_ x: Tensor, alpha: Tensor) -> Tensor {
        var y = x
        let sample = Array(x.shape.dropFirst())
        let perSample = sample.reduce(1, *)
        for flat in 0..<x.count {
            var rest = flat % max(perSample, 1)
            var alphaIndex = 0
            var alphaStride = 1
            for axis in stride(from: sample.count - 1, through: 0, by: -1) {
                let coordinate = rest % sample[axis]
                rest /= sample[axis]
                let size = alpha.shape[axis]
                alphaIndex += (size == 1 ? 0 : coordinate) * alphaStride
                alphaStride *= size
            }
            let v = Double(x.scalars[flat])
            y.scalars[flat] = Float(v >= 0 ? v : Double(alpha.scalars[alphaIndex]) * v)
        }
        return y
    }
}
