/// Add (of two or more same-shaped inputs) and FaceNet's residual scale (`x * s`).
package enum ElementwiseKernel {
    /// `first` plus every one of `others` (an Add has at least two inputs: checked when planned).
    package static func add(_ first: UnsafePointer<Float>, _ others: ArraySlice<UnsafePointer<Float>>, count: Int,
                            output: UnsafeMutablePointer<Float>) {
        if others.count == 1, let second = others.first {
            for i in 0..<count { output[i] = first[i] + second[i] }
            return
        }
        output.update(from: first, count: count)
        for input in others {
            for i in 0..<count { output[i] += input[i] }
        }
    }

    package static func scale(_ input: UnsafePointer<Float>, by factor: Float, count: Int, output: UnsafeMutablePointer<Float>) {
        for i in 0..<count { output[i] = input[i] * factor }
    }
}

package enum ElementwiseReference {
    package static func add(_ xs: [Tensor]) -> Tensor {
        var y = xs[0]
        for i in 0..<y.count { y.scalars[i] = Float(xs.reduce(0.0) { $0 + Double($1.scalars[i]) }) }
        return y
    }

    package static func scale(_ x: Tensor, by factor: Float) -> Tensor {
        var y = x
        y.scalars = x.scalars.map { $0 * factor }
        return y
    }
}
