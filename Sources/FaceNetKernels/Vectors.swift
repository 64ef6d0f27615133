/// A vector divided by its l2 norm (accumulated in Double); a zero vector is returned as is.
public func l2Normalized(_ v: [Float]) -> [Float] {
    let norm = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    guard norm > 0 else { return v }
    return v.map { Float(Double($0) / norm) }
}

/// Each row (first dimension) of a tensor divided by its l2 norm.
public func l2Normalized(_ x: Tensor) -> Tensor {
    guard let rows = x.shape.first, rows > 0 else { return x }
    let width = x.count / rows
    var y = x
    for r in 0..<rows {
        y.scalars.replaceSubrange(r * width..<(r + 1) * width,
                                  with: l2Normalized(Array(x.scalars[r * width..<(r + 1) * width])))
    }
    return y
}

/// Calls `body` with a pointer to the array's storage, or nil for a nil array (optional
/// bias, scale and shift vectors of the kernels).
@inline(__always)
func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}
