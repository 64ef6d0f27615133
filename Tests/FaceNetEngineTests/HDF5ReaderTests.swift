import Foundation
import Synchronization
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// Tests of `HDF5File` and `KerasWeightsReader` on the fixtures of
/// `Scripts/make_h5_reader_fixtures.py` (all layouts, both string encodings, broken
/// files) and, when present, the real files in `../shared/models`.
final class HDF5ReaderTests: XCTestCase {

    // MARK: - Fixture model (mirrors MODEL in Scripts/make_h5_reader_fixtures.py)

    static let packageRoot = Paths.packageRoot
    static let sharedModels = H5FixtureModel.sharedModels
    static let specs = H5FixtureModel.specs
    static func fixture(_ name: String) -> String { H5FixtureModel.fixture(name) }
    static func spec(_ layer: String, _ className: String, _ weights: [(String, [Int])] = []) -> LayerWeightSpec {
        H5FixtureModel.spec(layer, className, weights)
    }

    static func replacing(_ layer: String, with replacement: LayerWeightSpec?) -> [LayerWeightSpec] {
        specs.compactMap { $0.layerName == layer ? replacement : $0 }
    }

    /// Checks every weight holds j + k/1024 (j: weight index in model order, k: element).
    func assertFixtureValues(_ loaded: LoadedWeights, tolerance: [String: Float] = [:],
                             file: StaticString = #filePath, line: UInt = #line) {
        var j = 0
        let weighted = Self.specs.filter { !$0.weights.isEmpty }
        XCTAssertEqual(Set(loaded.tensors.keys), Set(weighted.map(\.layerName)), file: file, line: line)
        for spec in Self.specs {
            for weight in spec.weights {
                defer { j += 1 }
                guard let tensor = loaded.tensors[spec.layerName]?[weight.name] else {
                    XCTFail("\(spec.layerName)/\(weight.name) not loaded", file: file, line: line)
                    continue
                }
                XCTAssertEqual(tensor.shape, weight.shape, file: file, line: line)
                let allowed = tolerance["\(spec.layerName)/\(weight.name)"] ?? 0
                for (k, value) in tensor.scalars.enumerated() where abs(value - (Float(j) + Float(k) / 1024)) > allowed {
                    XCTFail("\(spec.layerName)/\(weight.name)[\(k)] = \(value), expected \(Float(j) + Float(k) / 1024)",
                            file: file, line: line)
                    break
                }
            }
        }
    }

    func assertThrows(_ expected: FaceNetError, file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? FaceNetError, expected, file: file, line: line)
        }
    }

    /// Runs `body` expecting a FaceNetError and returns it for finer checks.
    func thrownError(file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) -> FaceNetError? {
        do {
            try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let error as FaceNetError {
            return error
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: - Naming rules

    func testSnakeCaseMatchesKeras3ToSnakeCase() {
        // Expected values printed by keras/src/utils/naming.py to_snake_case (Keras 3.15).
        let table = [
            "Conv2D": "conv2d", "BatchNormalization": "batch_normalization", "PReLU": "p_re_lu",
            "Dense": "dense", "InputLayer": "input_layer", "Activation": "activation", "Add": "add",
            "GlobalAveragePooling2D": "global_average_pooling2d", "MaxPooling2D": "max_pooling2d",
            "Conv2DTranspose": "conv2d_transpose", "DepthwiseConv2D": "depthwise_conv2d", "ReLU": "re_lu",
            "LSTM": "lstm", "LeakyReLU": "leaky_re_lu", "UpSampling2D": "up_sampling2d",
            "HTTPServer2D": "http_server2d", "ABCDef": "abc_def", "A": "a", "aB": "a_b", "Xy-z": "xyz",
        ]
        for (className, snake) in table {
            XCTAssertEqual(KerasWeightsReader.snakeCase(className), snake, className)
        }
    }

    func testKeras3GroupNamesCountEveryLayerOfAClass() {
        XCTAssertEqual(KerasWeightsReader.keras3GroupNames(Self.specs), [
            "input_layer", "conv2d", "batch_normalization", "activation", "conv2d_1", "batch_normalization_1",
            "activation_1", "p_re_lu", "global_average_pooling2d", "dense", "batch_normalization_2",
        ])
    }

    func testShortWeightName() {
        XCTAssertEqual(KerasWeightsReader.shortWeightName("Conv2d_1a_3x3/kernel:0"), "kernel")
        XCTAssertEqual(KerasWeightsReader.shortWeightName("model_1/bn/moving_mean:12"), "moving_mean")
        XCTAssertEqual(KerasWeightsReader.shortWeightName("d1/bias"), "bias")  // Keras 3 legacy h5
        XCTAssertEqual(KerasWeightsReader.shortWeightName("alpha"), "alpha")
    }

    // MARK: - The three layouts

    func testKeras22FixedLengthNamesAndSplitLayerNames() throws {
        let path = Self.fixture("keras22_fixed.h5")
        XCTAssertEqual(try KerasWeightsReader.detectLayout(path: path), .saveWeights)
        XCTAssertEqual(try KerasWeightsReader.layerNames(path: path), Self.specs.map(\.layerName))
        XCTAssertNil(try KerasWeightsReader.modelConfigJSON(path: path))
        let loaded = try KerasWeightsReader.load(path: path, specs: Self.specs)
        XCTAssertEqual(loaded.layout, .saveWeights)
        assertFixtureValues(loaded)  // Conv2d_2a/bias is float64 on disk
    }

    func testTfKerasVariableLengthNamesWithEmptyTopLevelGroup() throws {
        let path = Self.fixture("tfkeras_vlen.h5")
        XCTAssertEqual(try KerasWeightsReader.layerNames(path: path), Self.specs.map(\.layerName))
        let loaded = try KerasWeightsReader.load(path: path, specs: Self.specs)
        // Bottleneck_BatchNorm/moving_variance is float16 on disk: 14 + 1/1024 rounds to 14.
        assertFixtureValues(loaded, tolerance: ["Bottleneck_BatchNorm/moving_variance": 1.0 / 64])
    }

    func testFullModelFile() throws {
        let path = Self.fixture("full_model.h5")
        XCTAssertEqual(try KerasWeightsReader.detectLayout(path: path), .fullModel)
        let json = try XCTUnwrap(KerasWeightsReader.modelConfigJSON(path: path))
        XCTAssertTrue(json.hasPrefix(#"{"class_name": "Functional""#), json)
        let loaded = try KerasWeightsReader.load(path: path, specs: Self.specs)
        XCTAssertEqual(loaded.layout, .fullModel)
        assertFixtureValues(loaded)
    }

    func testKeras3LayoutWithLayerNames() throws {
        let path = Self.fixture("keras3.h5")
        XCTAssertEqual(try KerasWeightsReader.detectLayout(path: path), .keras3)
        XCTAssertNil(try KerasWeightsReader.layerNames(path: path))
        assertFixtureValues(try KerasWeightsReader.load(path: path, specs: Self.specs))
        // The recorded names win over order: a topology listing layers in another order still maps right.
        var reordered = Self.specs
        reordered.swapAt(1, 4)
        reordered.swapAt(2, 5)
        let loaded = try KerasWeightsReader.load(path: path, specs: reordered)
        XCTAssertEqual(loaded.tensors["Conv2d_1a"]?["kernel"]?.shape, [3, 3, 3, 4])
        XCTAssertEqual(loaded.tensors["Conv2d_2a_BatchNorm"]?["gamma"]?.scalars.first, 6)
    }

    func testKeras3LayoutWithoutNamesMapsByClassAndOrder() throws {
        let path = Self.fixture("keras3_noname.h5")
        assertFixtureValues(try KerasWeightsReader.load(path: path, specs: Self.specs))
        // Without names only the order tells the two Conv2D apart: swapped specs must not load.
        var reordered = Self.specs
        reordered.swapAt(1, 4)
        assertThrows(.weightShapeMismatch(path: path, layer: "Conv2d_2a", weight: "kernel",
                                          expected: [1, 1, 4, 4], found: [3, 3, 3, 4])) {
            _ = try KerasWeightsReader.load(path: path, specs: reordered)
        }
    }

    func testKeras3NamedGroupOfAnotherClassIsRefused() {
        let path = Self.fixture("keras3.h5")
        let specs = Self.replacing("prelu", with: Self.spec("prelu", "Dense", [("alpha", [1, 1, 4])]))
        guard case .invalidWeights(_, let layer, let reason)? = thrownError({
            _ = try KerasWeightsReader.load(path: path, specs: specs)
        }) else { return XCTFail("expected invalidWeights") }
        XCTAssertEqual(layer, "prelu")
        XCTAssertTrue(reason.contains("p_re_lu"), reason)
    }

    func testKeras3UnclaimedLayerIsUnexpected() {
        for name in ["keras3.h5", "keras3_noname.h5"] {
            let path = Self.fixture(name)
            let expected = name == "keras3.h5" ? "prelu" : "layers/p_re_lu"
            assertThrows(.unexpectedWeights(path: path, layers: [expected])) {
                _ = try KerasWeightsReader.load(path: path, specs: Self.replacing("prelu", with: nil))
            }
        }
    }

    // MARK: - Strict checking

    func testMissingWeight() {
        let path = Self.fixture("tfkeras_vlen.h5")
        let withGamma = Self.replacing("Conv2d_1a_BatchNorm", with: Self.spec(
            "Conv2d_1a_BatchNorm", "BatchNormalization",
            [("gamma", [4]), ("beta", [4]), ("moving_mean", [4]), ("moving_variance", [4])]))
        assertThrows(.missingWeight(path: path, layer: "Conv2d_1a_BatchNorm", weight: "gamma", expectedShape: [4])) {
            _ = try KerasWeightsReader.load(path: path, specs: withGamma)
        }
        let extraLayer = Self.specs + [Self.spec("Logits", "Dense", [("kernel", [2, 10])])]
        assertThrows(.missingWeight(path: path, layer: "Logits", weight: "kernel", expectedShape: [2, 10])) {
            _ = try KerasWeightsReader.load(path: path, specs: extraLayer)
        }
        let keras3 = Self.fixture("keras3.h5")
        assertThrows(.missingWeight(path: keras3, layer: "Logits", weight: "kernel", expectedShape: [2, 10])) {
            _ = try KerasWeightsReader.load(path: keras3, specs: extraLayer)
        }
    }

    func testUnexpectedWeights() {
        let path = Self.fixture("keras22_fixed.h5")
        assertThrows(.unexpectedWeights(path: path, layers: ["prelu"])) {
            _ = try KerasWeightsReader.load(path: path, specs: Self.replacing("prelu", with: nil))
        }
        assertThrows(.unexpectedWeights(path: path, layers: ["prelu"])) {
            _ = try KerasWeightsReader.load(path: path, specs: Self.replacing("prelu", with: Self.spec("prelu", "PReLU")))
        }
        let noBias = Self.replacing("Conv2d_2a", with: Self.spec("Conv2d_2a", "Conv2D", [("kernel", [1, 1, 4, 4])]))
        assertThrows(.unexpectedWeights(path: path, layers: ["Conv2d_2a"])) {
            _ = try KerasWeightsReader.load(path: path, specs: noBias)
        }
        let extra = Self.fixture("extra_top_level.h5")
        assertThrows(.unexpectedWeights(path: extra, layers: ["top_level_model_weights"])) {
            _ = try KerasWeightsReader.load(path: extra, specs: Self.specs)
        }
    }

    func testWrongShape() {
        let path = Self.fixture("wrong_shape.h5")
        assertThrows(.weightShapeMismatch(path: path, layer: "Conv2d_2a", weight: "kernel",
                                          expected: [1, 1, 4, 4], found: [1, 1, 4, 5])) {
            _ = try KerasWeightsReader.load(path: path, specs: Self.specs)
        }
    }

    func testNaNIsRefused() {
        let path = Self.fixture("nan.h5")
        guard case .invalidWeights(let errorPath, let layer, let reason)? = thrownError({
            _ = try KerasWeightsReader.load(path: path, specs: Self.specs)
        }) else { return XCTFail("expected invalidWeights") }
        XCTAssertEqual(errorPath, path)
        XCTAssertEqual(layer, "Conv2d_1a")
        XCTAssertTrue(reason.contains("kernel") && reason.contains("nan"), reason)
    }

    func testIntegerDatasetIsRefused() {
        let path = Self.fixture("int_weights.h5")
        guard case .invalidWeights(_, let layer, let reason)? = thrownError({
            _ = try KerasWeightsReader.load(path: path, specs: Self.specs)
        }) else { return XCTFail("expected invalidWeights") }
        XCTAssertEqual(layer, "Bottleneck")
        XCTAssertTrue(reason.contains("integer values, not floating point"), reason)
    }

    func testDuplicateSpecsAreAnArgumentError() {
        let path = Self.fixture("tfkeras_vlen.h5")
        guard case .invalidArgument? = thrownError({
            _ = try KerasWeightsReader.load(path: path, specs: Self.specs + [Self.spec("prelu", "PReLU")])
        }) else { return XCTFail("expected invalidArgument") }
    }

    // MARK: - Broken files

    func testUnreadableFiles() throws {
        let cases: [(String, String)] = [
            (Self.fixture("truncated.h5"), "truncated"),
            (Self.fixture("not_hdf5.h5"), "not an HDF5 file"),
            (Self.fixture("no_such_file.h5"), "no such file"),
            (Paths.fixture("h5"), "directory"),
        ]
        for (path, fragment) in cases {
            let calls: [() throws -> Void] = [
                { _ = try KerasWeightsReader.load(path: path, specs: Self.specs) },
                { _ = try KerasWeightsReader.modelConfigJSON(path: path) },
            ]
            for call in calls {
                guard case .unreadableFile(let errorPath, let reason)? = thrownError(call) else {
                    XCTFail("expected unreadableFile for \(path)")
                    continue
                }
                XCTAssertEqual(errorPath, path)
                XCTAssertTrue(reason.contains(fragment), "\(path): \(reason)")
            }
        }
    }

    func testOversizedDatasetIsRefusedBeforeAllocation() throws {
        let file = try HDF5File(path: Self.fixture("oversized.h5"))
        XCTAssertEqual(try file.datasetShape("/huge"), [1 << 20, 1 << 10])
        guard case .invalidWeights(_, _, let reason)? = thrownError({ _ = try file.readFloatDataset("/huge") }) else {
            return XCTFail("expected invalidWeights")
        }
        XCTAssertTrue(reason.contains("more than the file"), reason)
        guard case .invalidWeights(_, _, let vast)? = thrownError({ _ = try file.datasetShape("/vast") }) else {
            return XCTFail("expected invalidWeights")
        }
        XCTAssertTrue(vast.contains("more than the 2147483648 accepted"), vast)
    }

    // MARK: - HDF5File

    func testHDF5FileStructureAndAttributes() throws {
        let file = try HDF5File(path: Self.fixture("keras22_fixed.h5"))
        let root = try file.members(ofGroup: "/")
        XCTAssertEqual(root.count, 11)
        XCTAssertTrue(root.allSatisfy { $0.kind == .group })
        XCTAssertEqual(try file.members(ofGroup: "/Conv2d_2a/Conv2d_2a").map(\.name), ["bias:0", "kernel:0"])
        XCTAssertEqual(try file.kind(of: "/Conv2d_2a/Conv2d_2a/kernel:0"), .dataset)
        XCTAssertNil(try file.kind(of: "/Conv2d_2a/nothing/kernel:0"))
        XCTAssertEqual(try file.stringAttribute("backend", on: "/"), ["tensorflow"])  // fixed-length scalar
        XCTAssertEqual(try file.stringAttribute("weight_names", on: "/AvgPool"), [])  // empty float64 array
        XCTAssertEqual(try file.stringAttribute("weight_names", on: "/Conv2d_2a"),
                       ["Conv2d_2a/kernel:0", "Conv2d_2a/bias:0"])
        XCTAssertFalse(try file.hasAttribute("layer_names", on: "/"))
        XCTAssertTrue(try file.containsDataset("/Bottleneck"))
        XCTAssertFalse(try file.containsDataset("/AvgPool"))

        let keras3 = try HDF5File(path: Self.fixture("keras3.h5"))
        XCTAssertEqual(try keras3.stringAttribute("name", on: "/layers/p_re_lu/vars"), ["prelu"])  // UTF-8 vlen scalar
        let scalar = try keras3.readFloatDataset("/optimizer/vars/0")
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.scalars, [3])
    }

    func testConcurrentLoadsAreSerialisedSafely() {
        let paths = ["keras22_fixed.h5", "tfkeras_vlen.h5", "full_model.h5", "keras3.h5", "keras3_noname.h5"]
            .map(Self.fixture)
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 40) { index in
            let loaded = try? KerasWeightsReader.load(path: paths[index % paths.count], specs: Self.specs)
            if loaded?.tensors.count != 7 { failures.withLock { $0 += 1 } }
        }
        XCTAssertEqual(failures.withLock { $0 }, 0)
    }

    // MARK: - Real files in ../shared (skipped when absent)

    func sharedFile(_ relative: String) throws -> String {
        let path = Self.sharedModels.appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("\(relative) is not in ../shared/models (only the project's own fixtures ran)")
        }
        return path
    }

    /// Specs for every layer of a Keras 2 file, read from the file itself.
    func specsFromFile(_ path: String, root: String) throws -> [LayerWeightSpec] {
        let file = try HDF5File(path: path)
        let layers = try XCTUnwrap(KerasWeightsReader.splitStringAttribute(file, "layer_names", on: root))
        return try layers.map { layer in
            let group = HDF5File.join(root, layer)
            let names = try file.stringAttribute("weight_names", on: group)
            let weights = try names.map {
                WeightSpec(name: KerasWeightsReader.shortWeightName($0),
                           shape: try file.datasetShape(HDF5File.join(group, $0)))
            }
            return LayerWeightSpec(layerName: layer, className: "Unknown", weights: weights)
        }
    }

    func testRealFaceNet512CasiaSaveWeights() throws {
        let path = try sharedFile("facenet512_casia.h5")
        XCTAssertEqual(try KerasWeightsReader.detectLayout(path: path), .saveWeights)
        let names = try XCTUnwrap(KerasWeightsReader.layerNames(path: path))
        XCTAssertEqual(names.count, 447)
        XCTAssertEqual(names.first, "input_1")
        XCTAssertTrue(names.contains("Bottleneck_BatchNorm"))

        let specs = try specsFromFile(path, root: "/")
        let loaded = try KerasWeightsReader.load(path: path, specs: specs)
        XCTAssertEqual(loaded.tensors["Conv2d_1a_3x3"]?["kernel"]?.shape, [3, 3, 3, 32])
        XCTAssertEqual(loaded.tensors["Bottleneck"]?["kernel"]?.shape, [1792, 512])
        XCTAssertEqual(loaded.tensors["Bottleneck_BatchNorm"].map { Set($0.keys) },
                       ["beta", "moving_mean", "moving_variance"])
        // The 128-unit topology against these 512-unit weights fails on the Bottleneck.
        let narrow = specs.map { spec in
            spec.layerName == "Bottleneck"
                ? LayerWeightSpec(layerName: "Bottleneck", className: "Dense", weights: [WeightSpec(name: "kernel", shape: [1792, 128])])
                : spec
        }
        assertThrows(.weightShapeMismatch(path: path, layer: "Bottleneck", weight: "kernel",
                                          expected: [1792, 128], found: [1792, 512])) {
            _ = try KerasWeightsReader.load(path: path, specs: narrow)
        }
    }

    func testRealSynthetic128FullModel() throws {
        let path = try sharedFile("synthetic128/model.h5")
        XCTAssertEqual(try KerasWeightsReader.detectLayout(path: path), .fullModel)
        let json = try XCTUnwrap(KerasWeightsReader.modelConfigJSON(path: path))
        XCTAssertTrue(json.contains("\"class_name\""))
        XCTAssertEqual(try KerasWeightsReader.layerNames(path: path)?.count, 447)
        let loaded = try KerasWeightsReader.load(path: path, specs: specsFromFile(path, root: "/model_weights"))
        XCTAssertEqual(loaded.tensors["Bottleneck"]?["kernel"]?.shape, [1792, 128])
    }

    func testRealMTCNNSaveWeights() throws {
        let path = try sharedFile("mtcnn/pnet.h5")
        let loaded = try KerasWeightsReader.load(path: path, specs: specsFromFile(path, root: "/"))
        XCTAssertEqual(loaded.tensors["conv1"]?["kernel"]?.shape, [3, 3, 3, 10])
        XCTAssertEqual(loaded.tensors["conv1"]?["bias"]?.shape, [10])
    }
}
