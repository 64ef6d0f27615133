import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// Keras as the outside oracle for single layer types, in every JSON dialect the reader
/// takes. The fixtures are small models written by `Scripts/make_layer_fixtures.py` into
/// `Fixtures/layers/<case>/`: the same model as tf_keras, Keras 2.2 and Keras 3 topologies,
/// each with its weights file, an input and tf_keras's outputs.
///
/// Each case is loaded through the normal API (`Model.load(weightsPath:topologyPath:)`) for
/// every topology × weights file and run with `predict`; the tf_keras pair also through
/// sessions of 1 and 2 threads, each run twice (the second run's buffers hold the first
/// run's values, so an element a kernel forgets to write shows). The layers under test must
/// run as the steps the case names. See Docs/adding-a-layer.md.
final class LayerOracleTests: XCTestCase {
    func testZeroPadding2D() throws {
        // Unfused steps, one per pad: on the model input (symmetric int, asymmetric) and on
        // a conv's output (a symmetric pair), before valid convs and poolings.
        try check("zero_padding", steps: ["pad_int", "pad_asymmetric", "pad_pair"])
    }

    /// Every fixture folder is checked by a test above, and every case named there exists.
    func testEveryFixtureHasATest() throws {
        let found = Set(try FileManager.default.contentsOfDirectory(atPath: Paths.fixture("layers"))
            .filter { FileManager.default.fileExists(atPath: Paths.fixture("layers/\($0)/manifest.json")) })
        XCTAssertEqual(found, Self.cases, "fixture folders vs cases the tests check")
    }

    private static let cases: Set<String> = ["zero_padding"]

    // MARK: - The check

    /// Loads case `name` in every dialect and weights layout, runs it and compares every
    /// output with Keras's; `steps`: layers that must be steps of their own in the plan.
    private func check(_ name: String, steps: Set<String>) throws {
        XCTAssertTrue(Self.cases.contains(name), "\(name) is missing from LayerOracleTests.cases")
        let folder = "layers/\(name)/"
        let manifestPath = Paths.fixture(folder + "manifest.json")
        let manifest = try GoldenManifest(path: manifestPath)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifestPath)))
            as? [String: Any])
        let dialects = try XCTUnwrap(root["dialects"] as? [[String: String]], "\(name): manifest has no dialects")
        XCTAssertEqual(Set(dialects.compactMap { $0["dialect"] }), ["keras-2", "tf_keras-2", "keras-3"], name)
        let input = try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape)
        let references = try manifest.outputs.map { ($0.name, try manifest.readTensor($0.file, shape: $0.shape)) }
        let outputNames = references.map(\.0)

        var worst: Float = 0
        func compare(_ outputs: [String: Tensor], _ label: String) {
            for (output, reference) in references {
                guard let y = outputs[output] else { return XCTFail("\(label): no output \(output)") }
                XCTAssertEqual(y.shape, reference.shape, "\(label) \(output)")
                let magnitude = maxMagnitude(reference.scalars)
                XCTAssertGreaterThan(magnitude, 0.1, "\(label) \(output): degenerate reference")
                // Float32 reordering only: 1e-5 of the largest output, as KerasOracleTests.
                let error = maxAbsDifference(y, reference)
                XCTAssertLessThanOrEqual(error, 1e-5 * max(1, magnitude), "\(label) \(output): max abs error vs Keras")
                worst = max(worst, error)
            }
        }
        for topology in dialects {
            let topologyFile = try XCTUnwrap(topology["topology"]), dialect = try XCTUnwrap(topology["dialect"])
            for weights in dialects {
                let weightsFile = try XCTUnwrap(weights["weights"])
                let label = "\(name) [\(topologyFile) + \(weightsFile)]"
                let model = try Model.load(weightsPath: Paths.fixture(folder + weightsFile),
                                           topologyPath: Paths.fixture(folder + topologyFile))
                XCTAssertEqual(model.topology.dialect.rawValue, dialect, label)
                compare(try model.predict(input, outputs: outputNames), label)
                guard topology["dialect"] == "tf_keras-2", weights["dialect"] == "tf_keras-2" else { continue }
                for threads in [1, 2] {
                    let session = try InferenceSession(model: model, inputShapes: [model.topology.inputNames[0]: input.shape],
                                                       outputs: outputNames, fusion: true, threads: threads,
                                                       minimumParallelFlops: 0)
                    XCTAssertTrue(steps.isSubset(of: Set(session.stepNames)),
                                  "\(label): \(steps.subtracting(session.stepNames)) not steps of their own: \(session.stepNames)")
                    for run in 1...2 {
                        compare(try session.run([model.topology.inputNames[0]: input]), "\(label) \(threads) threads, run \(run)")
                    }
                }
            }
        }
        print("Keras layer oracle \(name): max abs error \(worst) over \(dialects.count) topologies × \(dialects.count) weights files")
    }
}
