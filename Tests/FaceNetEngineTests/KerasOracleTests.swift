import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// Keras (tf_keras) as the outside oracle for every convolution and pooling kernel variant
/// and every fused chain. The engine's own reference executor shares the padding geometry
/// (`paddingBefore`, `Conv2DGeometry`, `Pool2DGeometry`) with the fast paths, so it cannot
/// see a bug there; Keras computes its own. The fixtures are small models written by
/// `Scripts/make_kernel_fixtures.py` into `Fixtures/oracle/<case>/` (topology, weights, input,
/// Keras's outputs, golden manifest).
///
/// Each case runs with only the model's outputs requested, so every chain fuses, on every
/// GEMM backend this CPU has, with 1 and 2 threads (2: every convolution shared, however
/// small). Besides the numbers, each case checks that the path it is meant for was taken:
/// the Winograd tile or direct kernel of every conv, the implicit GEMM, and in the execution
/// plan that BatchNorm, activations, Lambda and Add were folded, concatenations written in
/// place, sibling 1×1 convs grouped.
final class KerasOracleTests: XCTestCase {
    /// What a case must make the engine do.
    private struct Expectation {
        /// Conv layers that must take Winograd, with their tile; every other conv stays direct.
        var winograd: [String: WinogradTile] = [:]
        /// Non-pointwise direct convs that must take the implicit GEMM (with the panel GEMM;
        /// with OpenBLAS, and for every other direct conv, im2col).
        var implicitGEMM: Set<String> = []
        /// Member counts of the sibling groups planned, in plan order.
        var siblingGroups: [Int] = []
        /// Lambda scales of the residual up-projections fused onto their shortcut, in plan order.
        var residualScales: [Float] = []
    }

    // MARK: - Cases

    func testConvolutionSamePaddingOddAndEvenSizes() throws {
        // A stride-2 odd kernel or an even kernel pads one pixel more after than before on the
        // even axis (TensorFlow's rule): height in 10×9, width in 9×12.
        try check("conv_same_10x9", Expectation())
        try check("conv_same_9x12", Expectation())
    }

    func testConvolutionValidPadding() throws {
        try check("conv_valid_10x16", Expectation(implicitGEMM: ["conv_k3_s1"]))
    }

    func testPoolingSameAndValid() throws {
        try check("pool3_10x9", Expectation())
        try check("pool3_9x12", Expectation())
    }

    func testWinogradF4x4WithEveryTail() throws {
        try check("winograd_f4x4", Expectation(winograd: [
            "f4x4_same_19x23": .f4x4, "f4x4_valid_17x21": .f4x4, "f4x4_valid_14x18": .f4x4,
        ]))
    }

    func testWinogradF2x2OddAndEven() throws {
        try check("winograd_f2x2", Expectation(winograd: ["f2x2_same_10x9": .f2x2, "f2x2_same_9x8": .f2x2]))
    }

    func testWinogradF2x7RowsAndColumns() throws {
        try check("winograd_f2x7", Expectation(winograd: [
            "f2x7_row_10x7": .rowF2x7, "f2x7_column_10x7": .columnF2x7, "f2x7_column_9x6": .columnF2x7,
        ]))
    }

    func testFusedStemAndReductionConcat() throws {
        try check("fused_stem_reduction", Expectation(implicitGEMM: ["Conv2d_1a_3x3", "Conv2d_2a_3x3"]))
    }

    func testFusedInceptionResNetBlocks() throws {
        try check("fused_inception_resnet", Expectation(siblingGroups: [3, 2], residualScales: [0.17, 1.0]))
    }

    func testFusedSiblingPointwiseConvs() throws {
        try check("fused_siblings", Expectation(siblingGroups: [3]))
    }

    /// Every fixture folder is checked by a test above, and every case named there exists.
    func testEveryFixtureHasATest() throws {
        let found = Set(try FileManager.default.contentsOfDirectory(atPath: Paths.fixture("oracle"))
            .filter { FileManager.default.fileExists(atPath: Paths.fixture("oracle/\($0)/manifest.json")) })
        XCTAssertEqual(found, Self.cases, "fixture folders vs cases the tests check")
    }

    private static let cases: Set<String> = [
        "conv_same_10x9", "conv_same_9x12", "conv_valid_10x16", "pool3_10x9", "pool3_9x12",
        "winograd_f4x4", "winograd_f2x2", "winograd_f2x7",
        "fused_stem_reduction", "fused_inception_resnet", "fused_siblings",
    ]

    // MARK: - The check

    /// Loads case `name`, checks the kernel paths of its ops, then per backend and thread
    /// count the execution plan and every output against Keras's.
    private func check(_ name: String, _ expectation: Expectation) throws {
        XCTAssertTrue(Self.cases.contains(name), "\(name) is missing from KerasOracleTests.cases")
        let folder = "oracle/\(name)/"
        let manifest = try GoldenManifest(path: Paths.fixture(folder + "manifest.json"))
        let topology = try KerasJSONReader.read(path: Paths.fixture(folder + "topology.json"))
        let weights = try KerasWeightsReader.load(path: Paths.fixture(folder + "weights.h5"), specs: try topology.weightSpecs())
        let input = try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape)
        let inputName = try XCTUnwrap(topology.inputNames.first, name)
        // The references are exactly the model's outputs: nothing else is requested, so nothing stays unfused.
        XCTAssertEqual(manifest.outputs.map(\.name), topology.outputNames, "\(name): manifest outputs vs model outputs")
        let references = try manifest.outputs.map { ($0.name, try manifest.readTensor($0.file, shape: $0.shape)) }
        let shapes = try topology.concreteShapes(of: topology.layers, inputShapes: [inputName: input.shape])

        var worst: Float = 0
        for backend in GEMMBackend.available {
            let model = try Model(topology: topology, weights: weights, options: EngineOptions(gemm: backend))
            checkKernels(name, model: model, shapes: shapes, backend: backend, expectation)
            for threads in [1, 2] {
                let label = "\(name) [\(backend), \(threads) thread\(threads == 1 ? "" : "s")]"
                let session = try InferenceSession(model: model, inputShapes: [inputName: input.shape],
                                                   outputs: topology.outputNames, fusion: true, threads: threads,
                                                   minimumParallelFlops: 0)
                try checkPlan(label, model: model, session: session, expectation)
                // Twice: the second run reuses buffers the first left full, so a value a kernel
                // forgets to write is stale, not a lucky zero. The worse run is checked.
                var errors: [String: Float] = [:]
                for _ in 1...2 {
                    let outputs = try session.run([inputName: input])
                    for (output, reference) in references {
                        let y = try XCTUnwrap(outputs[output], "\(label): no output \(output)")
                        XCTAssertEqual(y.shape, reference.shape, "\(label) \(output)")
                        errors[output] = max(errors[output] ?? 0, y.shape == reference.shape ? worstDifference(y, reference) : .infinity)
                    }
                }
                for (output, reference) in references {
                    let magnitude = reference.scalars.reduce(0) { max($0, abs($1)) }
                    XCTAssertGreaterThan(magnitude, 0.1, "\(label) \(output): degenerate reference")
                    // Float32 reordering only (Winograd's transforms included): 1e-5 of the largest output.
                    let limit = 1e-5 * max(1, magnitude), error = errors[output] ?? .infinity
                    XCTAssertLessThanOrEqual(error, limit, "\(label) \(output): max abs error vs Keras")
                    worst = max(worst, error / max(1, magnitude))
                }
            }
        }
        print("Keras oracle \(name): worst error \(worst) of max(1, max|ref|)")
    }

    /// The form of each conv's weights: Winograd with the intended tile, or direct; and for
    /// the direct ones, whether the implicit GEMM takes them.
    private func checkKernels(_ name: String, model: Model, shapes: [String: [Int]], backend: GEMMBackend,
                              _ expectation: Expectation) {
        let defaultPolicy = model.options.winograd == .default
        var convs = Set<String>()
        for (index, layer) in model.topology.layers.enumerated() {
            guard case .conv2D(let config, let weights, _) = model.ops[index] else { continue }
            convs.insert(layer.name)
            let label = "\(name) \(layer.name) [\(backend)]"
            switch weights {
            case .winograd(_, let tile):
                if defaultPolicy {
                    XCTAssertEqual(tile, expectation.winograd[layer.name], "\(label): Winograd tile")
                }
            case .direct(let kernel):
                if defaultPolicy {
                    XCTAssertNil(expectation.winograd[layer.name], "\(label): should run as Winograd")
                }
                guard let s = shapes[layer.inputs[0]], s.count == 4 else {
                    XCTFail("\(label): no input shape")
                    continue
                }
                let g = Conv2DGeometry(config: config, batch: s[0], height: s[1], width: s[2], channels: s[3])
                guard !g.isPointwise, model.options.implicitGEMM else { continue }
                XCTAssertEqual(Conv2DImplicitGEMM.applies(to: g, kernel: kernel),
                               backend == .panels && expectation.implicitGEMM.contains(layer.name),
                               "\(label): implicit GEMM (else im2col)")
            }
        }
        let named = Set(expectation.winograd.keys).union(expectation.implicitGEMM)
        XCTAssertTrue(named.isSubset(of: convs), "\(name): expected convs \(named.subtracting(convs)) not in the model")
    }

    /// The fused plan: the session runs the plan built here (same steps), and in it every
    /// BatchNormalization is folded into a GEMM epilogue, every activation, Lambda, Add and
    /// Dropout is gone into a chain, every concatenation is written in place by its branches,
    /// and the sibling groups and residual accumulations are the intended ones.
    private func checkPlan(_ label: String, model: Model, session: InferenceSession, _ expectation: Expectation) throws {
        let topology = model.topology
        // The layers the session plans: what the requested outputs depend on (as InferenceSession does).
        var needed = Set<String>()
        var stack = session.outputNames
        while let name = stack.popLast() {
            guard needed.insert(name).inserted, let layer = topology.layer(named: name) else { continue }
            stack.append(contentsOf: layer.inputs)
        }
        let planned = topology.layers.enumerated().filter { needed.contains($0.element.name) }
        let shapes = try topology.concreteShapes(of: planned.map(\.element), inputShapes: session.inputShapes)
        let plan = try ExecutionPlan(model: model, layers: planned.map { ($0.offset, $0.element) }, shapes: shapes,
                                     requested: Set(session.outputNames), fusion: true, tuning: ConvolutionTuning(session.options))
        XCTAssertEqual(plan.steps.count, session.stepNames.count, "\(label): the session's steps are not this plan's")

        var scaled = 0, siblingGroups: [Int] = [], residualScales: [Float] = [], concatenations = 0
        for step in plan.steps {
            switch step {
            case .conv(_, _, _, _, let epilogue, let residual):
                if epilogue.scale != nil { scaled += 1 }
                if residual != nil {
                    XCTAssertTrue(epilogue.accumulate, "\(label): a residual step that does not accumulate")
                    residualScales.append(epilogue.alpha)
                }
            case .siblings(_, _, _, let outputs, let epilogues):
                siblingGroups.append(outputs.count)
                scaled += epilogues.filter { $0.scale != nil }.count
            case .dense(_, _, _, _, _, _, let epilogue):
                if epilogue.scale != nil { scaled += 1 }
            case .concatenate(let inputs, _, let output, _, _):
                concatenations += 1
                XCTAssertTrue(inputs.allSatisfy { $0.value == output.value },
                              "\(label): a concatenation input was copied, not written in place")
            case .layer(let op, _, _, _, _):
                // Global pooling has no producer to fold into; everything else must be fused away.
                guard case .layer(is GlobalAveragePooling2DLayer) = model.ops[op] else {
                    XCTFail("\(label): \(topology.layers[op].name) (\(topology.layers[op].className)) runs unfused")
                    continue
                }
            case .pool:
                break
            }
        }
        let classes = planned.map(\.element.className)
        XCTAssertEqual(scaled, classes.filter { $0 == "BatchNormalization" }.count,
                       "\(label): epilogues with a folded BatchNormalization vs BatchNormalization layers")
        XCTAssertEqual(concatenations, classes.filter { $0 == "Concatenate" }.count, "\(label): concatenation steps")
        XCTAssertEqual(siblingGroups, expectation.siblingGroups, "\(label): sibling groups (members each)")
        XCTAssertEqual(residualScales, expectation.residualScales, "\(label): residual up-projections fused (their scales)")
    }

    /// The largest |a − b|; infinity when any difference is not finite (NaN or infinity on
    /// either side), so that no comparison with a limit can pass on it.
    private func worstDifference(_ a: Tensor, _ b: Tensor) -> Float {
        var worst: Float = 0
        for (x, y) in zip(a.scalars, b.scalars) {
            let d = abs(x - y)
            guard d.isFinite else { return .infinity }
            worst = max(worst, d)
        }
        return worst
    }
}
