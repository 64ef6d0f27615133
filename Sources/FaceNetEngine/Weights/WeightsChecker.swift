import Foundation
import FaceNetKernels

/// Recognises loaded weights by their structure fingerprint and checks their tensor digest
/// against the manifest (`KnownWeights`), through the digest cache.
package enum WeightsChecker {
    /// Checks `weights`, read from `path` whose identity before reading was `before`
    /// (the cache is used only when the file is still that same version afterwards).
    /// Throws `FaceNetError.weightsMismatch` under `.require`.
    package static func check(_ weights: LoadedWeights, before: FileIdentity?,
                      verification: WeightsVerification) throws -> WeightsCheck {
        guard verification.policy != .off else { return .notChecked }
        let structure = WeightsDigest.structure(of: weights.tensors)
        let candidates = KnownWeights.all.filter { $0.structure == structure }
        guard !candidates.isEmpty else { return .unknown(structure: structure) }

        let identity = before.flatMap { before in FileIdentity(path: weights.path) == before ? before : nil }
        let stored = identity.flatMap { verification.cache?.digest(for: $0) }
        let found = stored ?? WeightsDigest.digest(of: weights.tensors)
        if stored == nil, let identity { verification.cache?.store(found, for: identity) }
        let cached = stored != nil
        if let known = candidates.first(where: { $0.tensorDigest == found }) {
            return .verified(known, cached: cached)
        }
        // Other weights for the same architecture (deepface's FaceNet-512, a fine-tuned
        // copy) share the structure: only a file under the known name claims to be it.
        let name = (weights.path as NSString).lastPathComponent
        guard let claimed = candidates.first(where: { ($0.file as NSString).lastPathComponent == name }) else {
            return .unknown(structure: structure)
        }
        if verification.policy == .require {
            throw FaceNetError.weightsMismatch(path: weights.path, known: claimed.name,
                                               expected: claimed.tensorDigest, found: found)
        }
        return .mismatch(claimed, found: found, cached: cached)
    }
}
