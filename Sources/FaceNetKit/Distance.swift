import Foundation
import FaceNetKernels
import FaceNetEngine
import FaceNetVision

/// How two embeddings are compared. Smaller is more alike; a pair is the same person when
/// `distance ≤ threshold` (deepface's convention).
public enum DistanceMetric: String, Sendable, CaseIterable, Codable {
    /// 1 − cos(a, b).
    case cosine
    /// ‖a − b‖ on the raw embeddings.
    case euclidean
    /// ‖a/‖a‖ − b/‖b‖‖, with deepface's guard: x / (‖x‖ + 1e-10).
    case euclideanL2 = "euclidean_l2"
    /// arccos(cos(a, b)) / π, in [0, 1].
    case angular

    /// The distance between two embeddings of equal length (accumulated in Double). Throws
    /// `FaceNetError.invalidArgument` for lengths that differ or are 0, and for a zero
    /// embedding under `cosine` and `angular`.
    public func distance(_ a: [Float], _ b: [Float]) throws(FaceNetError) -> Double {
        guard a.count == b.count, !a.isEmpty else {
            throw FaceNetError.invalidArgument("embeddings of length \(a.count) and \(b.count) cannot be compared")
        }
        var dot = 0.0, aa = 0.0, bb = 0.0, diff = 0.0
        for i in 0..<a.count {
            let x = Double(a[i]), y = Double(b[i])
            dot += x * y
            aa += x * x
            bb += y * y
            diff += (x - y) * (x - y)
        }
        switch self {
        case .euclidean:
            return diff.squareRoot()
        case .euclideanL2:
            let na = aa.squareRoot() + 1e-10, nb = bb.squareRoot() + 1e-10
            var sum = 0.0
            for i in 0..<a.count {
                let d = Double(a[i]) / na - Double(b[i]) / nb
                sum += d * d
            }
            return sum.squareRoot()
        case .cosine, .angular:
            let denominator = aa.squareRoot() * bb.squareRoot()
            guard denominator > 0 else {
                throw FaceNetError.invalidArgument("cosine distance of a zero embedding is undefined")
            }
            let cos = min(1, max(-1, dot / denominator))
            return self == .cosine ? 1 - cos : acos(cos) / Double.pi
        }
    }
}
