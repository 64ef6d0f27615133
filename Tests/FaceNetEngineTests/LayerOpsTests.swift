import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// PReLU, Permute, Flatten, Reshape and softmax (the layers MTCNN adds): every fast path —
/// fused, unfused, shared by threads — against the naive references, on odd shapes.
final class LayerOpsTests: XCTestCase {
    /// The engine three ways (fused; unfused; fused with every conv shared by 2 threads)
    /// against `ReferenceExecutor`, every layer fetched; returns the worst error per way.
    @discardableResult
    private func checkAgainstReference(inputShape: [Int], layers: [LayerNode], weights: [String: [String: Tensor]] = [:],
                                       tolerance: Float, seed: UInt64 = 1, range: ClosedRange<Float> = -1...1,
                                       file: StaticString = #filePath, line: UInt = #line) throws -> [Float] {
        let (model, topology, loaded) = try makeModel(inputShape: inputShape.dropFirst().map { $0 }, layers: layers, weights: weights)
        let x = randomTensor(inputShape, seed: seed, range: range)
        let names = layers.map(\.name)
        let reference = try ReferenceExecutor.run(topology: topology, weights: loaded, inputs: ["input": x], outputs: names)
        var worst: [Float] = []
        for (fusion, threads) in [(true, 1), (false, 1), (true, 2)] {
            let session = try InferenceSession(model: model, inputShapes: ["input": x.shape], outputs: names, fusion: fusion,
                                               threads: threads, minimumParallelFlops: 0)
            let outputs = try session.run(["input": x])
            var error: Float = 0
            for name in names {
                let got = try XCTUnwrap(outputs[name], name, file: file, line: line)
                let want = try XCTUnwrap(reference[name], name, file: file, line: line)
                XCTAssertEqual(got.shape, want.shape, name, file: file, line: line)
                error = max(error, maxAbsDifference(got, want))
            }
            XCTAssertLessThanOrEqual(error, tolerance, "fusion \(fusion), \(threads) threads", file: file, line: line)
            worst.append(error)
        }
        return worst
    }

    private func prelu(_ name: String, shared: [Int], input: String = "input") -> LayerNode {
        LayerNode(name: name, className: "PReLU", kind: .prelu(PReLUConfig(sharedAxes: shared)), inputs: [input])
    }

    private func conv(_ name: String, filters: Int, kernel: Int, activation: ActivationFunction = .linear,
                      input: String = "input") -> LayerNode {
        LayerNode(name: name, className: "Conv2D",
                  kind: .conv2D(Conv2DConfig(filters: filters, kernel: (kernel, kernel), padding: .valid, useBias: true,
                                             activation: activation)),
                  inputs: [input])
    }

    private func convWeights(kernel: Int, cin: Int, filters: Int, seed: UInt64) -> [String: Tensor] {
        ["kernel": randomTensor([kernel, kernel, cin, filters], seed: seed, range: -0.5...0.5),
         "bias": randomTensor([filters], seed: seed + 1, range: -0.2...0.2)]
    }

    private func alpha(for config: PReLUConfig, sample: [Int], seed: UInt64) throws -> Tensor {
        randomTensor(try XCTUnwrap(config.alphaShape(for: sample.map(Optional.some))), seed: seed)
    }

    // MARK: - PReLU

    /// Every combination of shared axes on (N, H, W, C), (N, L, C) and (N, C), negative alphas
    /// included: exactly the reference's numbers (one product per negative input).
    func testPReLUEverySharingMatchesReference() throws {
        let cases: [([Int], [[Int]])] = [
            ([2, 5, 7, 6], [[], [1], [2], [3], [1, 2], [1, 3], [2, 3], [1, 2, 3]]),
            ([3, 4, 5], [[], [1], [2], [1, 2]]),
            ([3, 9], [[], [1]]),
        ]
        for (shape, sharings) in cases {
            for (i, shared) in sharings.enumerated() {
                let config = PReLUConfig(sharedAxes: shared)
                let a = try alpha(for: config, sample: Array(shape.dropFirst()), seed: UInt64(30 + i))
                try checkAgainstReference(inputShape: shape, layers: [prelu("p", shared: shared)], weights: ["p": ["alpha": a]],
                                          tolerance: 0, seed: UInt64(i))
            }
        }
    }

    func testPReLUIsIdentityAboveZeroAndScalesBelow() throws {
        let config = PReLUConfig(sharedAxes: [1, 2])
        let a = try Tensor(shape: [1, 1, 2], scalars: [0.25, -2])
        let (model, _, _) = try makeModel(inputShape: [1, 2, 2], layers: [prelu("p", shared: config.sharedAxes)],
                                          weights: ["p": ["alpha": a]])
        let x = try Tensor(shape: [1, 1, 2, 2], scalars: [3, -4, -8, 0.5])
        XCTAssertEqual(try model.predict(x)["p"]?.scalars, [3, 8, -2, 0.5])
    }

    /// Conv/Dense → per-channel PReLU runs as one GEMM epilogue (after the conv's own
    /// activation); anything after it, and a PReLU that is not per-channel, stays apart.
    func testPReLUFusedIntoEpilogueMatchesReference() throws {
        let bn = BatchNormConfig(center: true, scale: true, epsilon: 0.001, axis: -1)
        let layers = [
            conv("c1", filters: 6, kernel: 3),
            prelu("p1", shared: [1, 2], input: "c1"),                     // fused
            conv("c2", filters: 5, kernel: 1, activation: .relu, input: "p1"),
            prelu("p2", shared: [1, 2], input: "c2"),                     // fused after the ReLU
            LayerNode(name: "bn", className: "BatchNormalization", kind: .batchNormalization(bn), inputs: ["p2"]),
            conv("c3", filters: 4, kernel: 1, input: "bn"),
            prelu("p3", shared: [1], input: "c3"),                        // (1, W, C): not per channel
            LayerNode(name: "flat", className: "Flatten", kind: .flatten, inputs: ["p3"]),
            LayerNode(name: "dense", className: "Dense", kind: .dense(DenseConfig(units: 7)), inputs: ["flat"]),
            prelu("p4", shared: [], input: "dense"),                      // (7): per unit, fused
        ]
        let sample = [6, 8, 3]
        let weights: [String: [String: Tensor]] = [
            "c1": convWeights(kernel: 3, cin: 3, filters: 6, seed: 1),
            "p1": ["alpha": randomTensor([1, 1, 6], seed: 3)],
            "c2": convWeights(kernel: 1, cin: 6, filters: 5, seed: 4),
            "p2": ["alpha": randomTensor([1, 1, 5], seed: 6)],
            "bn": ["gamma": randomTensor([5], seed: 7), "beta": randomTensor([5], seed: 8),
                   "moving_mean": randomTensor([5], seed: 9), "moving_variance": randomTensor([5], seed: 10, range: 0.5...2)],
            "c3": convWeights(kernel: 1, cin: 5, filters: 4, seed: 11),
            "p3": ["alpha": randomTensor([1, 6, 4], seed: 13)],
            "dense": ["kernel": randomTensor([4 * 6 * 4, 7], seed: 14, range: -0.3...0.3), "bias": randomTensor([7], seed: 15)],
            "p4": ["alpha": randomTensor([7], seed: 16)],
        ]
        try checkAgainstReference(inputShape: [2] + sample, layers: layers, weights: weights, tolerance: 1e-5)

        // Only the final output requested: which layers disappeared into epilogues.
        let (model, _, _) = try makeModel(inputShape: sample.map { $0 }, layers: layers, weights: weights)
        let fused = try InferenceSession(model: model, inputShapes: ["input": [2] + sample], outputs: ["p4"], fusion: true)
        let plain = try InferenceSession(model: model, inputShapes: ["input": [2] + sample], outputs: ["p4"], fusion: false)
        XCTAssertEqual(fused.stepNames, ["c1", "c2", "bn", "c3", "p3", "dense"])
        XCTAssertEqual(plain.stepNames.count, 9, "every layer but the Flatten view: \(plain.stepNames)")
    }

    // MARK: - Permute, Flatten, Reshape

    private func permutations(_ n: Int) -> [[Int]] {
        guard n > 1 else { return [[1]] }
        return permutations(n - 1).flatMap { p in (0...p.count).map { i in Array(p[..<i]) + [n] + Array(p[i...]) } }
    }

    func testPermuteEveryOrderMatchesReference() throws {
        for sample in [[5], [4, 7], [3, 5, 4]] {
            for dims in permutations(sample.count) {
                let layer = LayerNode(name: "perm", className: "Permute", kind: .permute(dims: dims), inputs: ["input"])
                try checkAgainstReference(inputShape: [2] + sample, layers: [layer], tolerance: 0)
            }
        }
        XCTAssertEqual(permutations(3).count, 6)
    }

    /// MTCNN's Permute((2, 1, 3)) then Flatten: element (h, w, c) lands at (w·H + h)·C + c.
    func testPermuteThenFlattenIsRowMajorOverSwappedAxes() throws {
        let (h, w, c) = (3, 4, 5)
        let layers = [
            LayerNode(name: "perm", className: "Permute", kind: .permute(dims: [2, 1, 3]), inputs: ["input"]),
            LayerNode(name: "flat", className: "Flatten", kind: .flatten, inputs: ["perm"]),
        ]
        try checkAgainstReference(inputShape: [2, h, w, c], layers: layers, tolerance: 0)
        let (model, _, _) = try makeModel(inputShape: [h, w, c], layers: layers, weights: [:])
        let x = randomTensor([2, h, w, c], seed: 4)
        let y = try XCTUnwrap(try model.predict(x, outputs: ["flat"])["flat"])
        XCTAssertEqual(y.shape, [2, h * w * c])
        for n in 0..<2 {
            for i in 0..<h {
                for j in 0..<w {
                    for k in 0..<c {
                        XCTAssertEqual(y.scalars[n * h * w * c + (j * h + i) * c + k], x.scalars[((n * h + i) * w + j) * c + k])
                    }
                }
            }
        }
    }

    /// Reshape with −1 in several places, read by a conv and a Permute; the data is untouched.
    func testReshapeWithMinusOneIsAView() throws {
        let layers = [
            LayerNode(name: "r1", className: "Reshape", kind: .reshape(targetShape: [-1, 9]), inputs: ["input"]),
            LayerNode(name: "r2", className: "Reshape", kind: .reshape(targetShape: [6, -1, 3]), inputs: ["r1"]),
            conv("c", filters: 2, kernel: 3, input: "r2"),
            LayerNode(name: "r3", className: "Reshape", kind: .reshape(targetShape: [2, -1]), inputs: ["c"]),
            LayerNode(name: "p", className: "Permute", kind: .permute(dims: [2, 1]), inputs: ["r3"]),
        ]
        let weights = ["c": convWeights(kernel: 3, cin: 3, filters: 2, seed: 2)]
        try checkAgainstReference(inputShape: [2, 4, 6, 3], layers: layers, weights: weights, tolerance: 1e-5)
        let (model, _, _) = try makeModel(inputShape: [4, 6, 3], layers: layers, weights: weights)
        XCTAssertEqual(try model.outputShape(of: "r1"), [8, 9])
        XCTAssertEqual(try model.outputShape(of: "r2"), [6, 4, 3])
        XCTAssertEqual(try model.outputShape(of: "r3"), [2, 8])
        let x = randomTensor([2, 4, 6, 3], seed: 3)
        XCTAssertEqual(try model.predict(x, outputs: ["r2"])["r2"]?.scalars, x.scalars)
    }

    func testReshapeThatCannotFitIsAnErrorNamingTheLayer() throws {
        let bad = LayerNode(name: "bad_reshape", className: "Reshape", kind: .reshape(targetShape: [-1, 7]), inputs: ["input"])
        XCTAssertThrowsError(try makeModel(inputShape: [4, 6, 3], layers: [bad], weights: [:])) { error in
            guard case FaceNetError.invalidTopology(_, "bad_reshape", let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("72 elements"), reason)
        }
        // Graphs built in code get the same checks as parsed ones.
        for (kind, text) in [(LayerKind.reshape(targetShape: [-1, -1]), "does not fit"), (.permute(dims: [0, 1, 2]), "not a permutation"),
                             (.permute(dims: [2, 1]), "reorder 2 axes")] {
            let layer = LayerNode(name: "in_code", className: "Layer", kind: kind, inputs: ["input"])
            XCTAssertThrowsError(try makeModel(inputShape: [4, 6, 3], layers: [layer], weights: [:])) { error in
                guard case FaceNetError.invalidTopology(_, "in_code", let reason) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains(text), reason)
            }
        }
        // With an open input the sizes are checked when a session is planned.
        let open = LayerNode(name: "open_reshape", className: "Reshape", kind: .reshape(targetShape: [4, -1]), inputs: ["input"])
        let (model, _, _) = try makeModel(inputShape: [nil, nil, 3], layers: [open], weights: [:])
        XCTAssertEqual(try model.outputShape(of: "open_reshape"), [4, nil])
        XCTAssertNoThrow(try InferenceSession(model: model, inputShapes: ["input": [1, 4, 5, 3]], outputs: ["open_reshape"]))
        XCTAssertThrowsError(try InferenceSession(model: model, inputShapes: ["input": [1, 5, 5, 3]], outputs: ["open_reshape"])) { error in
            guard case FaceNetError.inputShapeMismatch("input", let expected, [1, 5, 5, 3]) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(expected.contains("open_reshape") && expected.contains("75 elements"), expected)
        }
    }

    // MARK: - Softmax

    /// Softmax as a conv activation is per pixel over the filters: pointwise (a GEMM that
    /// threads would otherwise split by filters) and 3×3, and as its own layer on NHWC.
    func testSoftmaxOnConvOutputsIsPerPixel() throws {
        let layers = [
            conv("point", filters: 9, kernel: 1, activation: .softmax),
            conv("wide", filters: 4, kernel: 3, activation: .softmax),
            conv("head", filters: 2, kernel: 1, activation: .softmax),  // P-Net's face/non-face head
            LayerNode(name: "alone", className: "Softmax", kind: .activation(.softmax), inputs: ["input"]),
        ]
        let weights = ["point": convWeights(kernel: 1, cin: 8, filters: 9, seed: 1),
                       "wide": convWeights(kernel: 3, cin: 8, filters: 4, seed: 3),
                       "head": convWeights(kernel: 1, cin: 8, filters: 2, seed: 4)]
        try checkAgainstReference(inputShape: [1, 5, 6, 8], layers: layers, weights: weights, tolerance: 1e-6, range: -4...4)
        let (model, _, _) = try makeModel(inputShape: [5, 6, 8], layers: layers, weights: weights)
        let session = try InferenceSession(model: model, inputShapes: ["input": [1, 5, 6, 8]], outputs: layers.map(\.name),
                                           fusion: true, threads: 2, minimumParallelFlops: 0)
        let y = try session.run(["input": randomTensor([1, 5, 6, 8], seed: 2, range: -4...4)])
        for name in ["point", "wide", "head", "alone"] {
            let t = try XCTUnwrap(y[name])
            let channels = try XCTUnwrap(t.shape.last)
            for pixel in 0..<(t.count / channels) {
                XCTAssertEqual(t.scalars[pixel * channels..<(pixel + 1) * channels].reduce(0, +), 1, accuracy: 1e-5, name)
            }
        }
    }

    /// Large logits do not overflow: the maximum is subtracted first.
    func testSoftmaxIsNumericallyStable() throws {
        let layer = LayerNode(name: "s", className: "Softmax", kind: .activation(.softmax), inputs: ["input"])
        try checkAgainstReference(inputShape: [2, 3, 4, 5], layers: [layer], tolerance: 1e-6, range: -1000...1000)
        let (model, _, _) = try makeModel(inputShape: [2], layers: [layer], weights: [:])
        let y = try XCTUnwrap(try model.predict(try Tensor(shape: [1, 2], scalars: [1000, 999]))["s"])
        XCTAssertEqual(y.scalars[0], Float(1 / (1 + exp(-1.0))), accuracy: 1e-6)
        XCTAssertEqual(y.scalars[1], Float(1 / (1 + exp(1.0))), accuracy: 1e-6)
    }
}

/// New layer configs that the JSON reader must refuse, with the file, the layer and what
/// was expected in the message; and PReLU weights checked like every other weight.
final class LayerOpsInputTests: XCTestCase {
    private let synthetic = Paths.fixture("mtcnn/synthetic/topology_tfkeras.json")

    /// Parses the synthetic topology with one layer edited, then infers shapes.
    private func shapesOfEdited(_ layer: String, _ edit: (inout [String: Any]) -> Void) throws -> [String: SymbolicShape] {
        try parseEditedTopology(synthetic, layer: layer, edit).symbolicShapes()
    }

    func testBadReshapeTargets() {
        assertTopologyError(try shapesOfEdited("reshape", setConfig("target_shape", [-1, 13])), layer: "reshape",
                            mentions: "does not fit the input (4, 5, 7) of 140 elements")
        assertTopologyError(try shapesOfEdited("reshape", setConfig("target_shape", [-1, -1])), layer: "reshape",
                            mentions: "at most one -1")
        assertTopologyError(try shapesOfEdited("reshape", setConfig("target_shape", [0, 14])), layer: "reshape",
                            mentions: "positive sizes")
        assertTopologyError(try shapesOfEdited("reshape", setConfig("target_shape", "14")), layer: "reshape",
                            mentions: "'target_shape' is not a list")
    }

    func testBadPermuteDims() {
        assertTopologyError(try shapesOfEdited("permute_cwh", setConfig("dims", [1, 1, 3])), layer: "permute_cwh",
                            mentions: "not a permutation of 1…3")
        assertTopologyError(try shapesOfEdited("permute_cwh", setConfig("dims", [0, 1, 2])), layer: "permute_cwh",
                            mentions: "not a permutation")
        assertTopologyError(try shapesOfEdited("permute_cwh", setConfig("dims", [2, 1])), layer: "permute_cwh",
                            mentions: "reorder 2 axes, but the input (5, 7, 4) has 3")
        assertTopologyError(try shapesOfEdited("permute_2d", setConfig("dims", [2, 1, 4, 3])), layer: "permute_2d",
                            mentions: "at most 3")
    }

    func testBadPReLUAndSoftmaxAndFlattenConfigs() {
        assertTopologyError(try shapesOfEdited("prelu_rows", setConfig("shared_axes", [4])), layer: "prelu_rows",
                            mentions: "shared axis 4 is outside the input (5, 7, 4)")
        assertTopologyError(try shapesOfEdited("prelu_rows", setConfig("shared_axes", [0])), layer: "prelu_rows",
                            mentions: "count from 1")
        assertTopologyError(try shapesOfEdited("softmax", setConfig("axis", 1)), layer: "softmax",
                            mentions: "only the last axis")
        assertTopologyError(try shapesOfEdited("flatten", setConfig("data_format", "channels_first")), layer: "flatten",
                            mentions: "channels_last")
        // What is still unsupported keeps its typed refusal.
        XCTAssertThrowsError(try shapesOfEdited("prelu_rows") { $0["class_name"] = "LeakyReLU" }) { error in
            guard case FaceNetError.unsupportedLayer("edited.json", "prelu_rows", "LeakyReLU", _) = error else {
                return XCTFail("\(error)")
            }
        }
    }

    /// PReLU without shared axes on an input of open size has no fixed alpha shape.
    func testUnsharedPReLUOnOpenInputIsRefused() throws {
        let pnet = Paths.packageRoot.appendingPathComponent("Weights/mtcnn/pnet.json").path
        let topology = try parseEditedTopology(pnet, layer: "prelu1", setConfig("shared_axes", nil))
        assertTopologyError(try topology.weightSpecs(), layer: "prelu1", mentions: "open sizes of the input (?, ?, 10)")
    }

    /// P-Net's weights with `prelu1`'s alpha missing, an extra weight beside it, and alpha of
    /// another shape: each error names the file, the layer, the weight and the shape.
    func testPReLUWeightsMissingExtraOrMisshapen() throws {
        let root = Paths.packageRoot.appendingPathComponent("Weights/mtcnn")
        let topology = try KerasJSONReader.read(path: root.appendingPathComponent("pnet.json").path)
        let specs = try topology.weightSpecs()
        let weights = try KerasWeightsReader.load(path: root.appendingPathComponent("pnet.h5").path, specs: specs).tensors
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prelu-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        /// Writes P-Net's weights with prelu1's replaced by `alpha` (named weight → tensor).
        func write(_ name: String, prelu1 alpha: [String: Tensor]) throws -> String {
            var edited = weights
            edited["prelu1"] = alpha.isEmpty ? nil : alpha
            let editedSpecs = specs.map { spec in
                spec.layerName != "prelu1" ? spec : LayerWeightSpec(
                    layerName: spec.layerName, className: spec.className,
                    weights: alpha.keys.sorted().map { WeightSpec(name: $0, shape: alpha[$0]?.shape ?? []) })
            }
            let path = dir.appendingPathComponent(name).path
            try HDF5Writer.writeKerasWeights(edited, specs: editedSpecs, to: path)
            return path
        }
        let alpha = try XCTUnwrap(weights["prelu1"]?["alpha"])
        XCTAssertEqual(alpha.shape, [1, 1, 10])

        let missing = try write("missing.h5", prelu1: [:])
        XCTAssertThrowsError(try KerasWeightsReader.load(path: missing, specs: specs)) { error in
            XCTAssertEqual(error as? FaceNetError, .missingWeight(path: missing, layer: "prelu1", weight: "alpha", expectedShape: [1, 1, 10]))
        }
        let extra = try write("extra.h5", prelu1: ["alpha": alpha, "beta": alpha])
        XCTAssertThrowsError(try KerasWeightsReader.load(path: extra, specs: specs)) { error in
            XCTAssertEqual(error as? FaceNetError, .unexpectedWeights(path: extra, layers: ["prelu1"]))
        }
        let flat = try write("flat.h5", prelu1: ["alpha": try alpha.reshaped([10])])
        XCTAssertThrowsError(try KerasWeightsReader.load(path: flat, specs: specs)) { error in
            XCTAssertEqual(error as? FaceNetError, .weightShapeMismatch(path: flat, layer: "prelu1", weight: "alpha",
                                                                         expected: [1, 1, 10], found: [10]))
            XCTAssertTrue(String(describing: error).contains("flat.h5"))
        }
    }
}
