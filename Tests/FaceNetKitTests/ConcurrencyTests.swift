import Foundation
import Synchronization
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// One `FaceNet` shared by many callers at once: every result must equal the
/// single-threaded one bit for bit (each call takes its own planned session from the pool;
/// sessions split large convolutions over their own worker threads).
final class ConcurrencyTests: XCTestCase {
    /// Big enough that its convolutions take the parallel paths: an im2col conv split by
    /// rows, and a 32 → 64 3×3 conv on the Winograd path, split by tiles.
    private func parallelFaceNet() throws -> FaceNet {
        func conv(_ name: String, _ filters: Int, stride: Int, input: String) -> LayerNode {
            LayerNode(name: name, className: "Conv2D",
                      kind: .conv2D(Conv2DConfig(filters: filters, kernel: (3, 3), strides: (stride, stride), padding: .same,
                                                 activation: .relu)),
                      inputs: [input])
        }
        let layers = [
            conv("conv1", 32, stride: 2, input: "input"),
            conv("conv2", 32, stride: 2, input: "conv1"),
            conv("conv3", 64, stride: 1, input: "conv2"),
            LayerNode(name: "gap", className: "GlobalAveragePooling2D", kind: .globalAveragePooling2D(keepDims: false), inputs: ["conv3"]),
            LayerNode(name: "embedding", className: "Dense", kind: .dense(DenseConfig(units: 16, useBias: true)), inputs: ["gap"]),
        ]
        let weights: [String: [String: Tensor]] = [
            "conv1": ["kernel": randomTensor([3, 3, 3, 32], seed: 11, range: -0.3...0.3), "bias": randomTensor([32], seed: 12)],
            "conv2": ["kernel": randomTensor([3, 3, 32, 32], seed: 13, range: -0.1...0.1), "bias": randomTensor([32], seed: 14)],
            "conv3": ["kernel": randomTensor([3, 3, 32, 64], seed: 15, range: -0.1...0.1), "bias": randomTensor([64], seed: 16)],
            "embedding": ["kernel": randomTensor([64, 16], seed: 17), "bias": randomTensor([16], seed: 18)],
        ]
        let (model, _, _) = try makeModel(inputShape: [160, 160, 3], layers: layers, weights: weights)
        return try FaceNet(model: model, preprocessing: PreprocessOptions(), weightSet: .casia512)
    }

    /// 8 threads × 200 rounds (`FACENET_STRESS_ROUNDS` lowers it, e.g. under TSan), each
    /// embedding the same three images as one batch.
    func testConcurrentCallersGetBitIdenticalEmbeddings() throws {
        let facenet = try parallelFaceNet()
        XCTAssertNotNil(Conv2DWinograd.tile(
            config: Conv2DConfig(filters: 64, kernel: (3, 3), strides: (1, 1), padding: .same, activation: .relu),
            inChannels: 32, height: 40, width: 40, policy: .default), "conv3 should take the Winograd path")
        let images = try ["jpeg_baseline_420.jpg", "png_gray8.png", "jpeg_exif_o6.jpg"].map {
            try ImageDecoder.decode(path: Paths.fixture("images/" + $0))
        }
        let expected = try facenet.embed(images, l2Normalize: true)
        let rounds = Int(ProcessInfo.processInfo.environment["FACENET_STRESS_ROUNDS"] ?? "") ?? 200
        let callers = 8
        let mismatches = Counter()
        let failures = Counter()
        let done = DispatchGroup()
        for _ in 0..<callers {
            done.enter()
            let thread = Thread {
                for _ in 0..<rounds {
                    do {
                        if try facenet.embed(images, l2Normalize: true) != expected { mismatches.increment() }
                    } catch {
                        failures.increment()
                    }
                }
                done.leave()
            }
            thread.stackSize = 1 << 21
            thread.start()
        }
        done.wait()
        XCTAssertEqual(mismatches.value, 0, "results that differ from the single-threaded ones")
        XCTAssertEqual(failures.value, 0)
        print("concurrency: \(callers) threads × \(rounds) rounds × \(images.count) images, \(mismatches.value) mismatches")
    }
}

/// A counter several threads bump.
private final class Counter: Sendable {
    private let count = Mutex<Int>(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
