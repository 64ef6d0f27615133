import Foundation
import XCTest
@testable import FaceNetKit

/// Deterministic pseudo-random numbers (SplitMix64), so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomTensor(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let count = shape.reduce(1, *)
    // swiftlint:disable:next force_try
    return try! Tensor(shape: shape, scalars: (0..<count).map { _ in Float.random(in: range, using: &g) })
}

func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Root of the package (for fixtures) and of the shared reference data beside it.
enum Paths {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = packageRoot.appendingPathComponent("Tests/FaceNetKitTests/Fixtures")
    static let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")

    static func fixture(_ relative: String) -> String { fixtures.appendingPathComponent(relative).path }

    /// A file from ../shared, or a skip with the reason when it is absent.
    static func shared(_ relative: String) throws -> String {
        let path = shared.appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("reference data \(relative) is absent (../shared not beside the package)")
        }
        return path
    }
}

extension XCTestCase {
    /// A new empty directory, removed when the test ends.
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(type(of: self))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}

/// A single-input model built in memory: `layers` after an input layer named "input".
func makeModel(inputShape: [Int?], layers: [LayerNode], weights: [String: [String: Tensor]]) throws
    -> (Model, ModelTopology, LoadedWeights) {
    let input = LayerNode(name: "input", className: "InputLayer", kind: .input(shape: inputShape), inputs: [])
    let topology = try ModelTopology(name: "test", dialect: .tfKeras, layers: [input] + layers,
                                     inputNames: ["input"], outputNames: [layers.last?.name ?? "input"], source: "test")
    let loaded = LoadedWeights(path: "memory", layout: .saveWeights, tensors: weights)
    return (try Model(topology: topology, weights: loaded), topology, loaded)
}

/// Runs the model with the fast engine and with the reference executor; returns the max
/// abs difference of every layer output (all fetched by name) and the largest reference magnitude.
func compareWithReference(inputShape: [Int], layers: [LayerNode], weights: [String: [String: Tensor]],
                          seed: UInt64 = 1) throws -> (maxError: Float, maxMagnitude: Float) {
    let (model, topology, loaded) = try makeModel(inputShape: inputShape.dropFirst().map { $0 }, layers: layers, weights: weights)
    let x = randomTensor(inputShape, seed: seed)
    let names = layers.map(\.name)
    let fast = try model.predict(x, outputs: names)
    let reference = try ReferenceExecutor.run(topology: topology, weights: loaded, inputs: ["input": x], outputs: names)
    var worst: Float = 0, magnitude: Float = 0
    for name in names {
        guard let f = fast[name], let r = reference[name] else {
            XCTFail("missing output \(name)")
            continue
        }
        XCTAssertEqual(f.shape, r.shape, "shape of \(name)")
        worst = max(worst, maxAbsDifference(f, r))
        magnitude = max(magnitude, r.scalars.map(abs).max() ?? 0)
    }
    return (worst, magnitude)
}

/// The topology at `path` with `edit` applied to the layer named `name`, parsed from memory
/// as "edited.json".
func parseEditedTopology(_ path: String, layer name: String, _ edit: (inout [String: Any]) -> Void) throws -> ModelTopology {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    var root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    var config = try XCTUnwrap(root["config"] as? [String: Any])
    var layers = try XCTUnwrap(config["layers"] as? [[String: Any]])
    let i = try XCTUnwrap(layers.firstIndex { $0["name"] as? String == name })
    edit(&layers[i])
    config["layers"] = layers
    root["config"] = config
    return try KerasJSONReader.parse(try JSONSerialization.data(withJSONObject: root), source: "edited.json")
}

/// An edit setting (or, with nil, removing) one field of a layer's `config`.
func setConfig(_ key: String, _ value: Any?) -> (inout [String: Any]) -> Void {
    { layer in
        var config = layer["config"] as? [String: Any] ?? [:]
        config[key] = value
        layer["config"] = config
    }
}

/// The expression throws an error whose message mentions `text`, the layer (quoted) and a file.
func assertTopologyError(_ expression: @autoclosure () throws -> some Any, layer: String?,
                         mentions text: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try expression(), file: file, line: line) { error in
        let message = String(describing: error)
        XCTAssertTrue(message.contains(text), "'\(message)' does not mention '\(text)'", file: file, line: line)
        if let layer { XCTAssertTrue(message.contains("'\(layer)'"), "'\(message)' does not name layer \(layer)", file: file, line: line) }
        XCTAssertTrue(message.contains("edited.json") || message.contains(".json") || message.contains(".h5"),
                      "'\(message)' does not name the file", file: file, line: line)
    }
}
