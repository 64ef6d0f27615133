import FaceNetKernels
import FaceNetEngine
import FaceNetVision

/// Threshold calibration on labelled pairs: the best `distance ≤ threshold` cut, and its
/// k-fold cross-validated accuracy (LFW protocol: each fold is scored with the threshold
/// chosen on the other k − 1, and the fold accuracies are averaged; folds are consecutive
/// runs of the file, or balanced by label).
public enum Calibration {
    /// How pairs are dealt into folds.
    public enum FoldAssignment: String, Sendable, CaseIterable {
        /// k consecutive runs of the file: LFW's protocol, whose pairs file is written fold
        /// by fold, each with the same number of same-person pairs.
        case consecutive
        /// Same-person and different-person pairs each cut into k consecutive runs (file
        /// order), fold i taking run i of both: every fold holds the same share of each, as
        /// LFW's do, whatever order the file is in.
        case balanced
    }

    /// The pair indices each fold tests on.
    public static func folds(_ pairs: [LabelledDistance], count k: Int, assignment: FoldAssignment) -> [[Int]] {
        func runs(_ indices: [Int]) -> [[Int]] {
            (0..<k).map { i in Array(indices[(i * indices.count / k)..<((i + 1) * indices.count / k)]) }
        }
        switch assignment {
        case .consecutive:
            return runs(Array(pairs.indices))
        case .balanced:
            let same = runs(pairs.indices.filter { pairs[$0].samePerson })
            let different = runs(pairs.indices.filter { !pairs[$0].samePerson })
            return (0..<k).map { (same[$0] + different[$0]).sorted() }
        }
    }

    public struct LabelledDistance: Sendable, Equatable {
        public let distance: Double
        public let samePerson: Bool

        public init(distance: Double, samePerson: Bool) {
            self.distance = distance
            self.samePerson = samePerson
        }
    }

    public struct Result: Sendable, Equatable {
        /// Threshold with the best accuracy on all pairs (the smallest such, a pair's distance).
        public let threshold: Double
        /// Accuracy at `threshold` on all pairs, in [0, 1].
        public let accuracy: Double
        /// Mean accuracy over the folds, each scored with a threshold chosen on the others.
        public let crossValidatedAccuracy: Double
        public let folds: Int
    }

    /// Fraction of pairs whose verdict (`distance ≤ threshold`) matches the label.
    public static func accuracy(_ pairs: [LabelledDistance], threshold: Double) -> Double {
        guard !pairs.isEmpty else { return 0 }
        let right = pairs.filter { ($0.distance <= threshold) == $0.samePerson }.count
        return Double(right) / Double(pairs.count)
    }

    /// The threshold with the highest accuracy. Candidates are the pairs' own distances
    /// (and one below them all, which calls every pair different); ties go to the smallest.
    public static func bestThreshold(_ pairs: [LabelledDistance]) -> (threshold: Double, accuracy: Double) {
        let sorted = pairs.sorted { $0.distance < $1.distance }
        guard let first = sorted.first else { return (0, 0) }
        // Sweep upwards: at each distance, every pair up to it is called "same".
        var right = pairs.filter { !$0.samePerson }.count  // threshold below everything
        var best = (threshold: first.distance.nextDown, accuracy: Double(right) / Double(pairs.count))
        var i = 0
        while i < sorted.count {
            let d = sorted[i].distance
            while i < sorted.count, sorted[i].distance == d {
                right += sorted[i].samePerson ? 1 : -1
                i += 1
            }
            let acc = Double(right) / Double(pairs.count)
            if acc > best.accuracy { best = (d, acc) }
        }
        return best
    }

    /// Best threshold over all pairs plus k-fold cross-validated accuracy.
    public static func calibrate(_ pairs: [LabelledDistance], folds: Int = 10,
                                 assignment: FoldAssignment = .consecutive) throws -> Result {
        guard folds >= 2, pairs.count >= folds else {
            throw FaceNetError.invalidArgument("calibration needs at least \(max(folds, 2)) pairs for \(folds) folds; got \(pairs.count)")
        }
        let overall = bestThreshold(pairs)
        var total = 0.0, scored = 0
        for fold in Self.folds(pairs, count: folds, assignment: assignment) {
            // Balanced folds can come out empty when both kinds have fewer pairs than folds.
            guard !fold.isEmpty else { continue }
            let tested = Set(fold)
            let test = fold.map { pairs[$0] }
            let train = pairs.indices.filter { !tested.contains($0) }.map { pairs[$0] }
            total += accuracy(test, threshold: bestThreshold(train).threshold)
            scored += 1
        }
        return Result(threshold: overall.threshold, accuracy: overall.accuracy,
                      crossValidatedAccuracy: total / Double(max(scored, 1)), folds: folds)
    }
}
