import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// The three JSON dialects, from the project's fixtures and from the shared real files.
final class TopologyTests: XCTestCase {
    /// Names of layers that differ between two graphs. Dialects spell BatchNormalization's
    /// axis differently (3, [3], -1, [1]) for the same last axis, so that is not compared.
    private func differingLayers(_ a: [LayerNode], _ b: [LayerNode]) -> [String] {
        func canonical(_ layer: LayerNode) -> LayerNode {
            var l = layer
            if case .batchNormalization(var bn) = l.kind {
                bn.axis = -1
                l.kind = .batchNormalization(bn)
            }
            return l
        }
        guard a.count == b.count else { return ["count \(a.count) vs \(b.count)"] }
        return zip(a, b).filter { canonical($0) != canonical($1) }.map { "\($0.name)/\($1.name)" }
    }

    private func read(_ relative: String) throws -> ModelTopology {
        try KerasJSONReader.read(path: Paths.fixture(relative))
    }

    func testThreeDialectsGiveTheSameGraph() throws {
        let keras22 = try read("tiny/topology_keras22.json")
        let tfKeras = try read("tiny/topology_tfkeras.json")
        let keras3 = try read("tiny/topology_keras3.json")
        XCTAssertEqual(keras22.dialect, .keras2)
        XCTAssertEqual(tfKeras.dialect, .tfKeras)
        XCTAssertEqual(keras3.dialect, .keras3)
        XCTAssertEqual(differingLayers(keras22.layers, tfKeras.layers), [])
        XCTAssertEqual(differingLayers(keras3.layers, keras22.layers), [])
        XCTAssertEqual(keras3.outputNames, keras22.outputNames)
        XCTAssertEqual(try keras3.symbolicShapes()[keras3.outputNames[0]], try keras22.symbolicShapes()[keras22.outputNames[0]])
    }

    func testFaceNetLayersParsedAsExpected() throws {
        let t = try read("tiny/topology_keras22.json")
        guard case .conv2D(let stem)? = t.layer(named: "Conv2d_1a_3x3")?.kind else {
            return XCTFail("Conv2d_1a_3x3 is not a Conv2D")
        }
        XCTAssertEqual(stem.kernel.height, 3)
        XCTAssertEqual(stem.strides.height, 2)
        XCTAssertEqual(stem.padding, .valid)
        XCTAssertFalse(stem.useBias)
        guard case .conv2D(let oneBySeven)? = t.layer(named: "Block17_1_Branch_1_Conv2d_0b_1x7")?.kind else {
            return XCTFail("Block17 1x7 conv missing")
        }
        XCTAssertEqual(oneBySeven.kernel.height, 1)
        XCTAssertEqual(oneBySeven.kernel.width, 7)
        XCTAssertEqual(oneBySeven.padding, .same)
        let scales = t.layers.compactMap { layer -> Float? in
            if case .scale(let s) = layer.kind { return s }
            return nil
        }
        XCTAssertEqual(Set(scales), [0.17, 0.1, 0.2, 1.0])
        guard case .batchNormalization(let bn)? = t.layer(named: "Bottleneck_BatchNorm")?.kind else {
            return XCTFail("Bottleneck_BatchNorm missing")
        }
        XCTAssertFalse(bn.scale)
        XCTAssertEqual(bn.epsilon, 0.001)
    }

    /// Inputs always come before the layers that read them.
    /// Shape arithmetic on sizes near Int.max: `same`'s ⌈size / stride⌉ is exact, and a count
    /// or concatenated size past Int.max is refused (it wrapped around in -Ounchecked builds).
    func testShapeArithmeticDoesNotOverflow() throws {
        let huge = 9_223_372_036_854_774_784
        XCTAssertEqual(convolvedSize(huge, kernel: 1, stride: 65536, padding: .same), huge / 65536 + 1)  // 2^63 − 1024 is not a multiple
        XCTAssertEqual(convolvedSize(Int.max, kernel: 1, stride: 2, padding: .same), Int.max / 2 + 1)
        for (input, stride) in [(7, 2), (8, 2), (1, 3), (160, 2), (17, 1)] {
            XCTAssertEqual(convolvedSize(input, kernel: 3, stride: stride, padding: .same), (input + stride - 1) / stride)
        }
        if case .success = knownCount([1 << 40, 1 << 30]) { XCTFail("2^70 elements counted") }
        guard case .success(let n) = knownCount([3, 5, nil]), n == nil else { return XCTFail("an open size is not nil") }
        let flatten = LayerNode(name: "flat", className: "Flatten", kind: .flatten, inputs: ["x"])
        XCTAssertThrowsError(try flatten.outputShape(for: [[1 << 40, 1 << 30, 1]]))
        let concat = LayerNode(name: "cat", className: "Concatenate", kind: .concatenate(axis: -1), inputs: ["x", "x"])
        XCTAssertThrowsError(try concat.outputShape(for: [[1, 1, Int.max / 2 + 1], [1, 1, Int.max / 2 + 1]]))
        XCTAssertEqual(try concat.outputShape(for: [[1, 1, 3], [1, 1, 4]]), [1, 1, 7])
        XCTAssertNil(ReshapeRule.outputShape(target: [1 << 40, 1 << 30, -1], inputCount: 12))
    }

    func testLayersAreTopologicallyOrdered() throws {
        let t = try read("tiny/topology_keras3.json")
        var seen = Set<String>()
        for layer in t.layers {
            for input in layer.inputs { XCTAssertTrue(seen.contains(input), "\(layer.name) before its input \(input)") }
            seen.insert(layer.name)
        }
    }

    func testRealFaceNetJSONFromShared() throws {
        let keras22 = try KerasJSONReader.read(path: Paths.shared("models/facenet128.json"))
        let tfKeras = try KerasJSONReader.read(path: Paths.shared("models/synthetic128/topology_tfkeras.json"))
        XCTAssertEqual(keras22.layers.count, 447)
        XCTAssertEqual(differingLayers(keras22.layers, tfKeras.layers), [])
        let summary = try ModelSummary(topology: keras22)
        // The reference's own figures for FaceNet-128.
        XCTAssertEqual(summary.parameters, 22_808_144)
        XCTAssertEqual(summary.flops, 2_833_948_352)
        XCTAssertEqual(try keras22.symbolicShapes()["Mixed_7a"], [3, 3, 1792])
    }

    func testShippedTopologiesDifferOnlyInEmbeddingSize() throws {
        let t128 = try KerasJSONReader.read(path: Paths.packageRoot.appendingPathComponent("Weights/facenet128.json").path)
        let t512 = try KerasJSONReader.read(path: Paths.packageRoot.appendingPathComponent("Weights/facenet512.json").path)
        XCTAssertEqual(try t128.symbolicShapes()["Bottleneck_BatchNorm"], [128])
        XCTAssertEqual(try t512.symbolicShapes()["Bottleneck_BatchNorm"], [512])
        let differing = zip(t128.layers, t512.layers).filter { $0 != $1 }.map(\.0.name)
        XCTAssertEqual(differing, ["Bottleneck"])
        XCTAssertEqual(try ModelSummary(topology: t512).parameters, 23_497_424)
    }
}
