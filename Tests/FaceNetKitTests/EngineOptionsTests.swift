import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
import FaceNetTestSupport
@testable import FaceNetTools

/// `EngineOptions`: every setting varied in one process, each run against the reference
/// executor and against the defaults; where options go (model, session, detector, facade);
/// what is refused.
final class EngineOptionsTests: XCTestCase {
    /// A network with one convolution per kernel path: Winograd 3×3 (F(4×4) by default: 7×7
    /// tiles of 4×4 per image), F(2, 7) row and column, a valid stride-2 conv the implicit GEMM
    /// takes (panels), a same-padded 16-filter conv that stays im2col (288 rows: two chunks
    /// at the 256-row floor), a pointwise conv, and a dense layer.
    private static let layers: [LayerNode] = [
        LayerNode(name: "c1", className: "Conv2D",
                  kind: .conv2D(Conv2DConfig(filters: 32, kernel: (3, 3), padding: .same, useBias: true, activation: .relu)),
                  inputs: ["input"]),
        LayerNode(name: "c2", className: "Conv2D",
                  kind: .conv2D(Conv2DConfig(filters: 32, kernel: (1, 7), padding: .same, useBias: true)), inputs: ["c1"]),
        LayerNode(name: "c3", className: "Conv2D",
                  kind: .conv2D(Conv2DConfig(filters: 32, kernel: (7, 1), padding: .same, useBias: true, activation: .relu)),
                  inputs: ["c2"]),
        LayerNode(name: "c4", className: "Conv2D",
                  kind: .conv2D(Conv2DConfig(filters: 24, kernel: (3, 3), strides: (2, 2), padding: .valid, useBias: true,
                                             activation: .relu)),
                  inputs: ["c3"]),
        LayerNode(name: "c5", className: "Conv2D",
                  kind: .conv2D(Conv2DConfig(filters: 16, kernel: (3, 3), padding: .same, useBias: true, activation: .relu)),
                  inputs: ["c4"]),
        LayerNode(name: "c6", className: "Conv2D",
                  kind: .conv2D(Conv2DConfig(filters: 32, kernel: (1, 1), padding: .same, useBias: true)), inputs: ["c5"]),
        LayerNode(name: "gap", className: "GlobalAveragePooling2D", kind: .globalAveragePooling2D(keepDims: false), inputs: ["c6"]),
        LayerNode(name: "dense", className: "Dense", kind: .dense(DenseConfig(units: 10, useBias: true)), inputs: ["gap"]),
    ]

    private static func weights() -> [String: [String: Tensor]] {
        var weights: [String: [String: Tensor]] = [:]
        var cin = 32, seed: UInt64 = 10
        for layer in layers {
            seed += 2
            switch layer.kind {
            case .conv2D(let c):
                weights[layer.name] = ["kernel": randomTensor([c.kernel.height, c.kernel.width, cin, c.filters], seed: seed,
                                                              range: -0.15...0.15),
                                       "bias": randomTensor([c.filters], seed: seed + 1, range: -0.1...0.1)]
                cin = c.filters
            case .dense(let d):
                weights[layer.name] = ["kernel": randomTensor([cin, d.units], seed: seed), "bias": randomTensor([d.units], seed: seed + 1)]
            default:
                break
            }
        }
        return weights
    }

    private static let sampleShape = [26, 26, 32]
    private static let requested = ["c3", "c5", "dense"]

    /// The variants compared: one setting at a time, then several together.
    private static var variants: [(String, EngineOptions)] {
        var list: [(String, EngineOptions)] = [("default", .default)]
        func variant(_ label: String, _ change: (inout EngineOptions) -> Void) {
            var options = EngineOptions.default
            change(&options)
            list.append((label, options))
        }
        variant("winograd off") { $0.winograd = .off }
        variant("winograd F(2×2)") { $0.winograd.tile = .f2x2 }
        variant("winograd F(4×4)") { $0.winograd.tile = .f4x4 }
        variant("no F(2, 7)") { $0.winograd.oneDimensional = false }
        variant("winograd from 64 filters") { $0.winograd.minimumFilters = 64 }
        variant("implicit GEMM off") { $0.implicitGEMM = false }
        variant("im2col chunk floor") { $0.im2colChunkFloats = 0 }
        variant("one tile per Winograd chunk") {
            $0.winogradChunkFloats = 0
            $0.winogradMinimumChunkTiles = 1
        }
        variant("1 thread") { $0.threads = 1 }
        variant("2 threads, every conv shared, no spinning") {
            $0.threads = 2
            $0.parallelFlops = 0
            $0.teamSpinLimit = 0
        }
        variant("3 threads, F(2×2), tiny chunks") {
            $0.threads = 3
            $0.parallelFlops = 0
            $0.winograd.tile = .f2x2
            $0.winogradChunkFloats = 1
            $0.winogradMinimumChunkTiles = 2
            $0.im2colChunkFloats = 1
        }
        return list
    }

    /// Every variant on every GEMM backend this machine has, in one process: within float
    /// rounding of the reference executor and of the default options' results; and each
    /// setting visibly took effect (weights' form, backend, the session's options).
    func testEveryVariantMatchesReferenceAndDefaults() throws {
        let (_, topology, loaded) = try makeModel(inputShape: Self.sampleShape.map { $0 }, layers: Self.layers,
                                                  weights: Self.weights())
        let x = randomTensor([2] + Self.sampleShape, seed: 3)
        let reference = try ReferenceExecutor.run(topology: topology, weights: loaded, inputs: ["input": x], outputs: Self.requested)
        var baseline: [String: Tensor]?
        for backend in GEMMBackend.available {
            for (label, variant) in Self.variants {
                var options = variant
                options.gemm = backend
                let model = try Model(topology: topology, weights: loaded, options: options)
                XCTAssertEqual(model.options, options)
                try checkWeightsForm(model, options, label: "\(label) [\(backend)]")
                let session = try InferenceSession(model: model, inputShapes: ["input": x.shape], outputs: Self.requested)
                XCTAssertEqual(session.options.threads, options.resolvedThreads, label)
                XCTAssertEqual(session.threads, options.resolvedThreads, label)
                XCTAssertEqual(session.options.im2colChunkFloats, options.im2colChunkFloats, label)
                // Twice: the second run finds the buffers full of the first run's values.
                _ = try session.run(["input": x])
                let outputs = try session.run(["input": x])
                for name in Self.requested {
                    let y = try XCTUnwrap(outputs[name]), r = try XCTUnwrap(reference[name])
                    let magnitude = maxMagnitude(r.scalars)
                    XCTAssertGreaterThan(magnitude, 0.1, "\(name): degenerate reference")
                    XCTAssertLessThanOrEqual(maxAbsDifference(y, r), 2e-5 * max(1, magnitude),
                                             "\(label) [\(backend)] \(name) vs the reference executor")
                    if let baseline {
                        XCTAssertLessThanOrEqual(maxAbsDifference(y, try XCTUnwrap(baseline[name])), 2e-5 * max(1, magnitude),
                                                 "\(label) [\(backend)] \(name) vs the default options")
                    }
                }
                if baseline == nil { baseline = outputs }
            }
        }
    }

    /// The form the options gave each conv's weights: backend, Winograd or direct, the tile.
    private func checkWeightsForm(_ model: Model, _ options: EngineOptions, label: String) throws {
        var tiles: [String: WinogradTile?] = [:]
        for (index, layer) in model.topology.layers.enumerated() {
            switch model.ops[index] {
            case .conv2D(_, let weights, _):
                XCTAssertEqual(weights.gemm.backend, options.gemm, "\(label) \(layer.name): backend")
                tiles[layer.name] = weights.winogradTile
            case .dense(_, let kernel, _):
                XCTAssertEqual(kernel.backend, options.gemm, "\(label) \(layer.name): backend")
            default:
                break
            }
        }
        let policy = options.winograd
        let threeByThree: WinogradTile? = !policy.enabled || policy.minimumFilters > 32 ? nil
            : policy.tile == .f2x2 ? .f2x2 : .f4x4  // 26×26: 49 F(4×4) tiles per image, so automatic is F(4×4)
        XCTAssertEqual(tiles["c1"] ?? nil, threeByThree, "\(label) c1")
        let oneDimensional = policy.enabled && policy.oneDimensional && policy.minimumFilters <= 32
        XCTAssertEqual(tiles["c2"] ?? nil, oneDimensional ? .rowF2x7 : nil, "\(label) c2")
        XCTAssertEqual(tiles["c3"] ?? nil, oneDimensional ? .columnF2x7 : nil, "\(label) c3")
        for name in ["c4", "c5", "c6"] { XCTAssertEqual(tiles[name] ?? nil, nil, "\(label) \(name) stays direct") }
        // The implicit GEMM takes c4 (valid, 12 outputs wide) on the panel kernel only.
        let c4 = try XCTUnwrap(model.topology.layers.firstIndex { $0.name == "c4" })
        guard case .conv2D(let config, .direct(let kernel), _) = model.ops[c4] else { return XCTFail("\(label): c4 not direct") }
        let g = Conv2DGeometry(config: config, batch: 2, height: 26, width: 26, channels: 32)
        XCTAssertEqual(Conv2DImplicitGEMM.applies(to: g, kernel: kernel), options.gemm == .panels, label)
    }

    /// A session takes its model's options unless given others; `gemm` and `winograd` stay
    /// the model's (the weights are packed); `threads:` wins over `options.threads`.
    func testSessionsTakeTheModelsOptionsUnlessGivenOthers() throws {
        let (_, topology, loaded) = try makeModel(inputShape: Self.sampleShape.map { $0 }, layers: Self.layers,
                                                  weights: Self.weights())
        var modelOptions = EngineOptions(threads: 1, gemm: .openBLAS, winograd: .off, im2colChunkFloats: 1000, parallelFlops: 5)
        modelOptions.teamSpinLimit = 7
        let model = try Model(topology: topology, weights: loaded, options: modelOptions)
        let shapes = ["input": [1] + Self.sampleShape]

        let inherited = try InferenceSession(model: model, inputShapes: shapes, outputs: ["dense"])
        XCTAssertEqual(inherited.options, modelOptions)
        XCTAssertEqual(inherited.threads, 1)
        XCTAssertEqual(try model.predict(randomTensor([1] + Self.sampleShape, seed: 1))["dense"]?.shape, [1, 10])

        let given = try InferenceSession(model: model, inputShapes: shapes, outputs: ["dense"],
                                         options: EngineOptions(threads: 2, gemm: .automatic, winograd: .default,
                                                                implicitGEMM: false, parallelFlops: 0))
        XCTAssertEqual(given.options.gemm, .openBLAS, "the model's backend: its weights are packed for it")
        XCTAssertEqual(given.options.winograd, .off, "the model's Winograd policy")
        XCTAssertEqual(given.options.implicitGEMM, false)
        XCTAssertEqual(given.options.parallelFlops, 0)
        XCTAssertEqual(given.options.im2colChunkFloats, EngineOptions.default.im2colChunkFloats)
        XCTAssertEqual(given.threads, 2)

        let overridden = try InferenceSession(model: model, inputShapes: shapes, outputs: ["dense"], threads: 3,
                                              options: EngineOptions(threads: 2))
        XCTAssertEqual(overridden.threads, 3)
        XCTAssertEqual(overridden.options.threads, 3)

        let defaultThreads = try InferenceSession(model: model, inputShapes: shapes, outputs: ["dense"], options: .default)
        XCTAssertEqual(defaultThreads.threads, EngineOptions.defaultThreads)
        XCTAssertEqual(InferenceSession.defaultThreads, EngineOptions.defaultThreads)
    }

    /// The defaults are the values the engine was tuned with (Docs/performance.md); no
    /// environment variable changes them.
    func testDefaultsAreTheTunedValues() {
        let d = EngineOptions.default
        XCTAssertNil(d.threads)
        XCTAssertEqual(d.gemm, GEMMBackend.automatic)
        XCTAssertEqual(GEMMBackend.automatic, GEMMBackend.available.first)
        XCTAssertEqual(d.winograd, WinogradPolicy(enabled: true, oneDimensional: true, tile: .automatic, minimumFilters: 32))
        XCTAssertTrue(d.implicitGEMM)
        XCTAssertEqual(d.im2colChunkFloats, 65_536)
        XCTAssertEqual(d.winogradChunkFloats, 262_144)
        XCTAssertEqual(d.winogradMinimumChunkTiles, 48)
        XCTAssertEqual(d.parallelFlops, 4_000_000)
        XCTAssertEqual(d.teamSpinLimit, 20_000)
        XCTAssertEqual(ConvolutionTuning.default, ConvolutionTuning(d))
        XCTAssertNoThrow(try d.validate())
    }

    /// Values out of range are the user's mistake: `invalidArgument`, naming the field.
    func testOutOfRangeOptionsAreRefused() throws {
        let (_, topology, loaded) = try makeModel(inputShape: Self.sampleShape.map { $0 }, layers: Self.layers,
                                                  weights: Self.weights())
        func refused(_ options: EngineOptions, naming field: String, line: UInt = #line) {
            XCTAssertThrowsError(try Model(topology: topology, weights: loaded, options: options), line: line) { error in
                guard case FaceNetError.invalidArgument(let reason) = error else {
                    return XCTFail("expected invalidArgument, got \(error)", line: line)
                }
                XCTAssertTrue(reason.contains(field), "\(reason) should name \(field)", line: line)
            }
        }
        refused(EngineOptions(threads: 0), naming: "threads")
        refused(EngineOptions(im2colChunkFloats: -1), naming: "im2colChunkFloats")
        refused(EngineOptions(winogradChunkFloats: -5), naming: "winogradChunkFloats")
        refused(EngineOptions(winogradMinimumChunkTiles: -1), naming: "winogradMinimumChunkTiles")
        refused(EngineOptions(winograd: WinogradPolicy(minimumFilters: -1)), naming: "minimumFilters")
        refused(EngineOptions(parallelFlops: -1), naming: "parallelFlops")
        refused(EngineOptions(teamSpinLimit: -1), naming: "teamSpinLimit")
        if !GEMMBackend.available.contains(.panels) { refused(EngineOptions(gemm: .panels), naming: "gemm") }
        // Sessions check what they read too.
        let model = try Model(topology: topology, weights: loaded)
        XCTAssertThrowsError(try InferenceSession(model: model, inputShapes: ["input": [1] + Self.sampleShape], outputs: ["dense"],
                                                  options: EngineOptions(parallelFlops: -1)))
        XCTAssertThrowsError(try InferenceSession(model: model, inputShapes: ["input": [1] + Self.sampleShape], outputs: ["dense"],
                                                  threads: 0))
    }

    /// MTCNN with its own engine options (one thread, OpenBLAS, no Winograd) finds the same
    /// faces as with the defaults; the options reach its three networks.
    func testDetectorTakesEngineOptions() throws {
        let directory = Paths.packageRoot.appendingPathComponent("Weights/mtcnn").path
        let options = EngineOptions(threads: 1, gemm: .openBLAS, winograd: .off, implicitGEMM: false, im2colChunkFloats: 0)
        let plain = try MTCNN(directory: directory)
        let varied = try MTCNN(directory: directory, engineOptions: options)
        XCTAssertEqual(varied.models.map(\.options), [options, options, options])
        XCTAssertEqual(plain.models.map(\.options), [.default, .default, .default])
        let image = try ImageDecoder.decode(path: Paths.packageRoot.appendingPathComponent("Docs/samples/img5.jpg").path)
        let a = try plain.detect(image), b = try varied.detect(image)
        XCTAssertEqual(a.count, b.count)
        XCTAssertFalse(a.isEmpty)
        for (p, q) in zip(a, b) {
            XCTAssertEqual(p.confidence, q.confidence, accuracy: 1e-4)
            for (u, v) in zip([p.box.x1, p.box.y1, p.box.x2, p.box.y2], [q.box.x1, q.box.y1, q.box.x2, q.box.y2]) {
                XCTAssertEqual(u, v, accuracy: 0.05)
            }
        }
    }

    /// The real CASIA weights under two non-default option sets, through the facade: each
    /// within the golden tolerance of Keras on every manifest image, and the options reach
    /// both the FaceNet model and the MTCNN it loads.
    func testRealWeightsStayGoldenUnderOtherOptions() throws {
        let manifestPath = try Paths.shared("faces/facenet512_casia_manifest.json")
        let weights = try Paths.shared("models/facenet512_casia.h5")
        let topology = Paths.packageRoot.appendingPathComponent("Weights/facenet512.json").path
        let manifest = try GoldenManifest(path: manifestPath)
        var blasNoWinograd = EngineOptions(threads: 2, gemm: .openBLAS, winograd: .off, implicitGEMM: false, im2colChunkFloats: 0)
        blasNoWinograd.parallelFlops = 0
        var forcedSmallTiles = EngineOptions(threads: 1, winograd: WinogradPolicy(oneDimensional: false, tile: .f2x2),
                                             winogradChunkFloats: 0, winogradMinimumChunkTiles: 1)
        forcedSmallTiles.teamSpinLimit = 0
        var embeddings: [Tensor] = []
        for (label, options) in [("OpenBLAS, no Winograd, no implicit GEMM, 2 threads", blasNoWinograd),
                                 ("F(2×2) forced, no F(2, 7), one tile per chunk, 1 thread", forcedSmallTiles)] {
            let facenet = try FaceNet(topologyPath: topology, weightsPath: weights, weightSet: .casia512,
                                      verification: .off, options: options)
            XCTAssertEqual(facenet.model.options, options)
            XCTAssertEqual(facenet.extraction.detector?.models.map(\.options), [options, options, options])
            let report = try GoldenCheck.run(manifest: manifest, model: facenet.model)
            XCTAssertTrue(report.allWithinTolerance, "\(label): \(report.summary)")
            print("facenet512_casia (\(label)): \(report.summary)")
            let x = try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape)
            embeddings.append(try XCTUnwrap(GoldenCheck.runBatched(model: facenet.model, input: x, outputs: ["Bottleneck_BatchNorm"],
                                                                   batchSize: 8)["Bottleneck_BatchNorm"]))
        }
        XCTAssertLessThan(maxAbsDifference(l2Normalized(embeddings[0]), l2Normalized(embeddings[1])), 1e-4)
    }
}
