import FaceNetKernels
import FaceNetEngine

/// Non-maximum suppression as the Python `mtcnn` package (1.0.0) does it, so boxes match
/// its output: with boxes sorted by falling score, a box is dropped when ANY higher-scored
/// box overlaps it by more than the threshold — even one that was itself dropped (classic
/// greedy NMS would let that box live).
package enum NonMaximumSuppression {
    package enum Overlap {
        /// Intersection over union.
        case union
        /// Intersection over the smaller area (O-Net's last pass).
        case minimum
    }

    /// Indices (ascending) of the boxes kept; `boxes` must already be sorted by falling score.
    package static func keep(_ boxes: [FaceBox], threshold: Float, overlap: Overlap) -> [Int] {
        var kept: [Int] = []
        kept.reserveCapacity(boxes.count)
        for j in boxes.indices {
            let b = boxes[j]
            var suppressed = false
            for i in 0..<j where ratio(boxes[i], b, overlap) > threshold {
                suppressed = true
                break
            }
            if !suppressed { kept.append(j) }
        }
        return kept
    }

    /// NaN (both boxes empty) compares false, so an empty box never suppresses (as in numpy).
    @inline(__always)
    package static func ratio(_ a: FaceBox, _ b: FaceBox, _ overlap: Overlap) -> Float {
        let inter = a.intersection(b)
        switch overlap {
        case .union: return inter / (a.area + b.area - inter)
        case .minimum: return inter / min(a.area, b.area)
        }
    }
}

/// A box on its way through the cascade: its score, and which stage scored it.
package struct Candidate: Sendable {
    package var box: FaceBox
    var score: Float
    /// Set by O-Net.
    package var landmarks: FaceLandmarks?

    /// The candidates NMS keeps, in order (sorted by falling score first when `sort`).
    static func suppress(_ candidates: [Candidate], threshold: Float, overlap: NonMaximumSuppression.Overlap,
                         sort: Bool) -> [Candidate] {
        let ordered = sort ? candidates.sorted { $0.score > $1.score } : candidates
        return NonMaximumSuppression.keep(ordered.map(\.box), threshold: threshold, overlap: overlap).map { ordered[$0] }
    }
}
