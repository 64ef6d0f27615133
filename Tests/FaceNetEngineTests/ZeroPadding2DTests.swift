import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// ZeroPadding2D: its config in every form and dialect, its refusals, and its forward
/// against the naive reference (Keras's numbers: `LayerOracleTests`).
final class ZeroPadding2DTests: XCTestCase {
    private let topologies = ["topology_keras22.json", "topology_tfkeras.json", "topology_keras3.json"]

    private func fixture(_ file: String) -> String { Paths.fixture("layers/zero_padding/" + file) }

    private func padding(_ t: ModelTopology, _ layer: String) throws -> ZeroPadding2DConfig {
        guard case .zeroPadding2D(let config)? = t.layer(named: layer)?.kind else {
            throw XCTSkip("\(layer) is not a ZeroPadding2D")
        }
        return config
    }

    func testThreeDialectsGiveTheSameGraph() throws {
        let graphs = try topologies.map { try KerasJSONReader.read(path: fixture($0)) }
        XCTAssertEqual(graphs.map(\.dialect), [.keras2, .tfKeras, .keras3])
        for g in graphs.dropFirst() {
            XCTAssertEqual(g.layers, graphs[0].layers)
            XCTAssertEqual(try g.symbolicShapes(), try graphs[0].symbolicShapes())
        }
        let t = graphs[0]
        XCTAssertEqual(try padding(t, "pad_int"), ZeroPadding2DConfig(top: 2, bottom: 2, left: 2, right: 2))
        XCTAssertEqual(try padding(t, "pad_asymmetric"), ZeroPadding2DConfig(top: 1, bottom: 2, left: 0, right: 3))
        XCTAssertEqual(try padding(t, "pad_pair"), ZeroPadding2DConfig(top: 1, bottom: 1, left: 2, right: 2))
        let shapes = try t.symbolicShapes()
        XCTAssertEqual(shapes["pad_int"], [11, 10, 3])
        XCTAssertEqual(shapes["pad_asymmetric"], [10, 9, 3])
        XCTAssertEqual(try t.weightSpecs().first { $0.layerName == "pad_int" }?.weights, [])
    }

    /// Keras takes an int, (int, int) for height and width, or ((top, bottom), (left, right)),
    /// each entry an int or a pair; Keras writes the last form, hand-written files any.
    func testEveryPaddingFormInEveryDialect() throws {
        let forms: [(Any?, ZeroPadding2DConfig)] = [
            (3, ZeroPadding2DConfig(top: 3, bottom: 3, left: 3, right: 3)),
            ([1, 2], ZeroPadding2DConfig(top: 1, bottom: 1, left: 2, right: 2)),
            ([[1, 2], [0, 3]], ZeroPadding2DConfig(top: 1, bottom: 2, left: 0, right: 3)),
            ([1, [0, 3]], ZeroPadding2DConfig(top: 1, bottom: 1, left: 0, right: 3)),
            ([[0, 0], 0], ZeroPadding2DConfig(top: 0, bottom: 0, left: 0, right: 0)),
            (nil, ZeroPadding2DConfig(top: 1, bottom: 1, left: 1, right: 1)),  // absent: Keras's default
        ]
        for file in topologies {
            for (raw, expected) in forms {
                let t = try parseEditedTopology(fixture(file), layer: "pad_asymmetric", setConfig("padding", raw))
                XCTAssertEqual(try padding(t, "pad_asymmetric"), expected, "\(file) padding \(raw ?? "absent")")
                XCTAssertEqual(try t.symbolicShapes()["pad_asymmetric"],
                               [7 + expected.top + expected.bottom, 6 + expected.left + expected.right, 3], file)
            }
        }
    }

    func testChannelsFirstAndMalformedPaddingAreRefusedNamingTheLayer() throws {
        for file in topologies {
            assertTopologyError(try parseEditedTopology(fixture(file), layer: "pad_int", setConfig("data_format", "channels_first")),
                                layer: "pad_int", mentions: "channels_first")
            for bad: Any in [[1, 2, 3], [[1, 2, 3], [0, 1]], [1], -1, 1 << 20, 1.5, true, "same", [[1, -2], [0, 0]]] {
                assertTopologyError(try parseEditedTopology(fixture(file), layer: "pad_int", setConfig("padding", bad)),
                                    layer: "pad_int", mentions: "padding")
            }
        }
        // An image input is needed; a graph built in code gets the same check.
        let flat = LayerNode(name: "pad_flat", className: "ZeroPadding2D",
                             kind: .zeroPadding2D(ZeroPadding2DConfig(top: 1, bottom: 1, left: 1, right: 1)), inputs: ["input"])
        XCTAssertThrowsError(try makeModel(inputShape: [12], layers: [flat], weights: [:])) { error in
            guard case FaceNetError.invalidTopology(_, "pad_flat", let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("image input"), reason)
        }
    }

    /// The fast path against the reference: pads before and after valid convs and a pool,
    /// batch 3, every layer fetched, and fused on 1 and 2 threads (the pads unfused). The
    /// last pad's buffer is reused from an earlier value, so a float the pad does not
    /// write is stale, not zero.
    func testForwardMatchesReference() throws {
        func conv(_ name: String, _ input: String, filters: Int) -> LayerNode {
            LayerNode(name: name, className: "Conv2D", kind: .conv2D(Conv2DConfig(filters: filters, kernel: (3, 3), padding: .valid,
                                                                                   useBias: true, activation: .relu)),
                      inputs: [input])
        }
        func pad(_ name: String, _ input: String, _ p: ZeroPadding2DConfig) -> LayerNode {
            LayerNode(name: name, className: "ZeroPadding2D", kind: .zeroPadding2D(p), inputs: [input])
        }
        let layers = [
            conv("conv1", "input", filters: 4),
            LayerNode(name: "pool", className: "MaxPooling2D", kind: .maxPooling2D(Pool2DConfig(pool: (2, 2), strides: (1, 1))),
                      inputs: ["conv1"]),
            pad("pad1", "pool", ZeroPadding2DConfig(top: 1, bottom: 2, left: 0, right: 3)),
            conv("conv2", "pad1", filters: 6),
            pad("pad2", "conv2", ZeroPadding2DConfig(top: 2, bottom: 2, left: 2, right: 2)),
        ]
        let weights: [String: [String: Tensor]] = [
            "conv1": ["kernel": randomTensor([3, 3, 5, 4], seed: 11), "bias": randomTensor([4], seed: 12)],
            "conv2": ["kernel": randomTensor([3, 3, 4, 6], seed: 13), "bias": randomTensor([6], seed: 14)],
        ]
        // conv1 + ReLU, pool, pad1, conv2 + ReLU, pad2.
        let (error, magnitude) = try compareWithReference(inputShape: [3, 9, 8, 5], layers: layers, weights: weights,
                                                          expectedFusedSteps: 5)
        XCTAssertLessThanOrEqual(error, 1e-5 * max(1, magnitude))
        print("ZeroPadding2D fast vs reference: max abs error \(error)")
    }

    /// The forward writes every output float: into a NaN-filled buffer it gives exactly the
    /// reference, for each side alone and all together, batch 2.
    func testForwardWritesEveryFloat() throws {
        let x = randomTensor([2, 3, 4, 5], seed: 21)
        for p in [ZeroPadding2DConfig(top: 2, bottom: 0, left: 0, right: 0), ZeroPadding2DConfig(top: 0, bottom: 1, left: 0, right: 0),
                  ZeroPadding2DConfig(top: 0, bottom: 0, left: 3, right: 0), ZeroPadding2DConfig(top: 0, bottom: 0, left: 0, right: 2),
                  ZeroPadding2DConfig(top: 1, bottom: 2, left: 0, right: 3), ZeroPadding2DConfig(top: 0, bottom: 0, left: 0, right: 0)] {
            let layer = ZeroPadding2DLayer(config: p)
            let outShape = [2, 3 + p.top + p.bottom, 4 + p.left + p.right, 5]
            var y = [Float](repeating: .nan, count: outShape.reduce(1, *))
            x.scalars.withUnsafeBufferPointer { input in
                y.withUnsafeMutableBufferPointer { output in
                    layer.forward(inputs: [input.baseAddress!], inputShapes: [x.shape], output: output.baseAddress!,
                                  outputShape: outShape)
                }
            }
            let reference = try layer.reference([x], weights: LayerWeights(reference: "pad", tensors: [:], path: "memory",
                                                                           topologySource: "memory"))
            XCTAssertEqual(reference.shape, outShape)
            XCTAssertEqual(maxAbsDifference(y, reference.scalars), 0, "\(p)")
        }
    }
}
