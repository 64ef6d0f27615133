/// Fully connected layer: (N, in) · (in, units) kernel, then the epilogue (bias, any folded
/// batch norm, activation). One GEMM.
package enum DenseKernel {
    /// `kernel`: (inFeatures × units), stored for the GEMM backend.
    package static func run(batch: Int, units: Int, input: UnsafePointer<Float>, kernel: GEMMWeights,
                    output: UnsafeMutablePointer<Float>, epilogue: Epilogue) {
        if kernel.multiply(m: batch, a: input, c: output, ldc: units, epilogue: epilogue) { return }
        epilogue.apply(to: output, rows: batch, columns: units, ldc: units)
    }
}

package enum DenseReference {
    package static func run(_ x: Tensor, kernel: Tensor, bias: [Float]?, activation: ActivationFunction) -> Tensor {
        let (n, k) = (x.shape[0], x.shape[1])
        let units = kernel.shape[1]
        var y = Tensor(zeros: [n, units])
        for b in 0..<n {
            for u in 0..<units {
                var sum = Double(bias?[u] ?? 0)
                for i in 0..<k { sum += Double(x.scalars[b * k + i]) * Double(kernel.scalars[i * units + u]) }
                y.scalars[b * units + u] = Float(sum)
            }
        }
        return ActivationReference.apply(activation, y)
    }
}
