/// Shape arithmetic shared by the engine's shape inference and the kernels' geometry.

/// Per-sample shapes (no batch dimension). `nil` marks a size known only at run time
/// (e.g. the height and width of a fully convolutional input).
public typealias SymbolicShape = [Int?]

/// Output size of one spatial axis under Keras/TensorFlow padding rules.
@inlinable
package func convolvedSize(_ input: Int, kernel: Int, stride: Int, padding: Padding) -> Int {
    switch padding {
    case .valid: return input >= kernel ? (input - kernel) / stride + 1 : 0
    case .same: return input / stride + (input % stride == 0 ? 0 : 1)  // ⌈input / stride⌉ without input + stride overflowing
    }
}

/// Padding before (top/left) one spatial axis. TensorFlow puts the odd extra after.
@inlinable
func paddingBefore(_ input: Int, output: Int, kernel: Int, stride: Int, padding: Padding) -> Int {
    guard padding == .same else { return 0 }
    let total = max((output - 1) * stride + kernel - input, 0)
    return total / 2
}

/// A Keras axis (batch = 0, negative from the end) as an index into the per-sample shape.
package func sampleAxis(_ kerasAxis: Int, rank sampleRank: Int) -> Int? {
    let full = sampleRank + 1
    let axis = kerasAxis < 0 ? kerasAxis + full : kerasAxis
    guard axis >= 1, axis < full else { return nil }
    return axis - 1
}

/// The element count of a per-sample shape: nil while any size is open, `.failure` when
/// the product does not fit an Int (a hostile topology's sizes must not wrap around).
package func knownCount(_ shape: SymbolicShape) -> Result<Int?, ShapeOverflow> {
    var total = 1
    for size in shape {
        guard let size else { return .success(nil) }
        let (product, overflow) = total.multipliedReportingOverflow(by: size)
        guard !overflow else { return .failure(ShapeOverflow()) }
        total = product
    }
    return .success(total)
}

/// A shape whose element count or size does not fit an Int.
package struct ShapeOverflow: Error {}

/// "(160, 160, 3)"-style text for messages; `?` for unknown sizes.
package func describe(_ shape: SymbolicShape) -> String {
    "(" + shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + ")"
}
