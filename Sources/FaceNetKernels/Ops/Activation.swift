import Foundation

/// Element-wise activations, applied in place on `count` floats. Softmax normalises
/// each run of `lastDimension` consecutive values (the channel axis of NHWC).
package enum ActivationKernel {
    package static func apply(_ function: ActivationFunction, to data: UnsafeMutablePointer<Float>,
                      count: Int, lastDimension: Int) {
        switch function {
        case .linear:
            return
        case .relu:
            for i in 0..<count { data[i] = max(data[i], 0) }
        case .sigmoid:
            for i in 0..<count { data[i] = 1 / (1 + exp(-data[i])) }
        case .tanh:
            for i in 0..<count { data[i] = Foundation.tanh(data[i]) }
        case .softmax:
            guard lastDimension > 0 else { return }  // no channels: nothing to normalise
            softmax(data, rows: count / lastDimension, columns: lastDimension, stride: lastDimension)
        }
    }

    /// Softmax over each of `rows` rows of `columns` values, rows `stride` floats apart; the
    /// row's maximum is subtracted first, and its own exponential is exp(0) = 1 without
    /// calling `exp` (the same value): MTCNN's 2-channel head has ~10⁵ rows per pyramid
    /// level, and `exp` was half its time.
    package static func softmax(_ data: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int) {
        var row = data
        for _ in 0..<rows {
            var largest = -Float.infinity
            for j in 0..<columns { largest = max(largest, row[j]) }
            var sum: Float = 0
            for j in 0..<columns {
                let e = row[j] == largest ? 1 : exp(row[j] - largest)
                row[j] = e
                sum += e
            }
            let inverse = 1 / sum
            for j in 0..<columns { row[j] *= inverse }
            row += stride
        }
    }
}

/// Naive references, on whole tensors, written from the definitions.
package enum ActivationReference {
    package static func apply(_ function: ActivationFunction, _ x: Tensor) -> Tensor {
        var y = x
        switch function {
        case .linear: break
        case .relu: y.scalars = x.scalars.map { $0 > 0 ? $0 : 0 }
        case .sigmoid: y.scalars = x.scalars.map { Float(1 / (1 + Foundation.exp(-Double($0)))) }
        case .tanh: y.scalars = x.scalars.map { Float(Foundation.tanh(Double($0))) }
        case .softmax:
            let d = x.shape.last ?? 1
            for start in stride(from: 0, to: x.count, by: d) {
                let row = x.scalars[start..<start + d].map(Double.init)
                let m = row.max() ?? 0
                let e = row.map { Foundation.exp($0 - m) }
                let s = e.reduce(0, +)
                for j in 0..<d { y.scalars[start + j] = Float(e[j] / s) }
            }
        }
        return y
    }
}
