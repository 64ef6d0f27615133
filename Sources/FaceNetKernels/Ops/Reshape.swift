/// Flatten and Reshape keep every float where it is (row-major, channels last), so the
/// engine runs them as a view of their input's buffer with the new shape: no kernel, only
/// the shape rule, which the reference executor applies to its `Tensor`s too.
package enum ReshapeRule {
    /// Keras's Reshape output per sample for an input of `inputCount` elements (nil while
    /// open): a −1 size takes what the others leave. Nil when the sizes cannot fit, or the
    /// target is malformed (a size of 0 or below other than one −1).
    package static func outputShape(target: [Int], inputCount: Int?) -> SymbolicShape? {
        guard target.allSatisfy({ $0 > 0 || $0 == -1 }), target.filter({ $0 == -1 }).count <= 1 else { return nil }
        // A product past Int.max cannot match any input: no fit (instead of wrapping around).
        guard case .success(let product?) = knownCount(target.filter { $0 != -1 }) else { return nil }
        let fixed = product
        guard target.contains(-1) else {
            if let inputCount, inputCount != fixed { return nil }
            return target.map { $0 }
        }
        guard let inputCount else { return target.map { $0 == -1 ? nil : $0 } }
        guard fixed > 0, inputCount % fixed == 0 else { return nil }
        return target.map { $0 == -1 ? inputCount / fixed : $0 }
    }
}
