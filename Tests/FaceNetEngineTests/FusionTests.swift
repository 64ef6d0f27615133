import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// Fused execution (epilogues, residual accumulation, in-place concatenation) against the
/// unfused engine and the naive reference, with and without intermediate layers requested.
final class FusionTests: XCTestCase {
    private func tinyModel() throws -> (Model, Tensor) {
        let model = try Model.load(weightsPath: Paths.fixture("tiny/model_full.h5"))
        let manifest = try GoldenManifest(path: Paths.fixture("tiny/manifest.json"))
        return (model, try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape))
    }

    private func run(_ model: Model, _ x: Tensor, outputs: [String], fusion: Bool) throws -> ([String: Tensor], Int) {
        let session = try InferenceSession(model: model, inputShapes: [model.topology.inputNames[0]: x.shape],
                                           outputs: outputs, fusion: fusion)
        return (try session.run([model.topology.inputNames[0]: x]), session.stepNames.count)
    }

    /// Keras's output of `layer` for the tiny manifest's input.
    private func keras(_ layer: String) throws -> Tensor {
        let manifest = try GoldenManifest(path: Paths.fixture("tiny/manifest.json"))
        let entry = try XCTUnwrap(manifest.outputs.first { $0.name == layer }, "\(layer) is not in the tiny manifest")
        return try manifest.readTensor(entry.file, shape: entry.shape)
    }

    func testFusedEqualsUnfusedOnTinyModel() throws {
        let (model, x) = try tinyModel()
        let output = model.topology.outputNames[0]
        let (fused, fusedSteps) = try run(model, x, outputs: [output], fusion: true)
        let (plain, plainSteps) = try run(model, x, outputs: [output], fusion: false)
        let err = maxAbsDifference(try XCTUnwrap(fused[output]), try XCTUnwrap(plain[output]))
        XCTAssertLessThan(err, 1e-5)
        // Both against Keras, not only against each other.
        let reference = try keras(output)
        for (label, run) in [("fused", fused), ("unfused", plain)] {
            let result = GoldenCheck.compare(name: label, actual: try XCTUnwrap(run[output]), reference: reference,
                                             l2Normalized: false, tolerance: GoldenTolerance())
            XCTAssertTrue(result.withinTolerance, "\(label): max abs err \(result.maxAbsError) > \(result.limit)")
        }
        // BN, ReLU, Lambda, Add and branch copies disappear into the GEMMs.
        XCTAssertLessThan(fusedSteps * 2, plainSteps, "fused \(fusedSteps) steps vs \(plainSteps)")
        print("tiny model: \(plainSteps) steps unfused, \(fusedSteps) fused, max abs diff \(err)")
    }

    /// The panel GEMM and OpenBLAS give the same network output, threaded and not, and
    /// both match the naive reference executor.
    func testGEMMBackendsAgreeOnTinyModel() throws {
        let (base, x) = try tinyModel()
        let path = Paths.fixture("tiny/model_full.h5")
        let weights = try KerasWeightsReader.load(path: path, specs: try base.topology.weightSpecs())
        let output = base.topology.outputNames[0]
        let input = base.topology.inputNames[0]
        let reference = try XCTUnwrap(ReferenceExecutor.run(topology: base.topology, weights: weights,
                                                            inputs: [input: x], outputs: [output])[output])
        for backend in GEMMBackend.available {
            let model = try Model(topology: base.topology, weights: weights, options: EngineOptions(gemm: backend))
            for threads in [1, 2] {
                let session = try InferenceSession(model: model, inputShapes: [input: x.shape], outputs: [output],
                                                   fusion: true, threads: threads, minimumParallelFlops: 0)
                let y = try XCTUnwrap(session.run([input: x])[output])
                let err = maxAbsDifference(y, reference)
                XCTAssertLessThan(err, 1e-4, "\(backend), \(threads) threads")
                print("tiny model, \(backend) GEMM, \(threads) threads: max abs diff from reference \(err)")
            }
        }
    }

    /// Layers inside fused chains, when asked for, come out exactly as unfused.
    func testIntermediateLayersInsideFusedChainsStayFetchable() throws {
        let (model, x) = try tinyModel()
        let inside = [
            "Conv2d_1a_3x3",                                  // conv before its BN
            "Conv2d_2a_3x3_BatchNorm",                        // BN before its ReLU
            "Block35_1_Branch_1_Conv2d_0b_3x3_Activation",    // a branch written into a concat
            "lambda_1", "add_1",                              // inside a residual chain
            "Mixed_6a", "Bottleneck", model.topology.outputNames[0],
        ]
        let (fused, _) = try run(model, x, outputs: inside, fusion: true)
        let (plain, _) = try run(model, x, outputs: inside, fusion: false)
        for name in inside {
            let err = maxAbsDifference(try XCTUnwrap(fused[name], name), try XCTUnwrap(plain[name], name))
            XCTAssertLessThan(err, 1e-5, name)
        }
    }

    /// Patterns that must not fuse: BatchNorm after a conv that already has an activation,
    /// a conv read by two layers; and a pool written into a concatenation.
    func testFusionRespectsOrderAndSharing() throws {
        func conv(_ name: String, _ filters: Int, _ k: Int, activation: ActivationFunction = .linear, bias: Bool = false,
                  input: String) -> LayerNode {
            LayerNode(name: name, className: "Conv2D",
                      kind: .conv2D(Conv2DConfig(filters: filters, kernel: (k, k), padding: .same, useBias: bias, activation: activation)),
                      inputs: [input])
        }
        let bnConfig = BatchNormConfig(center: true, scale: true, epsilon: 0.001, axis: -1)
        let layers = [
            conv("relu_conv", 4, 3, activation: .relu, bias: true, input: "input"),
            LayerNode(name: "bn_after_relu", className: "BatchNormalization", kind: .batchNormalization(bnConfig), inputs: ["relu_conv"]),
            conv("shared", 4, 1, input: "bn_after_relu"),
            LayerNode(name: "act_a", className: "Activation", kind: .activation(.relu), inputs: ["shared"]),
            LayerNode(name: "act_b", className: "Activation", kind: .activation(.tanh), inputs: ["shared"]),
            LayerNode(name: "pool", className: "MaxPooling2D",
                      kind: .maxPooling2D(Pool2DConfig(pool: (3, 3), strides: (1, 1), padding: .same)), inputs: ["act_b"]),
            LayerNode(name: "cat", className: "Concatenate", kind: .concatenate(axis: -1), inputs: ["act_a", "pool", "act_b"]),
            conv("up", 12, 1, bias: true, input: "cat"),
            LayerNode(name: "scaled", className: "Lambda", kind: .scale(0.3), inputs: ["up"]),
            LayerNode(name: "sum", className: "Add", kind: .add, inputs: ["scaled", "cat"]),
            LayerNode(name: "out", className: "Activation", kind: .activation(.relu), inputs: ["sum"]),
        ]
        let weights: [String: [String: Tensor]] = [
            "relu_conv": ["kernel": randomTensor([3, 3, 3, 4], seed: 1), "bias": randomTensor([4], seed: 2)],
            "bn_after_relu": ["gamma": randomTensor([4], seed: 3), "beta": randomTensor([4], seed: 4),
                              "moving_mean": randomTensor([4], seed: 5), "moving_variance": randomTensor([4], seed: 6, range: 0.5...2)],
            "shared": ["kernel": randomTensor([1, 1, 4, 4], seed: 7)],
            "up": ["kernel": randomTensor([1, 1, 12, 12], seed: 8), "bias": randomTensor([12], seed: 9)],
        ]
        let (model, topology, loaded) = try makeModel(inputShape: [7, 6, 3], layers: layers, weights: weights)
        let x = randomTensor([2, 7, 6, 3], seed: 10)
        let fused = try XCTUnwrap(try InferenceSession(model: model, inputShapes: ["input": x.shape], outputs: ["out"])
            .run(["input": x])["out"])
        let reference = try XCTUnwrap(try ReferenceExecutor.run(topology: topology, weights: loaded, inputs: ["input": x],
                                                                outputs: ["out"])["out"])
        XCTAssertLessThan(maxAbsDifference(fused, reference), 1e-5)
    }

    /// Three pointwise convs reading one tensor (2 + 4 + 3 filters) run as one GEMM
    /// (`SiblingGroup`): softmax on one, BatchNorm → ReLU folded after another, and two of
    /// them written into a concatenation's slices; 600 rows, so the product goes in chunks.
    /// Fused, unfused-but-grouped (every layer requested) and threaded sessions all match
    /// the reference executor.
    func testSiblingPointwiseConvsRunAsOneGEMM() throws {
        func pointwise(_ name: String, _ filters: Int, activation: ActivationFunction = .linear, bias: Bool) -> LayerNode {
            LayerNode(name: name, className: "Conv2D",
                      kind: .conv2D(Conv2DConfig(filters: filters, kernel: (1, 1), useBias: bias, activation: activation)),
                      inputs: ["trunk"])
        }
        let bnConfig = BatchNormConfig(center: true, scale: true, epsilon: 0.001, axis: -1)
        let layers = [
            LayerNode(name: "trunk", className: "Conv2D",
                      kind: .conv2D(Conv2DConfig(filters: 8, kernel: (3, 3), padding: .same, useBias: true, activation: .relu)),
                      inputs: ["input"]),
            pointwise("face", 2, activation: .softmax, bias: true),
            pointwise("box", 4, bias: true),
            pointwise("feat", 3, bias: false),
            LayerNode(name: "feat_bn", className: "BatchNormalization", kind: .batchNormalization(bnConfig), inputs: ["feat"]),
            LayerNode(name: "feat_act", className: "Activation", kind: .activation(.relu), inputs: ["feat_bn"]),
            LayerNode(name: "cat", className: "Concatenate", kind: .concatenate(axis: -1), inputs: ["box", "feat_act"]),
        ]
        let weights: [String: [String: Tensor]] = [
            "trunk": ["kernel": randomTensor([3, 3, 5, 8], seed: 1), "bias": randomTensor([8], seed: 2)],
            "face": ["kernel": randomTensor([1, 1, 8, 2], seed: 3), "bias": randomTensor([2], seed: 4)],
            "box": ["kernel": randomTensor([1, 1, 8, 4], seed: 5), "bias": randomTensor([4], seed: 6)],
            "feat": ["kernel": randomTensor([1, 1, 8, 3], seed: 7)],
            "feat_bn": ["gamma": randomTensor([3], seed: 8), "beta": randomTensor([3], seed: 9),
                        "moving_mean": randomTensor([3], seed: 10), "moving_variance": randomTensor([3], seed: 11, range: 0.5...2)],
        ]
        let (model, topology, loaded) = try makeModel(inputShape: [20, 15, 5], layers: layers, weights: weights)
        XCTAssertEqual(model.siblingGroups.map(\.columns), [[0..<2, 2..<6, 6..<9]])
        let x = randomTensor([2, 20, 15, 5], seed: 12)
        let outputs = ["face", "cat"]
        let reference = try ReferenceExecutor.run(topology: topology, weights: loaded, inputs: ["input": x], outputs: outputs)
        for threads in [1, 2] {
            let session = try InferenceSession(model: model, inputShapes: ["input": x.shape], outputs: outputs, fusion: true,
                                               threads: threads, minimumParallelFlops: 0)
            XCTAssertEqual(session.stepKinds.filter { $0.hasSuffix("(3 siblings)") }.count, 1, "\(session.stepKinds)")
            let fused = try session.run(["input": x])
            for name in outputs {
                XCTAssertLessThan(maxAbsDifference(try XCTUnwrap(fused[name]), try XCTUnwrap(reference[name])), 1e-5, name)
            }
        }
        let unfused = try InferenceSession(model: model, inputShapes: ["input": x.shape], outputs: outputs, fusion: false)
        XCTAssertFalse(unfused.stepKinds.contains { $0.hasSuffix("siblings)") })
        let all = try compareWithReference(inputShape: [2, 20, 15, 5], layers: layers, weights: weights)
        XCTAssertLessThan(all.maxError, 1e-5 * max(1, all.maxMagnitude))
    }

    /// Siblings whose filters exceed one panel, or that read different tensors, stay apart.
    func testSiblingGroupsNeedOnePanelAndOneInput() throws {
        let layers = [
            LayerNode(name: "a", className: "Conv2D", kind: .conv2D(Conv2DConfig(filters: 9, kernel: (1, 1))), inputs: ["input"]),
            LayerNode(name: "b", className: "Conv2D", kind: .conv2D(Conv2DConfig(filters: 8, kernel: (1, 1))), inputs: ["input"]),
            LayerNode(name: "c", className: "Conv2D", kind: .conv2D(Conv2DConfig(filters: 2, kernel: (1, 1))), inputs: ["a"]),
            LayerNode(name: "d", className: "Conv2D", kind: .conv2D(Conv2DConfig(filters: 2, kernel: (3, 3))), inputs: ["a"]),
        ]
        let weights: [String: [String: Tensor]] = [
            "a": ["kernel": randomTensor([1, 1, 3, 9], seed: 1)], "b": ["kernel": randomTensor([1, 1, 3, 8], seed: 2)],
            "c": ["kernel": randomTensor([1, 1, 9, 2], seed: 3)], "d": ["kernel": randomTensor([3, 3, 9, 2], seed: 4)],
        ]
        let (model, _, _) = try makeModel(inputShape: [6, 6, 3], layers: layers, weights: weights)
        XCTAssertTrue(model.siblingGroups.isEmpty)
    }
}

/// The session's own threads: every part of the work done once, same numbers as one thread.
final class ThreadingTests: XCTestCase {
    func testSharesCoverTheRangeOnce() {
        for count in [0, 1, 5, 64, 1001] {
            for parts in 1...5 {
                let shares = (0..<parts).map { WorkerTeam.share(of: count, part: $0, parts: parts) }
                XCTAssertEqual(shares.map(\.count).reduce(0, +), count)
                for i in 1..<parts { XCTAssertEqual(shares[i - 1].upperBound, shares[i].lowerBound) }
            }
        }
    }

    func testThreadedSessionEqualsSingleThreaded() throws {
        let model = try Model.load(weightsPath: Paths.fixture("tiny/model_full.h5"))
        let manifest = try GoldenManifest(path: Paths.fixture("tiny/manifest.json"))
        let x = try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape)
        let name = model.topology.inputNames[0]
        let outputs = ["Mixed_6a", model.topology.outputNames[0]]
        let single = try InferenceSession(model: model, inputShapes: [name: x.shape], outputs: outputs, threads: 1).run([name: x])
        // The single-threaded run is the yardstick, so it is held to Keras's outputs first.
        for output in outputs {
            let entry = try XCTUnwrap(manifest.outputs.first { $0.name == output }, output)
            let result = GoldenCheck.compare(name: output, actual: try XCTUnwrap(single[output]),
                                             reference: try manifest.readTensor(entry.file, shape: entry.shape),
                                             l2Normalized: false, tolerance: GoldenTolerance())
            XCTAssertTrue(result.withinTolerance, "\(output), 1 thread: max abs err \(result.maxAbsError) > \(result.limit)")
        }
        for threads in [2, 3] {
            // Every convolution shared, however small: rows, filters (few rows) and residual paths.
            let session = try InferenceSession(model: model, inputShapes: [name: x.shape], outputs: outputs, fusion: true,
                                               threads: threads, minimumParallelFlops: 0)
            for _ in 0..<3 {
                let threaded = try session.run([name: x])
                for output in outputs {
                    XCTAssertLessThan(maxAbsDifference(try XCTUnwrap(threaded[output]), try XCTUnwrap(single[output])), 1e-5,
                                      "\(output) with \(threads) threads")
                }
            }
        }
    }

    /// 1×7 then 7×1 convolutions (Block17's pair) on F(2, 7), split by tiles, against the reference.
    func testThreadedOneDimensionalWinogradMatchesReference() throws {
        let layers = [
            LayerNode(name: "row", className: "Conv2D",
                      kind: .conv2D(Conv2DConfig(filters: 40, kernel: (1, 7), padding: .same, useBias: true)), inputs: ["input"]),
            LayerNode(name: "act", className: "Activation", kind: .activation(.relu), inputs: ["row"]),
            LayerNode(name: "column", className: "Conv2D",
                      kind: .conv2D(Conv2DConfig(filters: 36, kernel: (7, 1), padding: .same, useBias: true)), inputs: ["act"]),
        ]
        let weights: [String: [String: Tensor]] = [
            "row": ["kernel": randomTensor([1, 7, 48, 40], seed: 1, range: -0.1...0.1), "bias": randomTensor([40], seed: 2)],
            "column": ["kernel": randomTensor([7, 1, 40, 36], seed: 3, range: -0.1...0.1), "bias": randomTensor([36], seed: 4)],
        ]
        let (model, topology, loaded) = try makeModel(inputShape: [9, 11, 48], layers: layers, weights: weights)
        if model.options.winograd.enabled && model.options.winograd.oneDimensional {
            guard case .conv2D(_, .winograd(_, .rowF2x7), _)? = model.ops.dropFirst().first,
                  case .conv2D(_, .winograd(_, .columnF2x7), _)? = model.ops.last else {
                return XCTFail("the 1×7 and 7×1 convs should run as F(2, 7)")
            }
        }
        let x = randomTensor([3, 9, 11, 48], seed: 5)
        let reference = try XCTUnwrap(ReferenceExecutor.run(topology: topology, weights: loaded, inputs: ["input": x],
                                                            outputs: ["column"])["column"])
        let session = try InferenceSession(model: model, inputShapes: ["input": x.shape], outputs: ["column"], fusion: true,
                                           threads: 2, minimumParallelFlops: 0)
        XCTAssertLessThan(maxAbsDifference(try XCTUnwrap(session.run(["input": x])["column"]), reference), 1e-4)
    }

    /// Winograd convolutions (64+ channels) split by tiles, with a residual epilogue.
    func testThreadedWinogradAndResidualMatchReference() throws {
        let layers = [
            LayerNode(name: "conv", className: "Conv2D",
                      kind: .conv2D(Conv2DConfig(filters: 64, kernel: (3, 3), padding: .same, useBias: true)), inputs: ["input"]),
            LayerNode(name: "act", className: "Activation", kind: .activation(.relu), inputs: ["conv"]),
            LayerNode(name: "up", className: "Conv2D",
                      kind: .conv2D(Conv2DConfig(filters: 64, kernel: (1, 1), padding: .same, useBias: true)), inputs: ["act"]),
            LayerNode(name: "scaled", className: "Lambda", kind: .scale(0.2), inputs: ["up"]),
            LayerNode(name: "sum", className: "Add", kind: .add, inputs: ["act", "scaled"]),
        ]
        let weights: [String: [String: Tensor]] = [
            "conv": ["kernel": randomTensor([3, 3, 64, 64], seed: 1, range: -0.1...0.1), "bias": randomTensor([64], seed: 2)],
            "up": ["kernel": randomTensor([1, 1, 64, 64], seed: 3, range: -0.1...0.1), "bias": randomTensor([64], seed: 4)],
        ]
        // 9×11: 9 F(4×4) tiles, so F(2×2); 17×15: 20 tiles, F(4×4).
        for (shape, expected) in [([9, 11, 64], WinogradTile.f2x2), ([17, 15, 64], .f4x4)] {
            let (model, topology, loaded) = try makeModel(inputShape: shape, layers: layers, weights: weights)
            guard case .conv2D(_, .winograd(_, let tile), _)? = model.ops.dropFirst().first else {
                return XCTFail("the 3×3 conv should run as Winograd")
            }
            XCTAssertEqual(tile, expected, "\(shape)")
            let x = randomTensor([2] + shape, seed: 5)
            let reference = try XCTUnwrap(ReferenceExecutor.run(topology: topology, weights: loaded, inputs: ["input": x],
                                                                outputs: ["sum"])["sum"])
            let session = try InferenceSession(model: model, inputShapes: ["input": x.shape], outputs: ["sum"], fusion: true,
                                               threads: 2, minimumParallelFlops: 0)
            XCTAssertLessThan(maxAbsDifference(try XCTUnwrap(session.run(["input": x])["sum"]), reference), 1e-4, "\(shape)")
        }
    }
}
