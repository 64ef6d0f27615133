import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// The committed regression corpus of every fuzz target (`Fuzz/`, Docs/reliability.md):
/// `Fixtures/fuzz/<target>/`, each input fed to the same entry points as its fuzz target
/// (`Fuzz/Sources/<target>/main.swift`). A folder that is missing or empty fails.
///
/// The file name says what the input must do (`Scripts/make_fuzz_regression_inputs.py`
/// writes most of them; fuzzer finds are renamed to the same forms when added):
///   `ok-…`          every entry point succeeds (FuzzGraphDef: the GraphDef and its float
///                   constants parse; the FaceNet import may still end in a typed error)
///   `err-<Case>-…`  the target's entry point throws `FaceNetError.<Case>`, whose message
///                   names the input; every other entry point ends in success or a typed error
///   `libhdf5-…`     (FuzzHDF5Weights) crashes, exhausts memory or hangs inside libhdf5 itself
///                   (found by the fuzzer under ASan; Docs/reliability.md): not fixable here,
///                   so only ever read through the child-process loader (`WeightsIsolation`),
///                   which must turn it into `invalidWeights`
/// Anything else (an error that is not a `FaceNetError`, a crash, another outcome) fails.
final class FuzzRegressionTests: XCTestCase {
    static let fuzzFixtures = Paths.fixtures.appendingPathComponent("fuzz")

    /// What an input must do, from its file name.
    enum Expectation: Equatable, CustomStringConvertible {
        case success
        case error(String)
        case libhdf5Crash

        init?(fileName name: String) {
            if name.hasPrefix("ok-") {
                self = .success
            } else if name.hasPrefix("libhdf5-") {
                self = .libhdf5Crash
            } else if name.hasPrefix("err-") {
                let parts = name.split(separator: "-", maxSplits: 2)
                guard parts.count == 3, !parts[1].isEmpty else { return nil }
                self = .error(String(parts[1]))
            } else {
                return nil
            }
        }

        var description: String {
            switch self {
            case .success: return "success"
            case .error(let name): return "FaceNetError.\(name)"
            case .libhdf5Crash: return "a libhdf5 crash, contained by the helper"
            }
        }
    }

    struct Input {
        let url: URL
        let expected: Expectation
        var name: String { url.lastPathComponent }
    }

    /// The inputs saved for one target, each with its expectation. Fails the test when the
    /// folder is missing or empty, or a name states no expectation.
    func inputs(_ target: String, file: StaticString = #filePath, line: UInt = #line) -> [Input] {
        let directory = Self.fuzzFixtures.appendingPathComponent(target)
        let urls = ((try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? [])
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        guard !urls.isEmpty else {
            XCTFail("no regression inputs for \(target): \(directory.path) is missing or empty", file: file, line: line)
            return []
        }
        var result: [Input] = []
        for url in urls {
            guard let expected = Expectation(fileName: url.lastPathComponent) else {
                XCTFail("\(target)/\(url.lastPathComponent): name it ok-…, err-<FaceNetError case>-… or libhdf5-…",
                        file: file, line: line)
                continue
            }
            result.append(Input(url: url, expected: expected))
        }
        // A corpus of only failures (or only successes) has lost its seeds (or its regressions).
        XCTAssertTrue(result.contains { $0.expected == .success }, "\(target): no ok-… input", file: file, line: line)
        XCTAssertTrue(result.contains { if case .error = $0.expected { return true }; return false },
                      "\(target): no err-… input", file: file, line: line)
        return result
    }

    /// The name of a `FaceNetError` case (`invalidImage`, …).
    static func caseName(_ error: FaceNetError) -> String {
        Mirror(reflecting: error).children.first?.label ?? String(describing: error)
    }

    /// Runs an entry point: success or a `FaceNetError` passes, anything else fails. Returns
    /// the error (nil on success) for the caller to compare with the expectation.
    @discardableResult
    func typedOutcome(_ input: Input, _ step: String, file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Void) -> FaceNetError? {
        do {
            try body()
            return nil
        } catch let error as FaceNetError {
            return error
        } catch {
            XCTFail("\(input.name) (\(step)): untyped error \(type(of: error)): \(error)", file: file, line: line)
            return nil
        }
    }

    /// The target's main entry point, held to the input's expectation. `names`: text every
    /// error message must contain (the source name the entry point was given).
    func expectOutcome(_ input: Input, _ step: String, names: String, file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> Void) {
        let error: FaceNetError?
        do {
            try body()
            error = nil
        } catch let typed as FaceNetError {
            error = typed
        } catch {
            return XCTFail("\(input.name) (\(step)): untyped error \(type(of: error)): \(error)", file: file, line: line)
        }
        let expectedCase: String?
        switch input.expected {
        case .success:
            if let error { XCTFail("\(input.name) (\(step)): expected success, got \(error)", file: file, line: line) }
            return
        case .error(let name): expectedCase = name
        // The helper turns a libhdf5 crash into invalidWeights; whether libhdf5 crashes at all
        // can depend on its allocator and limits (the OOM input reads fine on some machines,
        // and then fails the topology check), so any typed error naming the file is right.
        case .libhdf5Crash: expectedCase = nil
        }
        guard let error else {
            return XCTFail("\(input.name) (\(step)): succeeded, expected \(input.expected)", file: file, line: line)
        }
        if let expectedCase {
            XCTAssertEqual(Self.caseName(error), expectedCase, "\(input.name) (\(step)): \(error)", file: file, line: line)
        }
        XCTAssertTrue(error.description.contains(names),
                      "\(input.name) (\(step)): the error does not name '\(names)': \(error)", file: file, line: line)
    }

    // MARK: - The targets

    /// FuzzKerasJSON: parse, then symbolic shapes and weight specs.
    func testKerasJSONInputs() throws {
        let all = inputs("FuzzKerasJSON")
        for input in all {
            expectOutcome(input, "parse, shapes, specs", names: input.name) {
                let topology = try KerasJSONReader.parse(Data(contentsOf: input.url), source: input.name)
                _ = try topology.symbolicShapes()
                _ = try topology.weightSpecs()
            }
        }
        print("fuzz regression FuzzKerasJSON: \(all.count) inputs")
    }

    /// FuzzGraphDef: the GraphDef decoder and every float constant (held to the name), then
    /// the FaceNet importer against the tiny topology (typed outcome).
    func testGraphDefInputs() throws {
        let topology = try KerasJSONReader.read(path: Paths.fixture("tiny/topology_keras22.json"))
        let all = inputs("FuzzGraphDef")
        for input in all {
            var graph: TFGraphDef?
            expectOutcome(input, "GraphDef, float constants", names: input.name) {
                let parsed = try TFGraphDef(bytes: [UInt8](Data(contentsOf: input.url)), source: input.name)
                for constant in try parsed.floatConstants() { _ = constant }
                graph = parsed
            }
            if let graph {
                typedOutcome(input, "import") { _ = try FaceNetGraphImporter.importGraph(graph, topology: topology) }
            }
        }
        print("fuzz regression FuzzGraphDef: \(all.count) inputs")
    }

    /// FuzzJPEG and FuzzPNG: the decoder with the fuzz targets' limits (`Fuzz.imageLimits`).
    static let fuzzImageLimits = ImageLimits(maxWidth: 4096, maxHeight: 4096, maxPixels: 1 << 20, maxFileBytes: 1 << 20)

    func checkImages(_ target: String) throws {
        let all = inputs(target)
        for input in all {
            expectOutcome(input, "decode", names: input.name) {
                let image = try ImageDecoder.decode(data: Data(contentsOf: input.url), name: input.name,
                                                    limits: Self.fuzzImageLimits)
                XCTAssertEqual(image.pixels.count, image.width * image.height * 3, input.name)
            }
        }
        print("fuzz regression \(target): \(all.count) inputs")
    }

    func testJPEGInputs() throws { try checkImages("FuzzJPEG") }

    func testPNGInputs() throws { try checkImages("FuzzPNG") }

    /// The `facenet` tool built beside the test bundle: the helper of the child-process loader.
    /// Missing, it fails under CI (Scripts/test.sh builds it) and skips elsewhere.
    static func helper() throws -> WeightsHelper { try WeightsHelperLocator.helper() }

    /// FuzzHDF5Weights: layer names, model config and a full load against two models (the
    /// `Fixtures/h5` model the names refer to, and MTCNN's P-Net) — in-process for every
    /// input but the `libhdf5-*` ones, then through the helper for all.
    func testHDF5Inputs() throws {
        let all = inputs("FuzzHDF5Weights")
        let specs = H5FixtureModel.specs
        let pnetSpecs = try KerasJSONReader.read(path: Paths.packageRoot.appendingPathComponent("Weights/mtcnn/pnet.json").path)
            .weightSpecs()
        for input in all where input.expected != .libhdf5Crash {
            let path = input.url.path
            typedOutcome(input, "layer names") { _ = try KerasWeightsReader.layerNames(path: path) }
            typedOutcome(input, "model config") { _ = try KerasWeightsReader.modelConfigJSON(path: path) }
            expectOutcome(input, "load", names: path) { _ = try KerasWeightsReader.load(path: path, specs: specs) }
            typedOutcome(input, "load as P-Net") { _ = try KerasWeightsReader.load(path: path, specs: pnetSpecs) }
        }
        let helper = try Self.helper()
        for input in all {
            let path = input.url.path
            expectOutcome(input, "load through the helper", names: path) {
                _ = try KerasWeightsReader.load(path: path, specs: specs, isolation: .childProcess(helper))
            }
            typedOutcome(input, "model config through the helper") {
                _ = try KerasWeightsReader.modelConfigJSON(path: path, isolation: .childProcess(helper))
            }
        }
        print("fuzz regression FuzzHDF5Weights: \(all.count) inputs")
    }

    /// The checks themselves: names map to expectations, and a wrong outcome is caught.
    func testExpectationsFromNames() {
        XCTAssertEqual(Expectation(fileName: "ok-x.json"), .success)
        XCTAssertEqual(Expectation(fileName: "err-invalidImage-truncated-at-3.jpg"), .error("invalidImage"))
        XCTAssertEqual(Expectation(fileName: "libhdf5-vlen-heap-segv.h5"), .libhdf5Crash)
        for bad in ["crash-da39a3ee", "err-.json", "err-x", "oom-1", "timeout-2"] {
            XCTAssertNil(Expectation(fileName: bad), bad)
        }
        XCTAssertEqual(Self.caseName(.invalidImage(path: "p", reason: "r")), "invalidImage")
        XCTAssertEqual(Self.caseName(.invalidArgument("x")), "invalidArgument")
    }
}
