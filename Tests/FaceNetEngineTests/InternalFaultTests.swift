import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
import FaceNetTestSupport
@testable import FaceNetTools

/// Broken internal invariants fail loudly: provoked through package API, each throws
/// `FaceNetError.internalError` naming what broke, where the engine used to skip the work
/// and leave an output unwritten. (The library is optimised in debug builds too, so
/// `internalFault`'s `assertionFailure` does not stop the tests: the thrown error is what
/// they see.)
final class InternalFaultTests: XCTestCase {
    private func assertInternalError<T>(_ body: @autoclosure () throws -> T, mentions: [String],
                                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case FaceNetError.internalError(let message) = error else {
                return XCTFail("expected internalError, got \(error)", file: file, line: line)
            }
            for text in mentions {
                XCTAssertTrue(message.contains(text), "'\(message)' should mention '\(text)'", file: file, line: line)
            }
            XCTAssertTrue(String(describing: error).contains("this is a bug in FaceNetKit; please report it with the model and input"),
                          file: file, line: line)
        }
    }

    /// A 3×3 convolution on the Winograd path (48 → 48 channels, 20×20: F(4×4)).
    private func winogradModel() throws -> (Model, ModelTopology, [String: [Int]]) {
        let layers = [
            LayerNode(name: "conv", className: "Conv2D",
                      kind: .conv2D(Conv2DConfig(filters: 48, kernel: (3, 3), padding: .same, useBias: true)), inputs: ["input"]),
            LayerNode(name: "act", className: "Activation", kind: .activation(.relu), inputs: ["conv"]),
        ]
        let weights = ["conv": ["kernel": randomTensor([3, 3, 48, 48], seed: 1, range: -0.1...0.1), "bias": randomTensor([48], seed: 2)]]
        let (model, topology, _) = try makeModel(inputShape: [20, 20, 48], layers: layers, weights: weights)
        guard case .conv2D(_, .winograd, _) = model.ops[1] else {
            throw XCTSkip("the conv is not on the Winograd path under the default options")
        }
        let shapes = try topology.concreteShapes(of: topology.layers, inputShapes: ["input": [2, 20, 20, 48]])
        return (model, topology, shapes)
    }

    /// A Winograd convolution whose scratch the plan sized with other chunk settings than the
    /// kernels would run with: refused when the session checks its plan, not run short of
    /// scratch (before, a Winograd step without its scratch returned and left its output
    /// unwritten).
    func testWinogradStepWithoutEnoughScratchIsRefusedAtPlanTime() throws {
        let (model, topology, shapes) = try winogradModel()
        var small = EngineOptions.default
        small.winogradChunkFloats = 0
        small.winogradMinimumChunkTiles = 1
        let plan = try ExecutionPlan(model: model, layers: topology.layers.enumerated().map { ($0.offset, $0.element) },
                                     shapes: shapes, requested: ["act"], fusion: true, tuning: ConvolutionTuning(small))
        XCTAssertNoThrow(try InferenceSession.verify(plan, model: model, outputs: ["act"], tuning: ConvolutionTuning(small)))
        assertInternalError(try InferenceSession.verify(plan, model: model, outputs: ["act"], tuning: .default),
                            mentions: ["InferenceSession", "convolution 'conv'", "floats of scratch"])
    }

    /// A requested output the plan never placed: before, the session dropped it from its
    /// results and its buffer could be reused under it.
    func testRequestedOutputWithoutAPlaceIsAnInternalError() throws {
        let (model, topology, shapes) = try winogradModel()
        // Only the input and the conv are planned, but "act" is requested.
        assertInternalError(try ExecutionPlan(model: model, layers: topology.layers.prefix(2).enumerated().map { ($0.offset, $0.element) },
                                              shapes: shapes, requested: ["act"], fusion: false, tuning: .default),
                            mentions: ["ExecutionPlan", "'act'"])
        let plan = try ExecutionPlan(model: model, layers: topology.layers.enumerated().map { ($0.offset, $0.element) },
                                     shapes: shapes, requested: ["act"], fusion: true, tuning: .default)
        assertInternalError(try InferenceSession.verify(plan, model: model, outputs: ["act", "conv"], tuning: .default),
                            mentions: ["requested output 'conv'"])
    }

    /// GEMM weights whose floats do not fit their declared sizes: refused when packed, not
    /// read past their end (or multiplied as an empty product) later.
    func testGEMMWeightsOfTheWrongSizeAreAnInternalError() {
        for backend in GEMMBackend.available {
            assertInternalError(try GEMMWeights(rowMajor: [1, 2, 3], depth: 2, columns: 2, backend: backend),
                                mentions: ["GEMMWeights", "3 floats", "1 matrices of 2 × 2"])
            assertInternalError(try GEMMWeights(rowMajor: [], depth: 0, columns: 4, backend: backend), mentions: ["GEMMWeights"])
        }
        if !GEMMBackend.available.contains(.panels) {
            assertInternalError(try GEMMWeights(rowMajor: [1, 2, 3, 4], depth: 2, columns: 2, backend: .panels),
                                mentions: ["GEMMWeights", "panel"])
        }
    }

    /// The message says what broke and that it is the engine's bug, and survives a round
    /// trip through Codable (errors cross the weights-isolation process boundary that way).
    func testInternalErrorDescribesItselfAsABug() throws {
        let error = FaceNetError.internalError("Conv2DKernel: something impossible")
        XCTAssertEqual(error.description, "internal error: Conv2DKernel: something impossible "
                       + "(this is a bug in FaceNetKit; please report it with the model and input)")
        let decoded = try JSONDecoder().decode(FaceNetError.self, from: JSONEncoder().encode(error))
        XCTAssertEqual(decoded, error)
        XCTAssertEqual(internalFault("x"), .internalError("x"))
    }
}
