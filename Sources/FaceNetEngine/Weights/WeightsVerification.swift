import FaceNetKernels

/// How loading checks a weights file against the manifest of known weights
/// (`KnownWeights`), and where it remembers digests already computed.
public struct WeightsVerification: Sendable, Equatable {
    /// What a mismatch does.
    public enum Policy: String, Sendable, CaseIterable {
        /// No check: nothing is fingerprinted or hashed.
        case off
        /// Recognise and check; a mismatch is recorded (`Model.weightsCheck`), not thrown.
        case warn
        /// As `warn`, but a mismatch throws `FaceNetError.weightsMismatch`.
        case require
    }

    public var policy: Policy
    /// Where verified digests are remembered; nil: hash on every load of a known file.
    public var cache: WeightsDigestCache?

    public init(_ policy: Policy, cache: WeightsDigestCache? = .standard()) {
        self.policy = policy
        self.cache = cache
    }

    /// The default: check, record a mismatch, cache in the standard place.
    public static var warn: WeightsVerification { WeightsVerification(.warn) }
    public static var require: WeightsVerification { WeightsVerification(.require) }
    public static var off: WeightsVerification { WeightsVerification(.off, cache: nil) }
}

/// What the check found for one loaded weights file.
public enum WeightsCheck: Sendable, Equatable {
    /// Verification was off, or the weights did not come from a file.
    case notChecked
    /// No known weights have these layers and shapes (structure fingerprint given): the
    /// file loads as usual, unverified.
    case unknown(structure: String)
    /// The tensors are exactly the known weights'. `cached`: the digest came from the
    /// cache (the file's size, time and inode were unchanged), no hashing was done.
    case verified(KnownWeights, cached: Bool)
    /// The layers and shapes of known weights, other values (tensor digest `found`).
    case mismatch(KnownWeights, found: String, cached: Bool)

    /// One line for people.
    public var summary: String {
        switch self {
        case .notChecked:
            return "weights not checked against the manifest of known weights"
        case .unknown(let structure):
            return "weights not in the manifest of known weights (structure fingerprint \(structure.prefix(16))…): unverified"
        case .verified(let known, let cached):
            return "weights verified: \(known.name); tensor digest \(known.tensorDigest.prefix(16))…\(cached ? " (from the cache)" : "")"
        case .mismatch(let known, let found, _):
            return "weights MISMATCH: the layers and shapes of \(known.name), but other values (tensor digest \(found), "
                + "expected \(known.tensorDigest)): a damaged or modified copy, or other weights of the same architecture"
        }
    }
}
