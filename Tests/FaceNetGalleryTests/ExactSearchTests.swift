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

    func testTopKKeepsTheLargestAndBreaksTiesByRow() {
        var heap = TopK(k: 3)
        for (row, similarity) in [(5, 0.1), (1, 0.9), (7, 0.5), (2, 0.5), (9, 0.95), (3, 0.2)] as [(Int32, Float)] {
            heap.offer(row, similarity)
        }
        XCTAssertEqual(heap.sorted(), [RowMatch(row: 9, similarity: 0.95), RowMatch(row: 1, similarity: 0.9),
                                       RowMatch(row: 2, similarity: 0.5)])
    }
}
