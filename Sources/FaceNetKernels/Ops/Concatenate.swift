/// Concatenation along one axis. The tensor is seen as (outer, axis × inner): each input
/// contributes a contiguous block of `axisSize × inner` floats to every outer row.
package enum ConcatenateKernel {
    /// `blocks[i]` = floats input i contributes per outer row; inputs marked in `skip` are
    /// already in place (written there by the layer that produced them).
    package static func run(inputs: [UnsafePointer<Float>], blocks: [Int], outer: Int, output: UnsafeMutablePointer<Float>,
                    skip: [Bool]? = nil) {
        var out = output
        for o in 0..<outer {
            for i in inputs.indices {
                if skip?[i] != true { out.update(from: inputs[i] + o * blocks[i], count: blocks[i]) }
                out += blocks[i]
            }
        }
    }
}

package enum ConcatenateReference {
    /// Index arithmetic on the full shapes, element by element.
    package static func run(_ xs: [Tensor], sampleAxis: Int) -> Tensor {
        let axis = sampleAxis + 1
        var shape = xs[0].shape
        shape[axis] = xs.map { $0.shape[axis] }.reduce(0, +)
        var y = Tensor(zeros: shape)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let outer = shape[..<axis].reduce(1, *)
        for o in 0..<outer {
            var offset = 0
            for x in xs {
                let a = x.shape[axis]
                for i in 0..<a {
                    for j in 0..<inner {
                        y.scalars[(o * shape[axis] + offset + i) * inner + j] = x.scalars[(o * a + i) * inner + j]
                    }
                }
                offset += a
            }
        }
        return y
    }
}
