import FaceNetTestSupport
import XCTest
@testable import FaceNetGallery

/// Exact search against its reference: every similarity in Double, sorted.
final class ExactSearchTests: XCTestCase {
    /// `count` unit vectors of `dimension` floats from a seeded generator.
    static func randomMatrix(count: Int, dimension: Int, seed: UInt64) -> EmbeddingMatrix {
        var generator = SeededGenerator(seed: seed)
        var matrix = EmbeddingMatrix(dimension: dimension)
        for _ in 0..<count {
            matrix.append((0..<dimension).map { _ in Float.random(in: -1...1, using: &generator) })
        }
        return matrix
    }

    func testOneQueryMatchesTheReference() throws {
        let matrix = Self.randomMatrix(count: 5_000, dimension: 512, seed: 1)
        let queries = Self.randomMatrix(count: 3, dimension: 512, seed: 2)
        for q in 0..<queries.count {
            let query = queries.row(q)
            for k in [1, 10, 100] {
                let found = try ExactSearch.search([query], in: matrix, k: k)[0]
                let expected = ExactSearch.reference(query, in: matrix, k: k)
                XCTAssertEqual(found.map(\.row), expected.map(\.row), "k \(k)")
                XCTAssertLessThanOrEqual(zip(found, expected).map { abs($0.similarity - $1.similarity) }.max() ?? .infinity, 1e-5)
            }
        }
    }

    /// The GEMM path (several queries) gives each query what one query alone gets, with
    /// removed rows skipped; more rows than one block and more queries than one block.
    func testManyQueriesMatchTheReferenceAndSkipRemovedRows() throws {
        let matrix = Self.randomMatrix(count: 2_500, dimension: 128, seed: 3)
        let queries = Self.randomMatrix(count: 70, dimension: 128, seed: 4)
        var deleted = [Bool](repeating: false, count: matrix.count)
        for row in stride(from: 0, to: matrix.count, by: 3) { deleted[row] = true }
        let all = (0..<queries.count).map { queries.row($0) }
        let found = try ExactSearch.search(all, in: matrix, k: 7, deleted: deleted)
        XCTAssertEqual(found.count, all.count)
        for (q, query) in all.enumerated() {
            let expected = ExactSearch.reference(query, in: matrix, k: 7, deleted: deleted)
            XCTAssertEqual(found[q].map(\.row), expected.map(\.row), "query \(q)")
            XCTAssertTrue(found[q].allSatisfy { !deleted[Int($0.row)] })
            XCTAssertLessThanOrEqual(zip(found[q], expected).map { abs($0.similarity - $1.similarity) }.max() ?? .infinity, 1e-5)
        }
    }

    /// k larger than the live rows: every live row, best first.
    func testKBeyondTheRowsReturnsEveryLiveRow() throws {
        let matrix = Self.randomMatrix(count: 5, dimension: 8, seed: 5)
        let deleted = [false, true, false, false, true]
        for queries in [[matrix.row(0)], [matrix.row(0), matrix.row(2)]] {
            let found = try ExactSearch.search(queries, in: matrix, k: 10, deleted: deleted)
            XCTAssertEqual(found[0].map(\.row), [0, 2, 3].sorted { a, b in
                let s = ExactSearch.reference(matrix.row(0), in: matrix, k: 5, deleted: deleted)
                return s.firstIndex { $0.row == a }! < s.firstIndex { $0.row == b }!
            })
            XCTAssertEqual(found[0].first?.row, 0, "a stored vector is its own nearest")
        }
    }

    /// Every kernel combination this CPU runs (AVX2 and portable scans, panel and OpenBLAS
    /// GEMMs) against the reference: row counts that are not multiples of the tile (4, 8,
    /// 256), chunk (4,096) or GEMM block (240 rows, 16 and 2,048 queries); dimensions that
    /// take every tail of the AVX2 loop; 1 to 3 threads; removed rows; k beyond the rows.
    func testEveryKernelMatchesTheReference() throws {
        XCTAssertFalse(ExactKernels.available.isEmpty)
        let cases: [(count: Int, dimension: Int, queries: Int, k: Int, threads: Int, removeEvery: Int?)] = [
            (2 * ExactSearch.scanChunk + 517, 27, 1, 10, 2, nil),     // 27 = 16 + 8 + 3
            (2 * ExactSearch.scanChunk + 517, 67, 1, 5, 3, 7),         // 67 = 4 · 16 + 3
            (ExactSearch.scanChunk - 3, 512, 1, 100, 1, 2),
            (2 * ExactSearch.gemmRows + 7, 27, 37, 10, 2, nil),
            (2 * ExactSearch.gemmRows + 7, 67, 37, 10, 3, 5),
            (3 * ExactSearch.gemmRows + 1, 512, 19, 25, 2, 3),
            (11, 9, 2, 20, 2, 4),                                      // k beyond the live rows
            (11, 9, 1, 20, 2, 4),
        ]
        for (n, (count, dimension, queryCount, k, threads, removeEvery)) in cases.enumerated() {
            let matrix = Self.randomMatrix(count: count, dimension: dimension, seed: UInt64(10 + n))
            let queries = Self.randomMatrix(count: queryCount, dimension: dimension, seed: UInt64(100 + n))
            let all = (0..<queryCount).map { queries.row($0) }
            let deleted = removeEvery.map { every in (0..<count).map { $0 % every == 1 } }
            let expected = all.map { ExactSearch.reference($0, in: matrix, k: k, deleted: deleted) }
            for kernels in ExactKernels.available {
                let found = try ExactSearch.search(all, in: matrix, k: k, deleted: deleted, threads: threads, kernels: kernels)
                XCTAssertEqual(found.count, queryCount)
                for q in 0..<queryCount {
                    XCTAssertEqual(found[q].map(\.row), expected[q].map(\.row), "case \(n), \(kernels), query \(q)")
                    let worst = zip(found[q], expected[q]).map { abs($0.similarity - $1.similarity) }.max() ?? 0
                    XCTAssertLessThanOrEqual(worst, 1e-5, "case \(n), \(kernels)")
                }
            }
        }
    }

    /// More queries than one GEMM block of queries (2,048): the second block's queries get
    /// their own results.
    func testMoreQueriesThanOneBlock() throws {
        let matrix = Self.randomMatrix(count: ExactSearch.gemmRows + 13, dimension: 16, seed: 30)
        let queries = Self.randomMatrix(count: ExactSearch.gemmQueries + 21, dimension: 16, seed: 31)
        let all = (0..<queries.count).map { queries.row($0) }
        for kernels in ExactKernels.available {
            let found = try ExactSearch.search(all, in: matrix, k: 3, kernels: kernels)
            for q in stride(from: 0, to: all.count, by: 97) + [all.count - 1] {
                XCTAssertEqual(found[q].map(\.row), ExactSearch.reference(all[q], in: matrix, k: 3).map(\.row), "\(kernels), query \(q)")
            }
        }
    }

    /// Equal rows score equally wherever they sit (tile, chunk, block, thread): ties go to
    /// the lower row, as in the reference.
    func testTiesGoToTheLowerRowInEveryKernel() throws {
        let distinct = Self.randomMatrix(count: 40, dimension: 64, seed: 40)
        var rows: [Float] = []
        let count = ExactSearch.scanChunk + 700
        for row in 0..<count { rows += distinct.row(row % 40) }
        let matrix = EmbeddingMatrix(dimension: 64, normalizedRows: rows)
        let queries = [distinct.row(3), distinct.row(17), Self.randomMatrix(count: 1, dimension: 64, seed: 41).row(0)]
        for kernels in ExactKernels.available {
            for batch in [[queries[0]], queries] {
                let found = try ExactSearch.search(batch, in: matrix, k: 50, kernels: kernels)
                for (q, query) in batch.enumerated() {
                    XCTAssertEqual(found[q].map(\.row), ExactSearch.reference(query, in: matrix, k: 50).map(\.row),
                                   "\(kernels), \(batch.count) queries, query \(q)")
                }
            }
        }
    }

    /// A query of another dimension is refused, not read past its end.
    func testAQueryOfAnotherDimensionIsRefused() {
        let matrix = Self.randomMatrix(count: 10, dimension: 8, seed: 50)
        for queries in [[[Float](repeating: 0.1, count: 7)], [matrix.row(0), [Float](repeating: 0.1, count: 9)]] {
            XCTAssertThrowsError(try ExactSearch.search(queries, in: matrix, k: 3)) { error in
                XCTAssertTrue("\(error)".contains("8"), "\(error)")
            }
        }
    }

    func testTopKKeepsTheLargestAndBreaksTiesByRow() {
        var heap = TopK(k: 3)
        for (row, similarity) in [(5, 0.1), (1, 0.9), (7, 0.5), (2, 0.5), (9, 0.95), (3, 0.2)] as [(Int32, Float)] {
            heap.offer(row, similarity)
        }
        XCTAssertEqual(heap.sorted(), [RowMatch(row: 9, similarity: 0.95), RowMatch(row: 1, similarity: 0.9),
                                       RowMatch(row: 2, similarity: 0.5)])
    }
}
