import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// Whole-model golden tests: the project's tiny fixtures in every JSON dialect × H5 layout,
/// and the full-size shared references when present.
final class GoldenTests: XCTestCase {
    private func check(manifest: String, weights: String, topology: String?) throws -> GoldenReport {
        let model = try Model.load(weightsPath: weights, topologyPath: topology)
        let report = try GoldenCheck.run(manifest: try GoldenManifest(path: manifest), model: model)
        for r in report.results where !r.withinTolerance {
            XCTFail("\(r.name): max abs err \(r.maxAbsError) > \(r.limit) [\(weights) + \(topology ?? "model_config")]")
        }
        XCTAssertGreaterThan(report.results.count, 0)
        return report
    }

    func testTinyFixturesEveryDialectAndLayout() throws {
        let manifest = Paths.fixture("tiny/manifest.json")
        var worst: Float = 0
        for topology in ["topology_keras22.json", "topology_tfkeras.json", "topology_keras3.json"] {
            for weights in ["model_full.h5", "weights_tfkeras.h5", "weights_keras22.h5", "weights_keras3.weights.h5"] {
                let report = try check(manifest: manifest, weights: Paths.fixture("tiny/" + weights),
                                       topology: Paths.fixture("tiny/" + topology))
                XCTAssertTrue(report.allWithinTolerance, report.summary)
                worst = max(worst, report.maxAbsError)
            }
        }
        // The full-model file alone: topology from its model_config attribute.
        let alone = try check(manifest: manifest, weights: Paths.fixture("tiny/model_full.h5"), topology: nil)
        XCTAssertTrue(alone.allWithinTolerance, alone.summary)
        print("tiny golden: max abs err \(worst)")
    }

    /// The golden check is tight enough to fail a 0.1% error in any one layer (its kernel
    /// scaled by 1.001: early, in a residual branch, in a reduction block, late, the
    /// bottleneck) and a single NaN weight, while the untouched weights pass, so each failure
    /// is the planted error's doing.
    func testGoldenCheckFailsOnATenthOfAPercentInOneLayer() throws {
        let topology = try KerasJSONReader.read(path: Paths.fixture("tiny/topology_tfkeras.json"))
        let weights = try KerasWeightsReader.load(path: Paths.fixture("tiny/weights_tfkeras.h5"), specs: try topology.weightSpecs())
        let manifest = try GoldenManifest(path: Paths.fixture("tiny/manifest.json"))
        let clean = try GoldenCheck.run(manifest: manifest, model: try Model(topology: topology, weights: weights))
        XCTAssertTrue(clean.allWithinTolerance, clean.summary)
        func withKernel(of layer: String, _ edit: (inout [Float]) -> Void) throws -> GoldenReport {
            var tensors = weights.tensors
            var kernel = try XCTUnwrap(tensors[layer]?["kernel"], "no kernel for \(layer)")
            edit(&kernel.scalars)
            tensors[layer]?["kernel"] = kernel
            let model = try Model(topology: topology, weights: LoadedWeights(path: weights.path, layout: weights.layout, tensors: tensors))
            return try GoldenCheck.run(manifest: manifest, model: model)
        }
        for layer in ["Conv2d_1a_3x3", "Block35_1_Branch_1_Conv2d_0b_3x3", "Mixed_6a_Branch_0_Conv2d_1a_3x3",
                      "Block17_2_Branch_1_Conv2d_0b_1x7", "Block8_6_Conv2d_1x1", "Bottleneck"] {
            let report = try withKernel(of: layer) { k in k = k.map { $0 * 1.001 } }
            XCTAssertFalse(report.allWithinTolerance, "\(layer) × 1.001 passed: \(report.summary)")
            print("golden with \(layer) × 1.001: \(report.summary)")
        }
        let nan = try withKernel(of: "Block17_2_Conv2d_1x1") { k in k[k.count / 2] = .nan }
        XCTAssertFalse(nan.allWithinTolerance, nan.summary)
        XCTAssertEqual(nan.maxAbsError, .infinity)
    }

    /// Any NaN or Inf difference fails a comparison, whichever side it is on; spread-relative
    /// limits are computed from the reference alone.
    func testGoldenCompareSeesNonFiniteValues() throws {
        let reference = try Tensor(shape: [4], scalars: [1, -1, 2, -2])
        for bad: Float in [.nan, .infinity, -.infinity] {
            for side in 0..<2 {
                var values: [Float] = [1, -1, 2, -2]
                values[side + 1] = bad
                let broken = try Tensor(shape: [4], scalars: values)
                let r = side == 0 ? GoldenCheck.compare(name: "x", actual: broken, reference: reference, l2Normalized: false,
                                                        tolerance: .init())
                                  : GoldenCheck.compare(name: "x", actual: reference, reference: broken, l2Normalized: false,
                                                        tolerance: .init())
                XCTAssertFalse(r.withinTolerance, "\(bad) on side \(side)")
            }
        }
        let exact = GoldenCheck.compare(name: "x", actual: reference, reference: reference, l2Normalized: false, tolerance: .init())
        XCTAssertTrue(exact.withinTolerance)
        XCTAssertEqual(exact.referenceSpread, Float(2.5).squareRoot(), accuracy: 1e-6)
    }

    /// The fast engine against the naive reference executor on the whole tiny model.
    func testTinyModelFastPathEqualsReferenceExecutor() throws {
        let topology = try KerasJSONReader.read(path: Paths.fixture("tiny/topology_keras22.json"))
        let weights = try KerasWeightsReader.load(path: Paths.fixture("tiny/weights_keras22.h5"), specs: try topology.weightSpecs())
        let model = try Model(topology: topology, weights: weights)
        let manifest = try GoldenManifest(path: Paths.fixture("tiny/manifest.json"))
        let x = try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape)
        let names = ["Mixed_6a", "Block8_6_Conv2d_1x1", topology.outputNames[0]]
        let fast = try model.predict(x, outputs: names)
        let reference = try ReferenceExecutor.run(topology: topology, weights: weights,
                                                  inputs: [topology.inputNames[0]: x], outputs: names)
        for name in names {
            let err = maxAbsDifference(try XCTUnwrap(fast[name]), try XCTUnwrap(reference[name]))
            XCTAssertLessThan(err, 1e-4, name)
        }
    }

    /// Any layer can be fetched by name; fetching every layer (which turns fusion off for
    /// all of them) changes the output only by float rounding.
    func testIntermediateLayersFetchableAndConsistent() throws {
        let model = try Model.load(weightsPath: Paths.fixture("tiny/model_full.h5"))
        let manifest = try GoldenManifest(path: Paths.fixture("tiny/manifest.json"))
        let x = try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape)
        let output = model.topology.outputNames[0]
        let alone = try XCTUnwrap(model.predict(x)[output])
        let all = try model.predict(x, outputs: model.topology.layers.map(\.name))
        XCTAssertEqual(all.count, model.topology.layers.count)
        XCTAssertLessThan(maxAbsDifference(try XCTUnwrap(all[output]), alone), 1e-5)
    }

    func testSyntheticFullSizeModelAlone() throws {
        let report = try check(manifest: try Paths.shared("models/synthetic128/manifest.json"),
                               weights: try Paths.shared("models/synthetic128/model.h5"), topology: nil)
        XCTAssertEqual(report.results.count, 10)
        print("synthetic128 (model.h5 alone): \(report.summary)")
    }

    func testSyntheticFullSizeWithKeras22JSON() throws {
        let report = try check(manifest: try Paths.shared("models/synthetic128/manifest.json"),
                               weights: try Paths.shared("models/synthetic128/model.h5"),
                               topology: try Paths.shared("models/facenet128.json"))
        XCTAssertEqual(report.results.count, 10)
        print("synthetic128 (facenet128.json + model.h5): \(report.summary)")
    }

    /// Real CASIA weights: every embedding within 1e-4 and every pair decision as Keras's.
    func testCasiaRealWeightsEmbeddingsAndPairDecisions() throws {
        let manifestPath = try Paths.shared("faces/facenet512_casia_manifest.json")
        let weights = try Paths.shared("models/facenet512_casia.h5")
        let pairsPath = try Paths.shared("faces/pairs.csv")
        let model = try Model.load(weightsPath: weights,
                                   topologyPath: Paths.packageRoot.appendingPathComponent("Weights/facenet512.json").path)
        let manifest = try GoldenManifest(path: manifestPath)
        let report = try GoldenCheck.run(manifest: manifest, model: model)
        XCTAssertTrue(report.allWithinTolerance, report.summary)
        print("facenet512_casia: \(report.summary)")

        // Pair decisions at l2 threshold 0.80, ours against Keras's.
        let x = try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape)
        let ours = l2Normalized(try XCTUnwrap(GoldenCheck.runBatched(model: model, input: x, outputs: ["Bottleneck_BatchNorm"],
                                                                     batchSize: 8)["Bottleneck_BatchNorm"]))
        let l2Entry = try XCTUnwrap(manifest.outputs.first { $0.layer.l2Normalized })
        let keras = try manifest.readTensor(l2Entry.file, shape: l2Entry.shape)
        let images = try manifestImages(manifestPath)
        let width = ours.shape[1]
        func distance(_ e: Tensor, _ i: Int, _ j: Int) -> Float {
            var s: Float = 0
            for k in 0..<width { let d = e.scalars[i * width + k] - e.scalars[j * width + k]; s += d * d }
            return s.squareRoot()
        }
        let csv = try String(contentsOfFile: pairsPath, encoding: .utf8)
        var pairs = 0, agree = 0
        for line in csv.split(whereSeparator: \.isNewline).dropFirst() {
            let cols = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cols.count >= 2 else { continue }
            let stem = { (s: String) in (s as NSString).deletingPathExtension }
            guard let i = images.firstIndex(where: { stem($0) == stem(cols[0]) }),
                  let j = images.firstIndex(where: { stem($0) == stem(cols[1]) }) else {
                return XCTFail("pair \(cols) names an image not in the manifest")
            }
            pairs += 1
            if (distance(ours, i, j) <= 0.80) == (distance(keras, i, j) <= 0.80) { agree += 1 }
        }
        XCTAssertEqual(pairs, 300)
        XCTAssertEqual(agree, pairs, "pair decisions that differ from Keras's at threshold 0.80")
    }

    private func manifestImages(_ path: String) throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let input = try XCTUnwrap(root["input"] as? [String: Any])
        return try XCTUnwrap(input["images"] as? [String])
    }
}
