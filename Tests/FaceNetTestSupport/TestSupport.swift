import Foundation
import XCTest
import FaceNetKernels
import FaceNetEngine
import FaceNetVision
import FaceNetKit
import FaceNetTools

/// Deterministic pseudo-random numbers (SplitMix64), so failures reproduce.
package struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

package func randomTensor(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let count = shape.reduce(1, *)
    // swiftlint:disable:next force_try
    return try! Tensor(shape: shape, scalars: (0..<count).map { _ in Float.random(in: range, using: &g) })
}

/// The largest |a[i] − b[i]|, or `.infinity` when any difference is not finite (a NaN or an
/// infinity on either side) or the counts differ. Swift's `max(x, .nan)` and `[…].max()` skip
/// NaN, so a plain fold would pass an output that a kernel never wrote (tests pre-fill
/// outputs with NaN to catch exactly that).
package func maxAbsDifference<A: Collection, B: Collection>(_ a: A, _ b: B) -> Float
    where A.Element: BinaryFloatingPoint, B.Element: BinaryFloatingPoint {
    guard a.count == b.count else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a, b) {
        let difference = abs(Double(x) - Double(y))
        guard difference.isFinite else { return .infinity }
        worst = max(worst, difference)
    }
    return Float(worst)
}

/// `maxAbsDifference` of two tensors of the same shape (`.infinity` when the shapes differ).
package func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    return maxAbsDifference(a.scalars, b.scalars)
}

/// The largest |x|, or NaN when any value is not finite, so a tolerance scaled by it fails
/// every comparison instead of growing without bound.
package func maxMagnitude<C: Collection>(_ values: C) -> Float where C.Element: BinaryFloatingPoint {
    var largest = 0.0
    for x in values {
        guard x.isFinite else { return .nan }
        largest = max(largest, abs(Double(x)))
    }
    return Float(largest)
}

/// Root of the package (for fixtures) and of the shared reference data beside it.
package enum Paths {
    package static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    package static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")
    package static let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")

    package static func fixture(_ relative: String) -> String { fixtures.appendingPathComponent(relative).path }

    /// Points `$FACENET_WEIGHTS_DIR` at the clone's `Weights/` unless it is set (as the
    /// scripts do): presets search only the user's directories, never the build tree.
    package static func useCloneWeightsDirectoryUnlessSet() {
        setenv("FACENET_WEIGHTS_DIR", packageRoot.appendingPathComponent("Weights").path, 0)
    }

    /// A file from ../shared, or a skip with the reason when it is absent.
    package static func shared(_ relative: String) throws -> String {
        let path = shared.appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("reference data \(relative) is absent (../shared not beside the package)")
        }
        return path
    }
}

extension XCTestCase {
    /// A new empty directory, removed when the test ends.
    package func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(type(of: self))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}

/// A single-input model built in memory: `layers` after an input layer named "input".
package func makeModel(inputShape: [Int?], layers: [LayerNode], weights: [String: [String: Tensor]]) throws
    -> (Model, ModelTopology, LoadedWeights) {
    let input = LayerNode(name: "input", className: "InputLayer", kind: .input(shape: inputShape), inputs: [])
    let topology = try ModelTopology(name: "test", dialect: .tfKeras, layers: [input] + layers,
                                     inputNames: ["input"], outputNames: [layers.last?.name ?? "input"], source: "test")
    let loaded = LoadedWeights(path: "memory", layout: .saveWeights, tensors: weights)
    return (try Model(topology: topology, weights: loaded), topology, loaded)
}

/// Runs the model with the fast engine and with the reference executor; returns the max
/// abs difference and the largest reference magnitude over two kinds of run:
/// - every layer fetched by name (a requested layer is never fused: each layer's own path);
/// - only the leaves (layers nothing reads) fetched, so every chain that can fuse does, on
///   1 and 2 threads. `expectedFusedSteps`, when given, is the step count the fused plan must
///   have, so a test names the fusion it means to exercise.
package func compareWithReference(inputShape: [Int], layers: [LayerNode], weights: [String: [String: Tensor]],
                          seed: UInt64 = 1, expectedFusedSteps: Int? = nil,
                          file: StaticString = #filePath, line: UInt = #line) throws -> (maxError: Float, maxMagnitude: Float) {
    let (model, topology, loaded) = try makeModel(inputShape: inputShape.dropFirst().map { $0 }, layers: layers, weights: weights)
    let x = randomTensor(inputShape, seed: seed)
    let names = layers.map(\.name)
    let read = Set(layers.flatMap(\.inputs))
    let leaves = names.filter { !read.contains($0) }
    let reference = try ReferenceExecutor.run(topology: topology, weights: loaded, inputs: ["input": x], outputs: names)
    var runs = [(label: "every layer requested", outputs: try model.predict(x, outputs: names))]
    for threads in [1, 2] {
        let session = try InferenceSession(model: model, inputShapes: ["input": x.shape], outputs: leaves, fusion: true,
                                           threads: threads, minimumParallelFlops: 0)
        if let expectedFusedSteps {
            XCTAssertEqual(session.stepNames.count, expectedFusedSteps, "fused steps: \(session.stepKinds)", file: file, line: line)
        }
        runs.append(("leaves only, fused, \(threads) threads", try session.run(["input": x])))
    }
    var worst: Float = 0, magnitude: Float = 0
    for (label, outputs) in runs {
        for (name, fast) in outputs {
            guard let r = reference[name] else {
                XCTFail("\(label): no reference for \(name)", file: file, line: line)
                continue
            }
            XCTAssertEqual(fast.shape, r.shape, "\(label): shape of \(name)", file: file, line: line)
            worst = max(worst, maxAbsDifference(fast, r))
            let m = maxMagnitude(r.scalars)
            magnitude = m.isNaN ? .nan : max(magnitude, m)
        }
        XCTAssertEqual(Set(outputs.keys), Set(label.hasPrefix("every") ? names : leaves), label, file: file, line: line)
    }
    return (worst, magnitude)
}

/// The topology at `path` with `edit` applied to the layer named `name`, parsed from memory
/// as "edited.json".
package func parseEditedTopology(_ path: String, layer name: String, _ edit: (inout [String: Any]) -> Void) throws -> ModelTopology {
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
package func setConfig(_ key: String, _ value: Any?) -> (inout [String: Any]) -> Void {
    { layer in
        var config = layer["config"] as? [String: Any] ?? [:]
        config[key] = value
        layer["config"] = config
    }
}

/// The expression throws an error whose message mentions `text`, the layer (quoted) and a file.
package func assertTopologyError(_ expression: @autoclosure () throws -> some Any, layer: String?,
                         mentions text: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try expression(), file: file, line: line) { error in
        let message = String(describing: error)
        XCTAssertTrue(message.contains(text), "'\(message)' does not mention '\(text)'", file: file, line: line)
        if let layer { XCTAssertTrue(message.contains("'\(layer)'"), "'\(message)' does not name layer \(layer)", file: file, line: line) }
        XCTAssertTrue(message.contains("edited.json") || message.contains(".json") || message.contains(".h5"),
                      "'\(message)' does not name the file", file: file, line: line)
    }
}
