import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// Bad input of every kind gives a typed error that names the file and layer; nothing traps.
final class BadInputTests: XCTestCase {
    private let topologyPath = Paths.fixture("tiny/topology_keras22.json")
    private let weightsPath = Paths.fixture("tiny/weights_tfkeras.h5")

    /// Applies `edit` to the layer named `name` of the tiny topology and parses the result.
    private func parseEdited(layer name: String, _ edit: (inout [String: Any]) -> Void) throws -> ModelTopology {
        try parseEditedTopology(topologyPath, layer: name, edit)
    }

    func testMissingFieldNamesLayerAndField() {
        assertTopologyError(try parseEdited(layer: "Conv2d_2a_3x3") { layer in
            var config = layer["config"] as? [String: Any] ?? [:]
            config["kernel_size"] = nil
            layer["config"] = config
        }, layer: "Conv2d_2a_3x3", mentions: "kernel_size")
    }

    func testUnknownLayerClassIsRefused() {
        assertTopologyError(try parseEdited(layer: "Conv2d_2a_3x3") { $0["class_name"] = "DepthwiseConv2D" },
                            layer: "Conv2d_2a_3x3", mentions: "DepthwiseConv2D")
    }

    func testLambdaOtherThanScaleIsRefused() {
        assertTopologyError(try parseEdited(layer: "lambda_1") { layer in
            var config = layer["config"] as? [String: Any] ?? [:]
            config["arguments"] = ["offset": 1.0]
            layer["config"] = config
        }, layer: "lambda_1", mentions: "Lambda")
    }

    func testDanglingInputIsRefused() {
        assertTopologyError(try parseEdited(layer: "Conv2d_2a_3x3") { $0["inbound_nodes"] = [[["no_such_layer", 0, 0, [:]]]] },
                            layer: "Conv2d_2a_3x3", mentions: "no_such_layer")
    }

    func testWrongTypeAndBadValuesAreRefused() {
        assertTopologyError(try parseEdited(layer: "Conv2d_2a_3x3") { layer in
            var config = layer["config"] as? [String: Any] ?? [:]
            config["filters"] = "many"
            layer["config"] = config
        }, layer: "Conv2d_2a_3x3", mentions: "filters")
        assertTopologyError(try parseEdited(layer: "Conv2d_2a_3x3") { layer in
            var config = layer["config"] as? [String: Any] ?? [:]
            config["padding"] = "reflect"
            layer["config"] = config
        }, layer: "Conv2d_2a_3x3", mentions: "reflect")
    }

    func testMalformedJSONIsAnError() {
        XCTAssertThrowsError(try KerasJSONReader.parse(Data("{\"class_name\": \"Functional\", \"config\": {".utf8), source: "broken.json")) {
            XCTAssertTrue(String(describing: $0).contains("broken.json"))
        }
        XCTAssertThrowsError(try KerasJSONReader.parse(Data("[1, 2]".utf8), source: "list.json"))
        XCTAssertThrowsError(try KerasJSONReader.parse(Data("{\"class_name\": \"Sequential\", \"config\": {}}".utf8), source: "seq.json")) {
            XCTAssertTrue(String(describing: $0).contains("Sequential"))
        }
        XCTAssertThrowsError(try KerasJSONReader.read(path: "/no/such/topology.json")) {
            guard case FaceNetError.unreadableFile = $0 else { return XCTFail("\($0)") }
        }
    }

    func testWeightsThatDoNotFitTheTopology() throws {
        // A topology with a wider stem than the weights file holds.
        let topology = try parseEdited(layer: "Conv2d_1a_3x3") { layer in
            var config = layer["config"] as? [String: Any] ?? [:]
            config["filters"] = 5
            layer["config"] = config
        }
        XCTAssertThrowsError(try KerasWeightsReader.load(path: weightsPath, specs: try topology.weightSpecs())) { error in
            guard case FaceNetError.weightShapeMismatch(let path, let layer, let weight, let expected, _) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(path, self.weightsPath)
            XCTAssertEqual(layer, "Conv2d_1a_3x3")
            XCTAssertEqual(weight, "kernel")
            XCTAssertEqual(expected.last, 5)
        }
        // A conv that gains a bias the file does not have.
        let withBias = try parseEdited(layer: "Conv2d_1a_3x3") { layer in
            var config = layer["config"] as? [String: Any] ?? [:]
            config["use_bias"] = true
            layer["config"] = config
        }
        XCTAssertThrowsError(try KerasWeightsReader.load(path: weightsPath, specs: try withBias.weightSpecs())) { error in
            guard case FaceNetError.missingWeight(_, "Conv2d_1a_3x3", "bias", _) = error else {
                return XCTFail("unexpected error \(error)")
            }
        }
    }

    func testNonHDF5AndTruncatedWeights() throws {
        let topology = try KerasJSONReader.read(path: topologyPath)
        for bad in [topologyPath, Paths.fixture("h5/not_hdf5.h5"), Paths.fixture("h5/truncated.h5"), "/no/such/file.h5"] {
            XCTAssertThrowsError(try KerasWeightsReader.load(path: bad, specs: try topology.weightSpecs()), bad) { error in
                XCTAssertTrue(String(describing: error).contains(bad), "\(error) does not name \(bad)")
            }
        }
        // A truncated copy of a real weights file.
        let data = try Data(contentsOf: URL(fileURLWithPath: weightsPath))
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("truncated-\(UUID().uuidString).h5")
        try data.prefix(data.count / 2).write(to: cut)
        defer { try? FileManager.default.removeItem(at: cut) }
        XCTAssertThrowsError(try Model.load(weightsPath: cut.path, topologyPath: topologyPath))
    }

    func testInputOfWrongShape() throws {
        let model = try Model.load(weightsPath: weightsPath, topologyPath: topologyPath)
        let declared = try model.outputShape(of: model.topology.inputNames[0])
        let wrongSize = Tensor(zeros: [1, 10, 10, 3])
        XCTAssertThrowsError(try model.predict(wrongSize)) { error in
            guard case FaceNetError.inputShapeMismatch(let layer, _, let found) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(layer, model.topology.inputNames[0])
            XCTAssertEqual(found, [1, 10, 10, 3])
        }
        let wrongRank = Tensor(zeros: declared.map { $0 ?? 1 })
        XCTAssertThrowsError(try model.predict(wrongRank))
        XCTAssertThrowsError(try model.predict(Tensor(zeros: [1] + declared.map { $0 ?? 1 }), outputs: ["no_such_layer"])) {
            XCTAssertEqual($0 as? FaceNetError, .unknownLayer(name: "no_such_layer"))
        }
        XCTAssertThrowsError(try Tensor(shape: [2, 3], scalars: [1, 2, 3]))
    }

    func testWeightsOnlyFileWithoutTopologyIsAClearError() {
        XCTAssertThrowsError(try Model.load(weightsPath: weightsPath)) { error in
            XCTAssertTrue(String(describing: error).contains("topology"), "\(error)")
        }
    }

    func testBadManifests() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("manifest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.json").path
        try Data("{\"input\": {\"file\": \"x.f32\", \"shape\": [1, 2]}}".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try GoldenManifest(path: path)) { XCTAssertTrue(String(describing: $0).contains("outputs")) }
        try Data("{\"input\": {\"file\": \"x.f32\", \"shape\": [1, 2]}, \"outputs\": [{\"layer\": \"a\", \"file\": \"a.f32\", \"shape\": [1, 2]}]}".utf8)
            .write(to: URL(fileURLWithPath: path))
        let manifest = try GoldenManifest(path: path)
        try Data(count: 7).write(to: dir.appendingPathComponent("x.f32"))
        XCTAssertThrowsError(try manifest.readTensor("x.f32", shape: [1, 2])) {
            XCTAssertTrue(String(describing: $0).contains("7 bytes"))
        }
    }

    func testTopologyJSONOverTheSizeLimitIsRefusedBeforeParsing() throws {
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: topologyPath)[.size] as? NSNumber).intValue
        XCTAssertThrowsError(try KerasJSONReader.read(path: topologyPath, maxFileBytes: size - 1)) { error in
            XCTAssertEqual(error as? FaceNetError, .invalidTopology(
                path: topologyPath, layer: nil,
                reason: "the file is \(size) bytes, over the limit of \(size - 1) bytes for a topology JSON (maxFileBytes)"))
        }
        XCTAssertEqual(try KerasJSONReader.read(path: topologyPath, maxFileBytes: size).layers.count,
                       try KerasJSONReader.read(path: topologyPath).layers.count)
        XCTAssertEqual(KerasJSONReader.defaultMaxFileBytes, 64 << 20)
        // A device that reports size 0 and never ends: read only to one byte past the limit.
        XCTAssertThrowsError(try KerasJSONReader.read(path: "/dev/zero", maxFileBytes: 1000)) { error in
            XCTAssertEqual(error as? FaceNetError, .invalidTopology(
                path: "/dev/zero", layer: nil,
                reason: "the file has more than 1000 bytes, over the limit of 1000 bytes for a topology JSON (maxFileBytes)"))
        }
        XCTAssertThrowsError(try KerasJSONReader.read(path: Paths.fixtures.path)) { error in
            guard case .unreadableFile(Paths.fixtures.path, _)? = error as? FaceNetError else { return XCTFail("\(error)") }
        }
    }
}
