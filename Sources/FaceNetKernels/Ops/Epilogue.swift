/// What a fused layer chain does after its GEMM, on an output of `rows` rows of `columns`
/// values each, `ldc` floats apart (a row may be a slice of a wider concatenation):
///
///     C = alpha · A·B + (accumulate ? C : 0)      (in the GEMM itself)
///     C = activation(C · scale[c] + shift[c])     (here; scale and shift optional)
///     C = C ≥ 0 ? C : slope[c] · C                (here, when a per-channel PReLU follows)
///
/// Conv → BatchNorm → ReLU: scale = BN scale, shift = BN shift + BN scale · bias.
/// Residual up-projection → Lambda(s) → Add(x) → ReLU: C holds x, alpha = s, shift = s · bias.
package struct Epilogue: Sendable {
    package var alpha: Float = 1
    package var accumulate = false
    package var scale: [Float]?
    package var shift: [Float]?
    package var activation: ActivationFunction = .linear
    /// A per-channel PReLU's alpha, applied after the activation.
    package var preluSlopes: [Float]?

    package init(alpha: Float = 1, accumulate: Bool = false, scale: [Float]? = nil, shift: [Float]? = nil,
                 activation: ActivationFunction = .linear, preluSlopes: [Float]? = nil) {
        self.alpha = alpha
        self.accumulate = accumulate
        self.scale = scale
        self.shift = shift
        self.activation = activation
        self.preluSlopes = preluSlopes
    }

    /// Whether each column's result depends on that column alone, so threads may share the
    /// epilogue by columns; softmax normalises across the whole row.
    package var isColumnwise: Bool { activation != .softmax }

    /// `firstColumn`: the filter index of `c`'s first column (when a thread owns a column range).
    package func apply(to c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ldc: Int, firstColumn: Int = 0) {
        withOptionalPointer(scale) { scaleBase in
            withOptionalPointer(shift) { shiftBase in
                withOptionalPointer(preluSlopes) { slopeBase in
                    let s = scaleBase.map { $0 + firstColumn }, t = shiftBase.map { $0 + firstColumn }
                    let p = slopeBase.map { $0 + firstColumn }
                    if activation == .linear || activation == .relu {
                        Self.applyElementwise(to: c, rows: rows, columns: columns, ldc: ldc, scale: s, shift: t,
                                              relu: activation == .relu, slopes: p)
                        return
                    }
                    if activation == .softmax, p == nil {
                        Self.applyElementwise(to: c, rows: rows, columns: columns, ldc: ldc, scale: s, shift: t,
                                              relu: false, slopes: nil)
                        ActivationKernel.softmax(c, rows: rows, columns: columns, stride: ldc)
                        return
                    }
                    var row = c
                    for _ in 0..<rows {
                        Self.applyElementwise(to: row, rows: 1, columns: columns, ldc: ldc, scale: s, shift: t,
                                              relu: false, slopes: nil)
                        ActivationKernel.apply(activation, to: row, count: columns, lastDimension: columns)
                        if let p { PReLUKernel.applyPerChannel(p, to: row, columns: columns, firstColumn: 0) }
                        row += ldc
                    }
                }
            }
        }
    }

    /// Scale/shift, ReLU and PReLU as short vectorisable passes over each row (the row is
    /// in L1 by then); the choice is made per row, never per element, and PReLU is
    /// branch-free (a sign branch mispredicts half the time on conv outputs).
    @inline(__always)
    static func applyElementwise(to c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ldc: Int,
                                 scale s: UnsafePointer<Float>?, shift t: UnsafePointer<Float>?, relu: Bool,
                                 slopes p: UnsafePointer<Float>?) {
        if s == nil, t == nil, !relu, p == nil { return }
        var row = c
        for _ in 0..<rows {
            switch (s, t) {
            case (let s?, let t?): for j in 0..<columns { row[j] = row[j] * s[j] + t[j] }
            case (let s?, nil): for j in 0..<columns { row[j] *= s[j] }
            case (nil, let t?): for j in 0..<columns { row[j] += t[j] }
            case (nil, nil): break
            }
            if relu { for j in 0..<columns { row[j] = max(row[j], 0) } }
            if let p { PReLUKernel.applyPerChannel(p, to: row, columns: columns, firstColumn: 0) }
            row += ldc
        }
    }
}
