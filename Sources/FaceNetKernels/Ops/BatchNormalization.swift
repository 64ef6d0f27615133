/// Inference batch normalisation folded at load into y = x · scale[c] + shift[c]
/// over the last (channel) axis.
package struct BatchNormFolded: Sendable {
    package let scale: [Float]
    package let shift: [Float]

    /// Folds gamma (1 when absent), beta (0 when absent), moving statistics and epsilon.
    package init(config: BatchNormConfig, gamma: [Float]?, beta: [Float]?, mean: [Float], variance: [Float]) {
        var scale = [Float](repeating: 0, count: mean.count)
        var shift = [Float](repeating: 0, count: mean.count)
        for c in 0..<mean.count {
            // Double for the fold: these constants are used for every pixel.
            let s = Double(gamma?[c] ?? 1) / (Double(variance[c]) + Double(config.epsilon)).squareRoot()
            scale[c] = Float(s)
            shift[c] = Float(Double(beta?[c] ?? 0) - Double(mean[c]) * s)
        }
        self.scale = scale
        self.shift = shift
    }

    /// Applies the fold to `count` values whose channel axis has `scale.count` entries.
    package func apply(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int) {
        let channels = scale.count
        scale.withUnsafeBufferPointer { s in
            shift.withUnsafeBufferPointer { b in
                var i = 0
                while i < count {
                    for c in 0..<channels { output[i + c] = input[i + c] * s[c] + b[c] }
                    i += channels
                }
            }
        }
    }
}

package enum BatchNormReference {
    /// The textbook formula, in Double, on the last axis.
    package static func apply(_ x: Tensor, config: BatchNormConfig, gamma: [Float]?, beta: [Float]?,
                      mean: [Float], variance: [Float]) -> Tensor {
        var y = x
        let c = mean.count
        for i in 0..<x.count {
            let k = i % c
            let normalised = (Double(x.scalars[i]) - Double(mean[k])) / (Double(variance[k]) + Double(config.epsilon)).squareRoot()
            y.scalars[i] = Float(normalised * Double(gamma?[k] ?? 1) + Double(beta?[k] ?? 0))
        }
        return y
    }
}
