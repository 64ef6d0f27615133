import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// Distances, thresholds and calibration against values worked out by hand.
final class DecisionTests: XCTestCase {
    func testDistancesAgainstHandComputedValues() throws {
        // a = (3, 4), b = (4, 3): |a| = |b| = 5, a·b = 24, cos = 0.96.
        let a: [Float] = [3, 4], b: [Float] = [4, 3]
        XCTAssertEqual(try DistanceMetric.cosine.distance(a, b), 0.04, accuracy: 1e-12)
        XCTAssertEqual(try DistanceMetric.euclidean.distance(a, b), 2.0.squareRoot(), accuracy: 1e-12)
        // Unit vectors (0.6, 0.8) and (0.8, 0.6): distance √(0.04 + 0.04).
        XCTAssertEqual(try DistanceMetric.euclideanL2.distance(a, b), 0.08.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(try DistanceMetric.angular.distance(a, b), acos(0.96) / Double.pi, accuracy: 1e-12)
        // Orthogonal and opposite vectors.
        XCTAssertEqual(try DistanceMetric.cosine.distance([1, 0], [0, 2]), 1, accuracy: 1e-12)
        XCTAssertEqual(try DistanceMetric.angular.distance([1, 0], [-3, 0]), 1, accuracy: 1e-12)
        XCTAssertEqual(try DistanceMetric.euclideanL2.distance([1, 0], [-3, 0]), 2, accuracy: 1e-9)
        XCTAssertEqual(try DistanceMetric.angular.distance([2, 2], [5, 5]), 0, accuracy: 1e-7)
        XCTAssertThrowsError(try DistanceMetric.cosine.distance([1, 2], [1, 2, 3]))
        XCTAssertThrowsError(try DistanceMetric.cosine.distance([0, 0], [1, 2]))
    }

    func testDeepFaceThresholdsAreTheirs() {
        XCTAssertEqual(WeightSet.deepfaceFacenet.threshold(for: .cosine), 0.40)
        XCTAssertEqual(WeightSet.deepfaceFacenet.threshold(for: .euclidean), 10)
        XCTAssertEqual(WeightSet.deepfaceFacenet.threshold(for: .euclideanL2), 0.80)
        XCTAssertEqual(WeightSet.deepfaceFacenet.threshold(for: .angular), 0.33)
        XCTAssertEqual(WeightSet.deepfaceFacenet512.threshold(for: .cosine), 0.30)
        XCTAssertEqual(WeightSet.deepfaceFacenet512.threshold(for: .euclidean), 23.56)
        XCTAssertEqual(WeightSet.deepfaceFacenet512.threshold(for: .euclideanL2), 1.04)
        XCTAssertEqual(WeightSet.deepfaceFacenet512.threshold(for: .angular), 0.35)
    }

    private func pairs(_ list: [(Double, Bool)]) -> [Calibration.LabelledDistance] {
        list.map { Calibration.LabelledDistance(distance: $0.0, samePerson: $0.1) }
    }

    func testBestThresholdByHand() {
        // Same: 0.2, 0.5, 0.9; different: 0.4, 1.1, 1.3.
        // Cut at 0.5: same {0.2, 0.5} right, 0.9 wrong; different 0.4 wrong, 1.1, 1.3 right → 4/6.
        // Cut at 0.9: all same right; 0.4 wrong → 5/6. Best, and the smallest with 5/6.
        let p = pairs([(0.2, true), (0.4, false), (0.5, true), (0.9, true), (1.1, false), (1.3, false)])
        let best = Calibration.bestThreshold(p)
        XCTAssertEqual(best.threshold, 0.9)
        XCTAssertEqual(best.accuracy, 5.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(Calibration.accuracy(p, threshold: 0.5), 4.0 / 6.0, accuracy: 1e-12)
        // `≤`: a cut just below 0.9 loses that pair.
        XCTAssertEqual(Calibration.accuracy(p, threshold: 0.9.nextDown), 4.0 / 6.0, accuracy: 1e-12)
        // Nothing is the same person: the best cut is below every distance.
        let allDifferent = pairs([(0.3, false), (0.6, false)])
        XCTAssertLessThan(Calibration.bestThreshold(allDifferent).threshold, 0.3)
        XCTAssertEqual(Calibration.bestThreshold(allDifferent).accuracy, 1)
    }

    func testCrossValidationByHand() throws {
        // 4 folds of 2 pairs. Fold 4 holds a same-person pair at 0.8 that the others'
        // cut (0.3) misses: it scores 1/2; the other folds score 2/2. Mean 7/8.
        let p = pairs([(0.1, true), (0.9, false), (0.2, true), (1.0, false),
                       (0.3, true), (0.95, false), (0.8, true), (1.2, false)])
        let result = try Calibration.calibrate(p, folds: 4)
        XCTAssertEqual(result.threshold, 0.8)
        XCTAssertEqual(result.accuracy, 1)
        XCTAssertEqual(result.crossValidatedAccuracy, 7.0 / 8.0, accuracy: 1e-12)
        XCTAssertThrowsError(try Calibration.calibrate(Array(p.prefix(3)), folds: 4))
    }

    func testPairsFileParsesDeepFaceFormat() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pairs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("pairs.csv").path
        try Data("file_x,file_y,Decision\r\nimg1.jpg,img2.jpg,Yes\r\nimg3.jpg,img4.jpg,No".utf8).write(to: URL(fileURLWithPath: path))
        let file = try PairsFile(path: path)
        XCTAssertEqual(file.pairs, [.init(first: "img1.jpg", second: "img2.jpg", samePerson: true),
                                    .init(first: "img3.jpg", second: "img4.jpg", samePerson: false)])
        XCTAssertEqual(PairsFile.stem("dir/img11_reflection.jpg"), "img11_reflection")
        try Data("a,b,Maybe\n".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try PairsFile(path: path))
    }

    /// A file sorted by label (10 same-person pairs, then 30 different): consecutive folds
    /// put all same-person pairs in the first three folds; balanced folds give each fold
    /// one same-person and three different-person pairs. Every pair is tested exactly once,
    /// and the CV figure is the mean of the folds' accuracies at their training thresholds.
    func testBalancedFoldsHoldTheSameShareOfEachLabel() throws {
        var pairs: [Calibration.LabelledDistance] = []
        for i in 0..<40 {
            let distance: Double = i < 10 ? 0.1 * Double(i + 1) : 0.95 + 0.01 * Double(i)
            pairs.append(Calibration.LabelledDistance(distance: distance, samePerson: i < 10))
        }
        let consecutive = Calibration.folds(pairs, count: 10, assignment: .consecutive)
        XCTAssertEqual(consecutive.map { $0.filter { pairs[$0].samePerson }.count }, [4, 4, 2, 0, 0, 0, 0, 0, 0, 0])
        let balanced = Calibration.folds(pairs, count: 10, assignment: .balanced)
        XCTAssertEqual(balanced.map { $0.filter { pairs[$0].samePerson }.count }, Array(repeating: 1, count: 10))
        XCTAssertEqual(balanced.map { (fold: [Int]) in fold.count }, Array(repeating: 4, count: 10))
        for folds in [consecutive, balanced] {
            XCTAssertEqual(folds.flatMap { $0 }.sorted(), Array(0..<40))
        }
        for (assignment, folds) in [(Calibration.FoldAssignment.consecutive, consecutive), (.balanced, balanced)] {
            var expected = 0.0
            for fold in folds {
                let train = pairs.indices.filter { !fold.contains($0) }.map { pairs[$0] }
                expected += Calibration.accuracy(fold.map { pairs[$0] }, threshold: Calibration.bestThreshold(train).threshold)
            }
            let result = try Calibration.calibrate(pairs, folds: 10, assignment: assignment)
            XCTAssertEqual(result.crossValidatedAccuracy, expected / 10, accuracy: 1e-12, "\(assignment)")
        }
        // The fold holding the farthest same-person pair (1.0) is scored at 0.9, the lower end
        // of its training set's best interval, so that pair is called different.
        XCTAssertLessThan(try Calibration.calibrate(pairs, assignment: .balanced).crossValidatedAccuracy, 1)
        // Fewer pairs of each kind than folds: empty folds are not averaged in.
        let few = [true, false, true].map { Calibration.LabelledDistance(distance: $0 ? 0.2 : 0.9, samePerson: $0) }
        XCTAssertEqual(try Calibration.calibrate(few, folds: 3, assignment: .balanced).crossValidatedAccuracy, 1, accuracy: 1e-12)
    }

    /// The shared CASIA embeddings (Keras's, l2-normalised): the best euclidean_l2 cut is
    /// 0.8023 at 99.0%, and deepface's Facenet512 cut gives 95.0%, as the reference says.
    func testCasiaCalibrationOnSharedPairs() throws {
        let manifest = try GoldenManifest(path: try Paths.shared("faces/facenet512_casia_manifest.json"))
        let pairsFile = try PairsFile(path: try Paths.shared("faces/pairs.csv"))
        let entry = try XCTUnwrap(manifest.outputs.first { $0.name == "Bottleneck_BatchNorm" })
        let raw = try manifest.readTensor(entry.file, shape: entry.shape)
        let data = try Data(contentsOf: URL(fileURLWithPath: manifest.path))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let images = try XCTUnwrap((root["input"] as? [String: Any])?["images"] as? [String]).map(PairsFile.stem)
        let width = raw.shape[1]
        func row(_ name: String) throws -> [Float] {
            let i = try XCTUnwrap(images.firstIndex(of: PairsFile.stem(name)))
            return Array(raw.scalars[(i * width)..<((i + 1) * width)])
        }
        let labelled = try pairsFile.pairs.map {
            Calibration.LabelledDistance(distance: try DistanceMetric.euclideanL2.distance(try row($0.first), try row($0.second)),
                                         samePerson: $0.samePerson)
        }
        let result = try Calibration.calibrate(labelled)
        XCTAssertEqual(result.threshold, 0.8023, accuracy: 5e-5)
        XCTAssertEqual(result.accuracy, 0.99, accuracy: 1e-9)
        XCTAssertEqual(Calibration.accuracy(labelled, threshold: 1.04), 0.95, accuracy: 1e-9)
        print("CASIA euclidean_l2: best \(result.threshold) acc \(result.accuracy) 10-fold CV \(result.crossValidatedAccuracy)")
    }
}
