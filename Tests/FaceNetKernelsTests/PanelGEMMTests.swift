import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// The GEMM backends (the engine's panel kernel and OpenBLAS) against a naive triple loop.
final class PanelGEMMTests: XCTestCase {
    /// C = alpha·A·B (+ C) computed in Double, over `columns` only; other entries keep `c`.
    private func naive(m: Int, n: Int, k: Int, a: [Float], lda: Int, b: [Float], c: [Float], ldc: Int,
                       columns: Range<Int>, alpha: Float, accumulate: Bool) -> [Float] {
        var out = c
        for i in 0..<m {
            for j in columns {
                var sum = 0.0
                for p in 0..<k { sum += Double(a[i * lda + p]) * Double(b[p * n + j]) }
                out[i * ldc + j] = Float(Double(alpha) * sum + (accumulate ? Double(c[i * ldc + j]) : 0))
            }
        }
        return out
    }

    func testBackendsMatchNaiveOnOddShapes() throws {
        XCTAssertTrue(GEMMBackend.available.contains(.openBLAS))
        // Rows below, at and past the 6-row block; columns off the 16-wide panel, leaving every
        // remainder the stores split into 4-, 2- and 1-lane parts (1, 2, 3, 5, 7, 10, 15); depth
        // past the 256 block.
        let shapes = [(1, 1, 1), (5, 16, 3), (6, 17, 40), (7, 33, 257), (13, 10, 600), (64, 96, 256), (9, 48, 520),
                      (3, 3, 5), (4, 18, 9), (5, 19, 12), (7, 23, 30), (2, 21, 7), (8, 31, 16)]
        var rng = SeededGenerator(seed: 42)
        for backend in GEMMBackend.available {
            for (m, n, k) in shapes {
                for (accumulate, alpha) in [(false, Float(1)), (true, Float(0.25))] {
                    let lda = k + 3, ldc = n + 5
                    let a = (0..<(m * lda)).map { _ in Float.random(in: -1...1, using: &rng) }
                    let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
                    var c = (0..<(m * ldc)).map { _ in Float.random(in: -1...1, using: &rng) }
                    let expected = naive(m: m, n: n, k: k, a: a, lda: lda, b: b, c: c, ldc: ldc, columns: 0..<n,
                                         alpha: alpha, accumulate: accumulate)
                    let weights = try GEMMWeights(rowMajor: b, depth: k, columns: n, backend: backend)
                    XCTAssertEqual(weights.rowMajor(), b, "\(backend) \(m)x\(n)x\(k): stored weights read back")
                    a.withUnsafeBufferPointer { ap in
                        c.withUnsafeMutableBufferPointer { cp in
                            weights.multiply(m: m, a: ap.baseAddress!, lda: lda, c: cp.baseAddress!, ldc: ldc,
                                             alpha: alpha, accumulate: accumulate)
                        }
                    }
                    let err = maxAbsDifference(c, expected)
                    // Padding columns (n..<ldc) must be untouched: they are compared too.
                    XCTAssertLessThan(err, 2e-5, "\(backend) m \(m) n \(n) k \(k) accumulate \(accumulate)")
                }
            }
        }
    }

    /// Threads sharing by columns: the shares cover every column once, panel-aligned for
    /// the panel kernel, and computing them one by one gives the whole product.
    func testColumnSharesCoverTheProduct() throws {
        let (m, n, k) = (9, 70, 33)
        var rng = SeededGenerator(seed: 7)
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        let expected = naive(m: m, n: n, k: k, a: a, lda: k, b: b, c: [Float](repeating: 0, count: m * n), ldc: n,
                             columns: 0..<n, alpha: 1, accumulate: false)
        for backend in GEMMBackend.available {
            let weights = try GEMMWeights(rowMajor: b, depth: k, columns: n, backend: backend)
            for parts in [1, 2, 3, 8] {
                var covered = [Int](repeating: 0, count: n)
                var c = [Float](repeating: .nan, count: m * n)
                for part in 0..<parts {
                    let share = weights.columnShare(part: part, parts: parts)
                    for column in share { covered[column] += 1 }
                    if backend == .panels, !share.isEmpty { XCTAssertEqual(share.lowerBound % 16, 0) }
                    a.withUnsafeBufferPointer { ap in
                        c.withUnsafeMutableBufferPointer { cp in
                            weights.multiply(m: m, a: ap.baseAddress!, c: cp.baseAddress!, ldc: n, columns: share)
                        }
                    }
                }
                XCTAssertEqual(covered, [Int](repeating: 1, count: n), "\(backend) \(parts) parts")
                XCTAssertLessThan(maxAbsDifference(c, expected), 2e-5, "\(backend) \(parts) parts")
            }
        }
    }

    /// Several matrices in one GEMMWeights (Winograd's 16): each is multiplied on its own.
    func testMatricesAreKeptApart() throws {
        let (m, n, k, count) = (7, 20, 11, 3)
        var rng = SeededGenerator(seed: 9)
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<(count * k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        for backend in GEMMBackend.available {
            let weights = try GEMMWeights(rowMajor: b, depth: k, columns: n, count: count, backend: backend)
            for matrix in 0..<count {
                let slice = Array(b[(matrix * k * n)..<((matrix + 1) * k * n)])
                XCTAssertEqual(weights.rowMajor(matrix: matrix), slice)
                let expected = naive(m: m, n: n, k: k, a: a, lda: k, b: slice, c: [Float](repeating: 0, count: m * n), ldc: n,
                                     columns: 0..<n, alpha: 1, accumulate: false)
                var c = [Float](repeating: .nan, count: m * n)
                a.withUnsafeBufferPointer { ap in
                    c.withUnsafeMutableBufferPointer { cp in
                        weights.multiply(matrix: matrix, m: m, a: ap.baseAddress!, c: cp.baseAddress!, ldc: n)
                    }
                }
                XCTAssertLessThan(maxAbsDifference(c, expected), 2e-5, "\(backend) matrix \(matrix)")
            }
        }
    }

    /// The epilogue, finished inside the GEMM or by the separate pass, equals the naive
    /// GEMM followed by the formula written out here (not the engine's own epilogue), on
    /// full and partial panels, over a column share, with accumulation into C.
    func testEpilogueInsideTheGEMMEqualsTheSeparatePass() throws {
        let (m, n, k) = (8, 37, 300)
        var rng = SeededGenerator(seed: 11)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &rng) } }
        let a = random(m * k), b = random(k * n), start = random(m * n)
        let epilogues = [
            Epilogue(alpha: 1, accumulate: false, scale: random(n), shift: random(n), activation: .relu),
            Epilogue(alpha: 0.17, accumulate: true, scale: nil, shift: random(n), activation: .relu),
            Epilogue(alpha: 1, accumulate: false, scale: nil, shift: random(n), activation: .linear, preluSlopes: random(n)),
            Epilogue(alpha: 1, accumulate: false, scale: random(n), shift: nil, activation: .tanh),
        ]
        for backend in GEMMBackend.available {
            let weights = try GEMMWeights(rowMajor: b, depth: k, columns: n, backend: backend)
            for (index, epilogue) in epilogues.enumerated() {
                for columns in [0..<n, 16..<n] {
                    var expected = naive(m: m, n: n, k: k, a: a, lda: k, b: b, c: start, ldc: n, columns: columns,
                                         alpha: epilogue.alpha, accumulate: epilogue.accumulate)
                    for i in 0..<m {
                        for j in columns {
                            var v = Double(expected[i * n + j])
                            v = v * Double(epilogue.scale?[j] ?? 1) + Double(epilogue.shift?[j] ?? 0)
                            switch epilogue.activation {
                            case .relu: v = max(v, 0)
                            case .tanh: v = Foundation.tanh(v)
                            case .linear: break
                            default: XCTFail("no naive form for \(epilogue.activation)")
                            }
                            if let slopes = epilogue.preluSlopes, v < 0 { v *= Double(slopes[j]) }
                            expected[i * n + j] = Float(v)
                        }
                    }
                    var fused = start
                    a.withUnsafeBufferPointer { ap in
                        fused.withUnsafeMutableBufferPointer { cp in
                            let done = weights.multiply(m: m, a: ap.baseAddress!, c: cp.baseAddress!, ldc: n, columns: columns,
                                                        epilogue: epilogue)
                            XCTAssertEqual(done, weights.finishes(epilogue))
                            XCTAssertEqual(done, backend == .panels && index < 3, "\(backend) epilogue \(index)")
                            if !done {
                                epilogue.apply(to: cp.baseAddress! + columns.lowerBound, rows: m, columns: columns.count, ldc: n,
                                               firstColumn: columns.lowerBound)
                            }
                        }
                    }
                    let err = maxAbsDifference(fused, expected)
                    XCTAssertLessThan(err, 2e-5, "\(backend) epilogue \(index) columns \(columns)")
                    // Columns outside the share keep their values.
                    for i in 0..<m { for j in 0..<columns.lowerBound { XCTAssertEqual(fused[i * n + j], start[i * n + j]) } }
                }
            }
        }
    }

    func testBackendChoice() {
        let avx2 = CPUFeatures(vendor: "AuthenticAMD", flags: ["avx", "avx2", "fma"])
        let sse = CPUFeatures(vendor: "GenuineIntel", flags: ["sse2", "sse4_2"])
        XCTAssertEqual(GEMMBackend.choose(cpu: sse), .openBLAS)
        // The panel kernel is compiled for AVX2 and FMA together: either alone is not enough.
        let avx2WithoutFMA = CPUFeatures(vendor: "GenuineIntel", flags: ["avx", "avx2"])
        let fmaWithoutAVX2 = CPUFeatures(vendor: "AuthenticAMD", flags: ["avx", "fma"])
        XCTAssertEqual(GEMMBackend.choose(cpu: avx2WithoutFMA), .openBLAS)
        XCTAssertEqual(GEMMBackend.choose(cpu: fmaWithoutAVX2), .openBLAS)
        #if arch(x86_64)
        XCTAssertEqual(GEMMBackend.choose(cpu: avx2), .panels)
        #endif
    }
}
