/// What a fused layer chain does after its GEMM, on an output of `rows` rows of `columns`
/// values each, `ldc` floats apart (a row may be a slice of a wider concatenation):
///
///     C = alpha · A·B + (accumulate ? C : 0)      (in the GEMM itself)
///     C = activation(C · scale[c] + shift[c])     (here; scale and shift optional)
///     C = C ≥ 0 ? C : slope[c] · C                (here, when a per-channel PReLU follows)
///
/// Conv → BatchNorm → ReLU: scale = BN scale, shift = BN shift + BN scale · bias.
/// Residual up-projection → Lambda(s) → Add(x) → ReLU: C holds x, alpha = s, shift = s · bias.
struct Epilogue: Sendable {
    var alpha: Float = 1
    var accumulate = false
    var scale: [Float]?
    var shift: [Float]?
    var activation: ActivationFunction = .linear
    /// A per-channel PReLU's alpha, applied after the activation.
    var preluSlopes: [Float]?

    /// Whether each column's result depends on that column alone, so threads may share the
    /// epilogue by columns; softmax normalises across the whole row.
    var isColumnwise: Bool { activation != .softmax }

    /// `firstColumn`: the filter index of `c`'s first column (when a thread owns a column range).
    func apply(to c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ldc: Int, firstColumn: Int = 0) {
        withOptionalPointer(scale) { scaleBase in
            withOptionalPointer(shift) { shiftBase in
                withOptionalPointer(preluSlopes) { slopes in
                    let s = scaleBase.map { $0 + firstColumn }, t = shiftBase.map { $0 + firstColumn }
                    var row = c
                    for _ in 0..<rows {
                        switch (s, t) {
                        case (let s?, let t?): for j in 0..<columns { row[j] = row[j] * s[j] + t[j] }
                        case (let s?, nil): for j in 0..<columns { row[j] *= s[j] }
                        case (nil, let t?): for j in 0..<columns { row[j] += t[j] }
                        case (nil, nil): break
                        }
                        if activation == .relu {
                            for j in 0..<columns { row[j] = max(row[j], 0) }
                        } else if activation != .linear {
                            ActivationKernel.apply(activation, to: row, count: columns, lastDimension: columns)
                        }
                        if let slopes {
                            PReLUKernel.applyPerChannel(slopes, to: row, columns: columns, firstColumn: firstColumn)
                        }
                        row += ldc
                    }
                }
            }
        }
    }
}
