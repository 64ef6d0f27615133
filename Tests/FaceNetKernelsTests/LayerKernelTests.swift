import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// Each layer's fast path against its naive reference, on odd shapes.
final class LayerKernelTests: XCTestCase {
    private func conv(_ name: String, filters: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1),
                      padding: Padding, bias: Bool = false, activation: ActivationFunction = .linear,
                      input: String = "input") -> LayerNode {
        LayerNode(name: name, className: "Conv2D",
                  kind: .conv2D(Conv2DConfig(filters: filters, kernel: kernel, strides: strides, padding: padding,
                                             useBias: bias, activation: activation)),
                  inputs: [input])
    }

    private func convWeights(_ kernel: (Int, Int), cin: Int, filters: Int, bias: Bool, seed: UInt64) -> [String: Tensor] {
        var w = ["kernel": randomTensor([kernel.0, kernel.1, cin, filters], seed: seed, range: -0.5...0.5)]
        if bias { w["bias"] = randomTensor([filters], seed: seed + 1) }
        return w
    }

    func testConv2DAllPathsMatchReference() throws {
        // (input H, W, C), kernel, strides, padding — even and odd sizes, 1×7 / 7×1, 1×1 (pointwise GEMM
        // and strided im2col), TF's asymmetric same padding on both parities.
        let cases: [([Int], (Int, Int), (Int, Int), Padding)] = [
            ([9, 8, 3], (3, 3), (1, 1), .same), ([9, 8, 3], (3, 3), (2, 2), .same),
            ([8, 8, 5], (3, 3), (2, 2), .same), ([7, 7, 5], (3, 3), (2, 2), .valid),
            ([10, 9, 4], (3, 3), (1, 1), .valid), ([8, 9, 6], (1, 7), (1, 1), .same),
            ([9, 8, 6], (7, 1), (1, 1), .same), ([6, 7, 5], (1, 1), (1, 1), .same),
            ([7, 6, 5], (1, 1), (2, 2), .valid), ([11, 10, 3], (5, 3), (2, 1), .same),
            ([6, 6, 2], (4, 4), (3, 3), .same), ([5, 5, 3], (5, 5), (1, 1), .valid),
        ]
        var worst: Float = 0
        for (i, (shape, kernel, strides, padding)) in cases.enumerated() {
            for bias in [false, true] {
                let filters = 7
                let layer = conv("conv", filters: filters, kernel: kernel, strides: strides, padding: padding,
                                 bias: bias, activation: bias ? .relu : .linear)
                let (err, mag) = try compareWithReference(
                    inputShape: [2] + shape, layers: [layer],
                    weights: ["conv": convWeights(kernel, cin: shape[2], filters: filters, bias: bias, seed: UInt64(i * 10))])
                XCTAssertLessThan(err, 1e-5 * max(1, mag), "case \(i) \(shape) k\(kernel) s\(strides) \(padding) bias \(bias)")
                XCTAssertGreaterThan(mag, 0.1, "degenerate case \(i)")
                worst = max(worst, err)
            }
        }
        print("Conv2D fast vs reference: max abs error \(worst)")
    }

    /// im2col in several chunks gives the same result as one chunk and as the reference.
    /// Valid-padding convolutions wide enough for the implicit-im2col GEMM (patches read in
    /// place): strides 1 and 2, non-square kernels, runs shorter and longer than the 256
    /// depth block, full and partial filter panels, shared by 2 threads by output rows (fewer
    /// than 32 filters where 3×3 stride 1, which would go to Winograd).
    func testImplicitGEMMMatchesReference() throws {
        let cases: [([Int], (Int, Int), (Int, Int), Int)] = [
            ([15, 17, 3], (3, 3), (1, 1), 10), ([16, 30, 5], (3, 3), (2, 2), 16), ([9, 20, 9], (1, 7), (1, 1), 20),
            ([20, 14, 12], (7, 1), (1, 1), 33), ([8, 16, 100], (3, 3), (1, 1), 31), ([7, 27, 40], (3, 3), (2, 2), 17),
        ]
        for (i, (shape, kernel, strides, filters)) in cases.enumerated() {
            let config = Conv2DConfig(filters: filters, kernel: kernel, strides: strides, padding: .valid, useBias: true,
                                      activation: .relu)
            let g = Conv2DGeometry(config: config, batch: 2, height: shape[0], width: shape[1], channels: shape[2])
            let weights = convWeights(kernel, cin: shape[2], filters: filters, bias: true, seed: UInt64(100 + i))
            let x = randomTensor([2] + shape, seed: UInt64(200 + i))
            let (_, topology, loaded) = try makeModel(inputShape: shape, layers: [
                LayerNode(name: "conv", className: "Conv2D", kind: .conv2D(config), inputs: ["input"])], weights: ["conv": weights])
            let reference = try XCTUnwrap(ReferenceExecutor.run(topology: topology, weights: loaded, inputs: ["input": x],
                                                                outputs: ["conv"])["conv"])
            for backend in GEMMBackend.available {
                let model = try Model(topology: topology, weights: loaded, options: EngineOptions(gemm: backend))
                guard case .conv2D(_, .direct(let packed), _)? = model.ops.last else { return XCTFail("no conv op") }
                XCTAssertEqual(Conv2DImplicitGEMM.applies(to: g, kernel: packed), backend == .panels, "case \(i) \(backend)")
                for threads in [1, 2] {
                    let session = try InferenceSession(model: model, inputShapes: ["input": x.shape], outputs: ["conv"],
                                                       fusion: true, threads: threads, minimumParallelFlops: 0)
                    let y = try XCTUnwrap(session.run(["input": x])["conv"])
                    let magnitude = maxMagnitude(reference.scalars)
                    XCTAssertGreaterThan(magnitude, 0.1)
                    XCTAssertLessThan(maxAbsDifference(y, reference), 1e-5 * max(1, magnitude),
                                      "case \(i) \(shape) k\(kernel) s\(strides) \(backend) \(threads) threads")
                }
            }
        }
    }

    func testIm2colChunkingMatchesReference() throws {
        let config = Conv2DConfig(filters: 6, kernel: (3, 3), strides: (2, 2), padding: .same)
        let x = randomTensor([3, 9, 11, 4], seed: 7)
        let k = randomTensor([3, 3, 4, 6], seed: 8)
        let reference = Conv2DReference.run(x, kernel: k, bias: nil, config: config)
        let g = Conv2DGeometry(config: config, batch: 3, height: 9, width: 11, channels: 4)
        for backend in GEMMBackend.available {
            let kernel = try GEMMWeights(rowMajor: k.scalars, depth: g.depth, columns: g.filters, backend: backend)
            for rowsPerChunk in [1, 5, 7, g.rows - 1, g.rows] {
                var out = [Float](repeating: .nan, count: g.rows * g.filters)
                var scratch = [Float](repeating: .nan, count: rowsPerChunk * g.depth)
                x.scalars.withUnsafeBufferPointer { xp in
                    out.withUnsafeMutableBufferPointer { op in
                        scratch.withUnsafeMutableBufferPointer { sp in
                            _ = Conv2DIm2col.run(g, input: xp.baseAddress!, kernel: kernel, output: op.baseAddress!, ldc: g.filters,
                                             scratch: sp.baseAddress!, rowsPerChunk: rowsPerChunk)
                        }
                    }
                }
                let err = maxAbsDifference(try Tensor(shape: reference.shape, scalars: out), reference)
                XCTAssertLessThan(err, 1e-5, "\(backend), rows per chunk \(rowsPerChunk)")
            }
        }
    }

    func testBatchNormalizationMatchesFormula() throws {
        for (center, scale) in [(true, false), (true, true), (false, true), (false, false)] {
            let c = 5
            var w: [String: Tensor] = [
                "moving_mean": randomTensor([c], seed: 3),
                "moving_variance": randomTensor([c], seed: 4, range: 0.2...2),
            ]
            if scale { w["gamma"] = randomTensor([c], seed: 5) }
            if center { w["beta"] = randomTensor([c], seed: 6) }
            let bn = LayerNode(name: "bn", className: "BatchNormalization",
                               kind: .batchNormalization(BatchNormConfig(center: center, scale: scale, epsilon: 0.001, axis: 3)),
                               inputs: ["input"])
            let (err, _) = try compareWithReference(inputShape: [2, 3, 7, c], layers: [bn], weights: ["bn": w])
            XCTAssertLessThan(err, 1e-5, "center \(center) scale \(scale)")
        }
    }

    func testActivationsMatchDefinitions() throws {
        for f in ActivationFunction.allCases {
            let layer = LayerNode(name: "act", className: "Activation", kind: .activation(f), inputs: ["input"])
            let (err, _) = try compareWithReference(inputShape: [2, 3, 5, 6], layers: [layer], weights: [:])
            XCTAssertLessThan(err, 1e-6, "\(f)")
        }
    }

    func testSoftmaxRowsSumToOne() throws {
        let layer = LayerNode(name: "act", className: "Activation", kind: .activation(.softmax), inputs: ["input"])
        let (model, _, _) = try makeModel(inputShape: [4, 3], layers: [layer], weights: [:])
        let y = try model.predict(randomTensor([2, 4, 3], seed: 9, range: -20...20))["act"]!
        for row in 0..<8 {
            XCTAssertEqual(y.scalars[row * 3..<row * 3 + 3].reduce(0, +), 1, accuracy: 1e-6)
        }
    }

    func testPoolingMatchesReference() throws {
        let cases: [([Int], (Int, Int), (Int, Int), Padding)] = [
            ([9, 9, 3], (3, 3), (2, 2), .valid), ([8, 8, 3], (3, 3), (2, 2), .same),
            ([9, 8, 4], (3, 3), (2, 2), .same), ([7, 6, 2], (3, 3), (1, 1), .same),
            ([6, 7, 2], (2, 2), (2, 2), .valid), ([5, 5, 3], (3, 2), (1, 2), .same),
        ]
        for (i, (shape, pool, strides, padding)) in cases.enumerated() {
            for average in [false, true] {
                let config = Pool2DConfig(pool: pool, strides: strides, padding: padding)
                let layer = LayerNode(name: "pool", className: average ? "AveragePooling2D" : "MaxPooling2D",
                                      kind: average ? .averagePooling2D(config) : .maxPooling2D(config), inputs: ["input"])
                let (err, _) = try compareWithReference(inputShape: [2] + shape, layers: [layer], weights: [:])
                XCTAssertLessThan(err, 1e-6, "case \(i) average \(average)")
            }
        }
    }

    func testGlobalAveragePoolingMatchesReference() throws {
        for keep in [false, true] {
            let layer = LayerNode(name: "gap", className: "GlobalAveragePooling2D",
                                  kind: .globalAveragePooling2D(keepDims: keep), inputs: ["input"])
            let (err, _) = try compareWithReference(inputShape: [3, 5, 7, 6], layers: [layer], weights: [:])
            XCTAssertLessThan(err, 1e-6)
        }
    }

    /// Branches of different kernels concatenated on channels, and on width.
    func testConcatenateMatchesReference() throws {
        let a = conv("a", filters: 3, kernel: (1, 1), padding: .same)
        let b = conv("b", filters: 5, kernel: (3, 3), padding: .same)
        let c = conv("c", filters: 4, kernel: (1, 3), padding: .same)
        let channels = LayerNode(name: "cat", className: "Concatenate", kind: .concatenate(axis: 3), inputs: ["a", "b", "c"])
        let last = LayerNode(name: "cat_last", className: "Concatenate", kind: .concatenate(axis: -1), inputs: ["c", "a"])
        let width = LayerNode(name: "cat_w", className: "Concatenate", kind: .concatenate(axis: 2), inputs: ["a", "input"])
        let weights: [String: [String: Tensor]] = [
            "a": convWeights((1, 1), cin: 3, filters: 3, bias: false, seed: 1),
            "b": convWeights((3, 3), cin: 3, filters: 5, bias: false, seed: 2),
            "c": convWeights((1, 3), cin: 3, filters: 4, bias: false, seed: 3),
        ]
        let (err, _) = try compareWithReference(inputShape: [2, 5, 6, 3], layers: [a, b, c, channels, last, width], weights: weights)
        XCTAssertLessThan(err, 1e-5)
    }

    /// A residual tail as FaceNet has it: up-projection with bias, Lambda scale, Add (2 and 3
    /// inputs), Dropout, global pooling, Dense with bias and ReLU.
    func testResidualScaleAddDropoutDenseMatchReference() throws {
        let up = conv("up", filters: 4, kernel: (1, 1), padding: .same, bias: true)
        let scaled = LayerNode(name: "scaled", className: "Lambda", kind: .scale(0.17), inputs: ["up"])
        let add = LayerNode(name: "add", className: "Add", kind: .add, inputs: ["input", "scaled"])
        let add3 = LayerNode(name: "add3", className: "Add", kind: .add, inputs: ["input", "scaled", "add"])
        let drop = LayerNode(name: "drop", className: "Dropout", kind: .dropout, inputs: ["add3"])
        let gap = LayerNode(name: "gap", className: "GlobalAveragePooling2D", kind: .globalAveragePooling2D(keepDims: false), inputs: ["drop"])
        let dense = LayerNode(name: "dense", className: "Dense",
                              kind: .dense(DenseConfig(units: 6, useBias: true, activation: .relu)), inputs: ["gap"])
        let weights: [String: [String: Tensor]] = [
            "up": convWeights((1, 1), cin: 4, filters: 4, bias: true, seed: 9),
            "dense": ["kernel": randomTensor([4, 6], seed: 5), "bias": randomTensor([6], seed: 6)],
        ]
        let (err, _) = try compareWithReference(inputShape: [3, 5, 6, 4], layers: [up, scaled, add, add3, drop, gap, dense],
                                                weights: weights)
        XCTAssertLessThan(err, 1e-5)
    }

    // The fused chains, requested so that they do fuse (`expectedFusedSteps` holds the plan to
    // it): each fused run is compared with the reference executor, layer by layer unfused.

    /// A BatchNorm as FaceNet's (center, no scale), or with gamma when `scale`.
    private func batchNorm(_ name: String, input: String, scale: Bool = false) -> LayerNode {
        LayerNode(name: name, className: "BatchNormalization",
                  kind: .batchNormalization(BatchNormConfig(center: true, scale: scale, epsilon: 0.001, axis: 3)), inputs: [input])
    }

    private func batchNormWeights(_ c: Int, seed: UInt64, scale: Bool = false) -> [String: Tensor] {
        var w = ["beta": randomTensor([c], seed: seed), "moving_mean": randomTensor([c], seed: seed + 1),
                 "moving_variance": randomTensor([c], seed: seed + 2, range: 0.2...2)]
        if scale { w["gamma"] = randomTensor([c], seed: seed + 3, range: 0.5...2) }
        return w
    }

    /// Conv → BatchNorm → ReLU, as FaceNet has it (no conv bias) and with a bias (folded
    /// through the BN scale): one GEMM with a scale/shift epilogue, on every conv path
    /// (pointwise, im2col, implicit GEMM, Winograd F(2×2)/F(4×4)/F(2, 7)).
    func testConvBatchNormReLUFusedMatchesReference() throws {
        let cases: [([Int], (Int, Int), (Int, Int), Padding, Int)] = [
            ([9, 8, 5], (1, 1), (1, 1), .same, 7), ([9, 8, 5], (3, 3), (2, 2), .same, 7),
            ([12, 20, 3], (3, 3), (1, 1), .valid, 10), ([11, 13, 32], (3, 3), (1, 1), .same, 33),
            ([18, 17, 32], (3, 3), (1, 1), .same, 40), ([9, 8, 40], (1, 7), (1, 1), .same, 36),
            ([8, 9, 40], (7, 1), (1, 1), .same, 36),
        ]
        for (i, (shape, kernel, strides, padding, filters)) in cases.enumerated() {
          for bias in [false, true] {
            let layers = [conv("conv", filters: filters, kernel: kernel, strides: strides, padding: padding, bias: bias),
                          batchNorm("bn", input: "conv", scale: bias),
                          LayerNode(name: "relu", className: "Activation", kind: .activation(.relu), inputs: ["bn"])]
            let weights = ["conv": convWeights(kernel, cin: shape[2], filters: filters, bias: bias, seed: UInt64(300 + i)),
                           "bn": batchNormWeights(filters, seed: UInt64(400 + i), scale: bias)]
            let (err, mag) = try compareWithReference(inputShape: [2] + shape, layers: layers, weights: weights,
                                                      expectedFusedSteps: 1)
            XCTAssertLessThan(err, 2e-5 * max(1, mag), "case \(i) \(shape) k\(kernel) s\(strides) \(padding) bias \(bias)")
            XCTAssertGreaterThan(mag, 0.1, "degenerate case \(i)")
          }
        }
    }

    /// Inception-ResNet's residual: branch → up-projection with bias → Lambda(scale) → Add
    /// (shortcut first or second) → ReLU, fused into one accumulating GEMM onto the shortcut
    /// (alpha = scale, shift = scale · bias), pointwise and 3×3 (Winograd) up-projections.
    func testResidualUpProjectionScaleAddReLUFusedMatchesReference() throws {
        for (i, (kernel, channels, shortcutFirst)) in [((1, 1), 6, true), ((1, 1), 6, false), ((3, 3), 36, true)].enumerated() {
            let layers = [
                conv("branch", filters: 5, kernel: (1, 1), padding: .same, activation: .relu),
                conv("up", filters: channels, kernel: kernel, padding: .same, bias: true, input: "branch"),
                LayerNode(name: "scaled", className: "Lambda", kind: .scale(0.17), inputs: ["up"]),
                LayerNode(name: "sum", className: "Add", kind: .add, inputs: shortcutFirst ? ["input", "scaled"] : ["scaled", "input"]),
                LayerNode(name: "relu", className: "Activation", kind: .activation(.relu), inputs: ["sum"]),
            ]
            var up = convWeights(kernel, cin: 5, filters: channels, bias: true, seed: UInt64(500 + i))
            up["bias"] = randomTensor([channels], seed: UInt64(510 + i), range: 1...3)  // large, so its scaling shows
            let weights = ["branch": convWeights((1, 1), cin: channels, filters: 5, bias: true, seed: UInt64(520 + i)), "up": up]
            let (err, mag) = try compareWithReference(inputShape: [2, 9, 7, channels], layers: layers, weights: weights,
                                                      expectedFusedSteps: 2)
            XCTAssertLessThan(err, 2e-5 * max(1, mag), "case \(i) kernel \(kernel) shortcut first \(shortcutFirst)")
        }
    }

    /// Branches written straight into their channel slices of the Concatenate (conv with BN
    /// and ReLU, a 3×3 conv, a max pool), then a conv that reads the whole concatenation.
    func testConcatenationSlicesFusedMatchesReference() throws {
        let pool = Pool2DConfig(pool: (3, 3), strides: (1, 1), padding: .same)
        let layers = [
            conv("a", filters: 3, kernel: (1, 1), padding: .same),
            batchNorm("a_bn", input: "a"),
            LayerNode(name: "a_relu", className: "Activation", kind: .activation(.relu), inputs: ["a_bn"]),
            conv("b", filters: 5, kernel: (3, 3), padding: .same, bias: true, activation: .relu),
            LayerNode(name: "c", className: "MaxPooling2D", kind: .maxPooling2D(pool), inputs: ["input"]),
            LayerNode(name: "cat", className: "Concatenate", kind: .concatenate(axis: 3), inputs: ["a_relu", "b", "c"]),
            conv("after", filters: 4, kernel: (1, 1), padding: .same, bias: true, input: "cat"),
        ]
        let weights: [String: [String: Tensor]] = [
            "a": convWeights((1, 1), cin: 4, filters: 3, bias: false, seed: 601), "a_bn": batchNormWeights(3, seed: 602),
            "b": convWeights((3, 3), cin: 4, filters: 5, bias: true, seed: 603),
            "after": convWeights((1, 1), cin: 12, filters: 4, bias: true, seed: 604),
        ]
        // a (BN and ReLU folded), b and c, each into its slice; the concatenation's step, which
        // copies only inputs not written in place (none here); then `after`.
        let (err, mag) = try compareWithReference(inputShape: [2, 7, 9, 4], layers: layers, weights: weights, expectedFusedSteps: 5)
        XCTAssertLessThan(err, 1e-5 * max(1, mag))
    }

    /// Pointwise convs that read one input and fit one panel together run as one GEMM
    /// (`SiblingGroup`), each with its own epilogue, one of them into a concatenation slice.
    func testSiblingPointwiseGroupFusedMatchesReference() throws {
        let layers = [
            conv("s1", filters: 4, kernel: (1, 1), padding: .same, bias: true, activation: .relu),
            conv("s2", filters: 6, kernel: (1, 1), padding: .same),
            batchNorm("s2_bn", input: "s2"),
            conv("s3", filters: 2, kernel: (1, 1), padding: .same, bias: true),
            LayerNode(name: "cat", className: "Concatenate", kind: .concatenate(axis: 3), inputs: ["s1", "s2_bn"]),
        ]
        let weights: [String: [String: Tensor]] = [
            "s1": convWeights((1, 1), cin: 5, filters: 4, bias: true, seed: 701),
            "s2": convWeights((1, 1), cin: 5, filters: 6, bias: false, seed: 702), "s2_bn": batchNormWeights(6, seed: 703),
            "s3": convWeights((1, 1), cin: 5, filters: 2, bias: true, seed: 704),
        ]
        // One GEMM for the three siblings (s2's BN folded), then the concatenation's step.
        let (err, mag) = try compareWithReference(inputShape: [3, 6, 5, 5], layers: layers, weights: weights, expectedFusedSteps: 2)
        XCTAssertLessThan(err, 1e-5 * max(1, mag))
    }
}

/// Winograd F(2×2, 3×3), F(4×4, 3×3) and F(2, 7) (1×7, 7×1) against the direct reference.
final class WinogradTests: XCTestCase {
    /// Runs with the panel GEMM where this CPU has it (else OpenBLAS), or with `backend`.
    private func run(_ g: Conv2DGeometry, tile: WinogradTile, x: Tensor, k: Tensor, scratchLimit: Int, ldc: Int? = nil,
                     epilogue: Epilogue = Epilogue(), prefill: Float = .nan, backend: GEMMBackend = .automatic,
                     tuning: ConvolutionTuning = .default) throws -> [Float] {
        let u = try GEMMWeights(rowMajor: Conv2DWinograd.transformKernel(k.scalars, inChannels: g.inChannels, filters: g.filters,
                                                                     tile: tile),
                            depth: g.inChannels, columns: g.filters, count: tile.positions, backend: backend)
        let stride = ldc ?? g.filters
        var out = [Float](repeating: prefill, count: g.rows * stride)
        var scratch = [Float](repeating: .nan, count: Conv2DWinograd.scratchCount(g, tile, scratchLimit: scratchLimit,
                                                                                             tuning: tuning))
        x.scalars.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                scratch.withUnsafeMutableBufferPointer { sp in
                    Conv2DWinograd.run(g, tile: tile, input: xp.baseAddress!, u: u, output: op.baseAddress!, ldc: stride,
                                       epilogue: epilogue, scratch: sp.baseAddress!, scratchLimit: scratchLimit, tuning: tuning)
                }
            }
        }
        return out
    }

    /// Sizes that leave partial tiles of every width for both tile sizes; channel counts
    /// below, at and above the 8-lane groups of the transforms.
    func testMatchesReferenceOnOddAndEvenSizes() throws {
        let cases: [(Int, Int, Padding, Int, Int)] = [(9, 8, .same, 4, 5), (8, 8, .same, 8, 8), (7, 9, .valid, 11, 17),
                                                      (6, 5, .valid, 4, 5), (3, 3, .same, 4, 5), (5, 4, .same, 9, 3),
                                                      (11, 10, .same, 16, 24), (14, 13, .valid, 3, 7)]
        for (i, (h, w, padding, cin, filters)) in cases.enumerated() {
            let config = Conv2DConfig(filters: filters, kernel: (3, 3), padding: padding)
            let x = randomTensor([2, h, w, cin], seed: UInt64(10 + i))
            let k = randomTensor([3, 3, cin, filters], seed: UInt64(20 + i))
            let g = Conv2DGeometry(config: config, batch: 2, height: h, width: w, channels: cin)
            let reference = Conv2DReference.run(x, kernel: k, bias: nil, config: config)
            let scale = max(1, maxMagnitude(reference.scalars))
            for tile in WinogradTile.allCases where tile.kernel == (3, 3) {
                // One chunk, and chunks of a few tiles.
                for limit in [1 << 20, tile.positions * 3 * (cin + filters)] {
                    for backend in GEMMBackend.available {
                        let out = try run(g, tile: tile, x: x, k: k, scratchLimit: limit, backend: backend)
                        let err = maxAbsDifference(try Tensor(shape: reference.shape, scalars: out), reference)
                        // F(4×4)'s transform constants (up to 8 and 1/24) cost about a decimal digit.
                        XCTAssertLessThan(err, (tile == .f2x2 ? 1e-6 : 4e-6) * scale,
                                          "\(h)x\(w)x\(cin)->\(filters) \(padding) \(tile) limit \(limit) \(backend)")
                    }
                }
            }
        }
    }

    /// F(2, 7) along rows (1×7) and columns (7×1): sizes that leave a partial tile at the end
    /// of a row or column, both paddings, channel counts off the 8-lane groups.
    func testOneDimensionalMatchesReference() throws {
        let cases: [(Int, Int, Padding, Int, Int)] = [(8, 8, .same, 8, 16), (9, 7, .same, 5, 12), (7, 11, .valid, 9, 3),
                                                      (11, 7, .valid, 17, 8), (3, 4, .same, 4, 5)]
        for (i, (h, w, padding, cin, filters)) in cases.enumerated() {
            for tile in [WinogradTile.rowF2x7, .columnF2x7] {
                let config = Conv2DConfig(filters: filters, kernel: tile.kernel, padding: padding)
                let g = Conv2DGeometry(config: config, batch: 2, height: h, width: w, channels: cin)
                guard g.outHeight > 0, g.outWidth > 0 else { continue }
                let x = randomTensor([2, h, w, cin], seed: UInt64(40 + i))
                let k = randomTensor([tile.kernel.height, tile.kernel.width, cin, filters], seed: UInt64(60 + i))
                let reference = Conv2DReference.run(x, kernel: k, bias: nil, config: config)
                let scale = max(1, maxMagnitude(reference.scalars))
                for limit in [1 << 20, tile.positions * 3 * (cin + filters)] {
                    for backend in GEMMBackend.available {
                        let out = try run(g, tile: tile, x: x, k: k, scratchLimit: limit, backend: backend)
                        let err = maxAbsDifference(try Tensor(shape: reference.shape, scalars: out), reference)
                        XCTAssertLessThan(err, 4e-6 * scale, "\(h)x\(w)x\(cin)->\(filters) \(padding) \(tile) limit \(limit) \(backend)")
                    }
                }
            }
        }
    }

    /// F(4×4) on FaceNet-like magnitudes and depth (K = 192): its larger transform constants
    /// must stay well inside the golden tolerance.
    func testLargeTileErrorOnDeepInput() throws {
        let config = Conv2DConfig(filters: 16, kernel: (3, 3), padding: .same)
        let x = randomTensor([1, 17, 17, 192], seed: 7, range: 0...4)
        let k = randomTensor([3, 3, 192, 16], seed: 8, range: -0.1...0.1)
        let g = Conv2DGeometry(config: config, batch: 1, height: 17, width: 17, channels: 192)
        let reference = Conv2DReference.run(x, kernel: k, bias: nil, config: config)
        let scale = maxMagnitude(reference.scalars)
        for tile in [WinogradTile.f2x2, .f4x4] {
            let out = try run(g, tile: tile, x: x, k: k, scratchLimit: 1 << 20)
            let err = maxAbsDifference(try Tensor(shape: reference.shape, scalars: out), reference)
            // Measured: F(2×2) 1e-6, F(4×4) 4.6e-6 of the largest output.
            XCTAssertLessThan(err / scale, tile == .f2x2 ? 2e-6 : 1e-5, "\(tile): max abs error \(err) on outputs up to \(scale)")
        }
        // F(2, 7) on Block17's shape (8×8×128, K = 896).
        for tile in [WinogradTile.rowF2x7, .columnF2x7] {
            let config = Conv2DConfig(filters: 16, kernel: tile.kernel, padding: .same)
            let x = randomTensor([1, 8, 8, 128], seed: 9, range: 0...4)
            let k = randomTensor([tile.kernel.height, tile.kernel.width, 128, 16], seed: 10, range: -0.1...0.1)
            let g = Conv2DGeometry(config: config, batch: 1, height: 8, width: 8, channels: 128)
            let reference = Conv2DReference.run(x, kernel: k, bias: nil, config: config)
            let scale = maxMagnitude(reference.scalars)
            let err = maxAbsDifference(try Tensor(shape: reference.shape, scalars: try run(g, tile: tile, x: x, k: k, scratchLimit: 1 << 20)),
                                       reference)
            XCTAssertLessThan(err / scale, 1e-5, "\(tile): max abs error \(err) on outputs up to \(scale)")
        }
    }

    /// The variant chosen at load: F(4×4) with enough tiles per image, F(2×2) below that or
    /// when the input size is not known.
    func testTileChoice() {
        let config = Conv2DConfig(filters: 64, kernel: (3, 3), padding: .same)
        XCTAssertEqual(Conv2DWinograd.tile(config: config, inChannels: 32, height: 17, width: 17, policy: .default), .f4x4)
        XCTAssertEqual(Conv2DWinograd.tile(config: config, inChannels: 32, height: 8, width: 8, policy: .default), .f2x2)
        XCTAssertEqual(Conv2DWinograd.tile(config: config, inChannels: 32, height: nil, width: 40, policy: .default), .f2x2)
        XCTAssertNil(Conv2DWinograd.tile(config: config, inChannels: 16, height: 17, width: 17, policy: .default), "too few input channels")
        XCTAssertNil(Conv2DWinograd.tile(config: Conv2DConfig(filters: 64, kernel: (3, 3), strides: (2, 2), padding: .valid),
                                         inChannels: 32, height: 17, width: 17, policy: .default), "stride 2")
        XCTAssertEqual(Conv2DWinograd.tile(config: Conv2DConfig(filters: 128, kernel: (1, 7), padding: .same),
                                           inChannels: 128, height: 8, width: 8, policy: .default), .rowF2x7)
        XCTAssertEqual(Conv2DWinograd.tile(config: Conv2DConfig(filters: 128, kernel: (7, 1), padding: .same),
                                           inChannels: 128, height: 8, width: 8, policy: .default), .columnF2x7)
        XCTAssertNil(Conv2DWinograd.tile(config: Conv2DConfig(filters: 128, kernel: (1, 3), padding: .same),
                                         inChannels: 128, height: 8, width: 8, policy: .default), "1×3 stays direct")
    }

    /// Into a channel slice (ldc > filters) with an accumulating, scaled, activated epilogue.
    func testSliceAndEpilogue() throws {
        let x = randomTensor([1, 5, 7, 2], seed: 1)
        let epilogue = Epilogue(alpha: 0.5, accumulate: true, scale: nil, shift: [0.1, -0.2, 0.3], activation: .relu)
        for tile in WinogradTile.allCases {
            let config = Conv2DConfig(filters: 3, kernel: tile.kernel, padding: .same)
            let k = randomTensor([tile.kernel.height, tile.kernel.width, 2, 3], seed: 2)
            let g = Conv2DGeometry(config: config, batch: 1, height: 5, width: 7, channels: 2)
            let reference = Conv2DReference.run(x, kernel: k, bias: nil, config: config)
            let out = try run(g, tile: tile, x: x, k: k, scratchLimit: 1 << 20, ldc: 5, epilogue: epilogue, prefill: 1)
            for r in 0..<g.rows {
                for c in 0..<3 {
                    let expected = max(0, 1 + 0.5 * reference.scalars[r * 3 + c] + [0.1, -0.2, 0.3][c])
                    XCTAssertEqual(out[r * 5 + c], expected, accuracy: 1e-5, "\(tile)")
                }
                XCTAssertEqual(out[r * 5 + 3], 1, "\(tile)")
                XCTAssertEqual(out[r * 5 + 4], 1, "\(tile)")
            }
        }
    }
}
