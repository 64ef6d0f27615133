import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// The real MTCNN P-, R- and O-Nets (`Weights/mtcnn`) and the synthetic model of
/// `Fixtures/mtcnn/synthetic` against tf_keras's outputs (`Scripts/make_mtcnn_fixtures.py`).
final class MTCNNNetsTests: XCTestCase {
    private static let weights = Paths.packageRoot.appendingPathComponent("Weights/mtcnn")

    private func net(_ name: String) throws -> Model {
        try Model.load(weightsPath: Self.weights.appendingPathComponent("\(name).h5").path,
                       topologyPath: Self.weights.appendingPathComponent("\(name).json").path)
    }

    /// Runs every output of a manifest through the engine (fused, unfused, 2 threads sharing
    /// every conv) and the naive reference executor (Double sums); returns per output the max
    /// abs error of the engine (worst of its three ways) and of the reference.
    private func compare(_ model: Model, manifest path: String, file: StaticString = #filePath,
                         line: UInt = #line) throws -> [(name: String, error: Float, referenceError: Float)] {
        let manifest = try GoldenManifest(path: path)
        let x = try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape)
        let input = model.topology.inputNames[0]
        let names = manifest.outputs.map(\.name)
        var runs: [[String: Tensor]] = []
        for (fusion, threads) in [(true, 1), (false, 1), (true, 2)] {
            let session = try InferenceSession(model: model, inputShapes: [input: x.shape], outputs: names, fusion: fusion,
                                               threads: threads, minimumParallelFlops: 0)
            runs.append(try session.run([input: x]))
        }
        let loaded = try KerasWeightsReader.load(path: model.weightsSource, specs: try model.topology.weightSpecs())
        runs.append(try ReferenceExecutor.run(topology: model.topology, weights: loaded, inputs: [input: x], outputs: names))
        return try manifest.outputs.map { entry in
            let keras = try manifest.readTensor(entry.file, shape: entry.shape)
            let errors = try runs.map { run in maxAbsDifference(try XCTUnwrap(run[entry.name], entry.name), keras) }
            XCTAssertLessThanOrEqual(errors.max() ?? .infinity, 1e-5, "\(path): \(entry.name) (fused, unfused, threaded, reference)",
                                     file: file, line: line)
            return (entry.name, errors.dropLast().max() ?? .infinity, errors.last ?? .infinity)
        }
    }

    func testNetsMatchKeras() throws {
        let cases = ["pnet_11x11": "pnet", "pnet_12x12": "pnet", "pnet_31x47": "pnet", "pnet_64x50": "pnet", "rnet_24x24": "rnet", "onet_48x48": "onet"]
        var models: [String: Model] = [:]
        for (folder, name) in cases.sorted(by: { $0.key < $1.key }) {
            let model = try models[name] ?? net(name)
            models[name] = model
            let errors = try compare(model, manifest: Paths.fixture("mtcnn/\(folder)/manifest.json"))
            print("MTCNN \(folder) vs Keras, max abs error engine (naive reference): " + errors.map {
                "\($0.name) \(formatScientific($0.error)) (\(formatScientific($0.referenceError)))"
            }.joined(separator: ", "))
            // Every model output is among the compared ones.
            XCTAssertTrue(Set(model.topology.outputNames).isSubset(of: errors.map(\.name)), folder)
        }
    }

    func testNetShapes() throws {
        let pnet = try net("pnet")
        XCTAssertEqual(try pnet.outputShape(of: "input"), [nil, nil, 3])
        XCTAssertEqual(try pnet.outputShape(of: "conv4-1"), [nil, nil, 4])
        XCTAssertEqual(try pnet.outputShape(of: "conv4-2"), [nil, nil, 2])
        let rnet = try net("rnet")
        XCTAssertEqual(try rnet.outputShape(of: "permute"), [3, 3, 64])
        XCTAssertEqual(try rnet.outputShape(of: "flatten3"), [576])
        XCTAssertEqual(rnet.topology.outputNames, ["fc5-1", "fc5-2"])
        let onet = try net("onet")
        XCTAssertEqual(onet.topology.outputNames, ["fc6-1", "fc6-2", "fc6-3"])
        XCTAssertEqual(try onet.outputShape(of: "fc6-2"), [10])
    }

    /// The synthetic model in all three dialects and weight layouts gives Keras's numbers.
    func testSyntheticModelInEveryDialect() throws {
        let pairs: [(String, String, KerasDialect)] = [
            ("topology_tfkeras.json", "weights_tfkeras.h5", .tfKeras),
            ("topology_keras22.json", "weights_keras22.h5", .keras2),
            ("topology_keras3.json", "weights_keras3.weights.h5", .keras3),
        ]
        var graphs: [[LayerNode]] = []
        for (topology, weights, dialect) in pairs {
            let model = try Model.load(weightsPath: Paths.fixture("mtcnn/synthetic/\(weights)"),
                                       topologyPath: Paths.fixture("mtcnn/synthetic/\(topology)"))
            XCTAssertEqual(model.topology.dialect, dialect, topology)
            graphs.append(model.topology.layers)
            let errors = try compare(model, manifest: Paths.fixture("mtcnn/synthetic/manifest.json"))
            XCTAssertEqual(errors.count, model.topology.layers.count - 1, "every layer but the input is compared")
            print("synthetic \(dialect.rawValue) vs Keras, worst max abs error \(formatScientific(errors.map(\.error).max() ?? 0))")
        }
        XCTAssertEqual(graphs[0], graphs[1])
        XCTAssertEqual(graphs[0], graphs[2])
        guard case .prelu(let rows)? = graphs[0].first(where: { $0.name == "prelu_rows" })?.kind,
              case .permute(let dims)? = graphs[0].first(where: { $0.name == "permute_cwh" })?.kind,
              case .reshape(let target)? = graphs[0].first(where: { $0.name == "reshape" })?.kind else {
            return XCTFail("synthetic layers not parsed as expected")
        }
        XCTAssertEqual(rows.sharedAxes, [1])
        XCTAssertEqual(dims, [3, 1, 2])
        XCTAssertEqual(target, [-1, 14])
    }

    /// P-Net plans for any H×W from 11×11 up (11 → 9 → pool 5 → 3 → 1, as in Keras; MTCNN's
    /// 12-pixel cell is the detector's choice), with TF's output sizes; smaller inputs give a
    /// typed error with the smallest size it takes (Keras returns an empty output there).
    func testPNetTakesAnySizeFromEleven() throws {
        let pnet = try net("pnet")
        for (h, w) in [(11, 11), (12, 12), (11, 40), (13, 17), (40, 21), (100, 61)] {
            let session = try InferenceSession(model: pnet, inputShapes: ["input": [2, h, w, 3]], outputs: ["conv4-1", "conv4-2"])
            // conv 3×3 valid, pool 2×2/2 same (ceil), two more 3×3 valid convs.
            let out = { (n: Int) in (n - 2 + 1) / 2 - 4 }
            XCTAssertEqual(session.outputShapes["conv4-2"], [2, out(h), out(w), 2], "\(h)×\(w)")
            let y = try session.run(["input": randomTensor([2, h, w, 3], seed: UInt64(h * w))])
            let probabilities = try XCTUnwrap(y["conv4-2"])
            for pixel in 0..<(probabilities.count / 2) {
                XCTAssertEqual(probabilities.scalars[2 * pixel] + probabilities.scalars[2 * pixel + 1], 1, accuracy: 1e-6)
            }
        }
        for (h, w) in [(10, 10), (10, 30), (30, 10), (1, 1)] {
            XCTAssertThrowsError(try InferenceSession(model: pnet, inputShapes: ["input": [1, h, w, 3]], outputs: ["conv4-2"])) { error in
                guard case FaceNetError.inputTooSmall("input", [1, h, w, 3], [11, 11], let reason) = error else {
                    return XCTFail("\(h)×\(w): \(error)")
                }
                XCTAssertTrue(reason.contains("layer 'conv"), reason)
                XCTAssertTrue(String(describing: error).contains("the smallest input it takes is 11×11"), "\(error)")
            }
        }
        // Fixed-size nets keep refusing other sizes as a shape mismatch.
        XCTAssertThrowsError(try InferenceSession(model: try net("rnet"), inputShapes: ["input": [1, 23, 23, 3]], outputs: ["fc5-2"])) {
            guard case FaceNetError.inputShapeMismatch("input", _, [1, 23, 23, 3]) = $0 else { return XCTFail("\($0)") }
        }
    }

    /// Planning is done once per pyramid scale, so it must be cheap: time it for a 500×375
    /// photo and for its whole pyramid (scale factor 0.709 from 12/20, down to 12 pixels).
    func testSessionPlanningIsCheap() throws {
        let pnet = try net("pnet")
        func plan(_ h: Int, _ w: Int) throws -> InferenceSession {
            try InferenceSession(model: pnet, inputShapes: ["input": [1, h, w, 3]], outputs: ["conv4-1", "conv4-2"])
        }
        _ = try plan(375, 500)
        let repeats = 20
        var start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<repeats { _ = try plan(375, 500) }
        let single = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(repeats)

        var scales: [(Int, Int)] = []
        var scale = 12.0 / 20.0
        while Double(min(375, 500)) * scale >= 12 {
            scales.append((Int((375 * scale).rounded(.up)), Int((500 * scale).rounded(.up))))
            scale *= 0.709
        }
        start = DispatchTime.now().uptimeNanoseconds
        let sessions = try scales.map { try plan($0.0, $0.1) }
        let pyramid = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        XCTAssertEqual(sessions.count, scales.count)
        print(String(format: "P-Net session planning: %.3f ms for 500×375 (mean of %d); %.3f ms for all %d pyramid scales %@",
                     single, repeats, pyramid, scales.count, scales.map { "\($0.1)×\($0.0)" }.joined(separator: " ")))
        // Generous bound (the machine is shared): planning must stay far below a forward pass.
        XCTAssertLessThan(single, 25, "planning a 500×375 P-Net session took \(single) ms")
    }
}
