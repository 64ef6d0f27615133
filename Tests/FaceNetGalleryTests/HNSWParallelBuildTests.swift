import Foundation
import FaceNetTestSupport
import XCTest
@testable import FaceNetGallery

/// The graph built on several threads (`HNSWIndex.insert(rowsUpTo:in:threads:)`) against the
/// one-by-one build, which is its reference: the same levels, a well-formed graph where every
/// node is reachable, and the same recall against brute force.
final class HNSWParallelBuildTests: XCTestCase {
    /// 400 identities × 10 samples (4,000 rows, above `HNSWParallelBuild.minimumRows`).
    private static let faces = SyntheticFaces(identities: 400, samples: 10, queries: 200, seed: 7)
    private static let parameters = HNSWParameters(m: 16, efConstruction: 100, seed: 0x5EED)
    private static let truth: [[Int32]] = faces.queries.map { HNSWIndex.exactTopK($0, k: 10, in: faces.gallery).map(\.row) }

    private static func recall(_ index: HNSWIndex, ef: Int) -> Double {
        var found = 0
        for (query, want) in zip(faces.queries, truth) {
            let got = Set(index.search(query, k: 10, ef: ef, in: faces.gallery).map(\.row))
            found += want.filter(got.contains).count
        }
        return Double(found) / Double(10 * truth.count)
    }

    /// Every list within its capacity, without itself, repeats or rows outside the graph; upper
    /// lists hold only nodes that have that layer; the entry point is on the top level; every
    /// node is reachable from it on layer 0.
    private func assertWellFormed(_ index: HNSWIndex, file: StaticString = #filePath, line: UInt = #line) {
        let count = index.count
        XCTAssertEqual(Int(index.levels[Int(index.entryPoint)]), index.maxLevel, "entry point level", file: file, line: line)
        XCTAssertEqual(index.levels.map(Int.init).max(), index.maxLevel, file: file, line: line)
        var problems: [String] = []
        for node in 0 ..< count {
            for layer in 0 ... Int(index.levels[node]) {
                let offset = index.listOffset(node, layer: layer)
                let storage = layer == 0 ? index.level0 : index.upper
                let n = Int(storage[offset]), capacity = layer == 0 ? 2 * index.parameters.m : index.parameters.m
                guard (0 ... capacity).contains(n) else { problems.append("node \(node) layer \(layer): \(n) links"); continue }
                let ids = storage[offset + 1 ..< offset + 1 + n]
                if layer == 0 && n == 0 && count > 1 { problems.append("node \(node) has no layer-0 links") }
                if ids.contains(Int32(node)) { problems.append("node \(node) layer \(layer) links to itself") }
                if Set(ids).count != n { problems.append("node \(node) layer \(layer) repeats a link") }
                for id in ids where id < 0 || Int(id) >= count || Int(index.levels[Int(id)]) < layer {
                    problems.append("node \(node) layer \(layer) links to \(id), which is not on that layer")
                }
            }
        }
        var seen = [Bool](repeating: false, count: count)
        var stack = [Int(index.entryPoint)]
        seen[Int(index.entryPoint)] = true
        while let node = stack.popLast() {
            let offset = node * index.stride0
            for id in index.level0[offset + 1 ..< offset + 1 + Int(index.level0[offset])] where !seen[Int(id)] {
                seen[Int(id)] = true
                stack.append(Int(id))
            }
        }
        let unreachable = seen.filter { !$0 }.count
        if unreachable > 0 { problems.append("\(unreachable) nodes unreachable on layer 0") }
        XCTAssertTrue(problems.isEmpty, problems.prefix(10).joined(separator: "; "), file: file, line: line)
    }

    func testParallelBuildMatchesTheOneByOneBuild() {
        let rows = Self.faces.gallery.count
        XCTAssertGreaterThanOrEqual(rows, HNSWParallelBuild.minimumRows)
        var sequential = HNSWIndex(parameters: Self.parameters)
        for row in 0 ..< rows { sequential.insert(row: Int32(row), in: Self.faces.gallery) }
        for threads in [2, 3] {
            var parallel = HNSWIndex(parameters: Self.parameters)
            parallel.insert(rowsUpTo: rows, in: Self.faces.gallery, threads: threads)
            XCTAssertEqual(parallel.count, rows)
            XCTAssertEqual(parallel.levels, sequential.levels, "levels depend on the seed only")
            XCTAssertEqual(parallel.upperStart, sequential.upperStart)
            assertWellFormed(parallel)
            let (got, want) = (Self.recall(parallel, ef: 32), Self.recall(sequential, ef: 32))
            print("recall@10 at ef 32: one by one \(want), \(threads) threads \(got)")
            XCTAssertGreaterThanOrEqual(got, 0.98)
            XCTAssertGreaterThanOrEqual(got, want - 0.01)
            // Saved and read back like any graph.
            let bytes = parallel.serialized()
            XCTAssertNoThrow(try HNSWIndex(serialized: bytes, matrixRows: rows))
        }
        assertWellFormed(sequential)
    }

    /// Extending a graph that has removed rows: the new rows are linked in parallel, the
    /// removed ones are never returned, recall over the live rows holds.
    func testParallelExtensionOfAGraphWithRemovedRows() {
        let rows = Self.faces.gallery.count
        var index = HNSWIndex(parameters: Self.parameters)
        for row in 0 ..< 1_000 { index.insert(row: Int32(row), in: Self.faces.gallery) }
        for row in stride(from: 0, to: 1_000, by: 7) { index.remove(row: Int32(row)) }
        index.insert(rowsUpTo: rows, in: Self.faces.gallery, threads: 2)
        XCTAssertEqual(index.count, rows)
        assertWellFormed(index)
        let removed = Set(stride(from: 0, to: 1_000, by: 7).map(Int32.init))
        var found = 0, wanted = 0
        for query in Self.faces.queries {
            let live = HNSWIndex.exactTopK(query, k: 10, in: Self.faces.gallery, isExcluded: { removed.contains($0) }).map(\.row)
            let got = index.search(query, k: 10, ef: 48, in: Self.faces.gallery).map(\.row)
            XCTAssertTrue(removed.isDisjoint(with: got))
            found += live.filter(Set(got).contains).count
            wanted += live.count
        }
        XCTAssertGreaterThanOrEqual(Double(found) / Double(wanted), 0.98)
    }

    /// Below `minimumRows` new rows, or on one thread, the build is the one-by-one build.
    func testSmallOrSingleThreadedExtensionsAreTheOneByOneBuild() {
        var sequential = HNSWIndex(parameters: Self.parameters)
        for row in 0 ..< 1_500 { sequential.insert(row: Int32(row), in: Self.faces.gallery) }
        var few = HNSWIndex(parameters: Self.parameters)
        few.insert(rowsUpTo: 1_500, in: Self.faces.gallery, threads: 4)
        XCTAssertEqual(few.serialized(), sequential.serialized())
        var oneThread = HNSWIndex(parameters: Self.parameters)
        oneThread.insert(rowsUpTo: 1_500, in: Self.faces.gallery, threads: 1)
        XCTAssertEqual(oneThread.serialized(), sequential.serialized())
    }
}
