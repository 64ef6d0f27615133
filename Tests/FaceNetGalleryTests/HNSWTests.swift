import Foundation
import FaceNetTestSupport
import XCTest
@testable import FaceNetGallery

// MARK: - Synthetic FaceNet-512-like data

/// SplitMix64 with Box–Muller normals: the test data is the same on every run.
private struct TestRandom {
    var seeded: SeededGenerator
    var spare: Double?
    init(state: UInt64) { seeded = SeededGenerator(seed: state) }
    mutating func next() -> UInt64 { seeded.next() }
    mutating func uniform() -> Double { (Double(next() >> 11) + 1) * 0x1p-53 }
    mutating func normal() -> Double {
        if let s = spare { spare = nil; return s }
        let r = (-2 * log(uniform())).squareRoot(), t = 2 * Double.pi * uniform()
        spare = r * sin(t)
        return r * cos(t)
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// N identities × S samples around unit centres that share a common direction, so that
/// same-identity pairs are at l2 ≈ 0.75 and different identities at ≈ 1.37 (FaceNet-512's
/// shape), plus fresh queries of random identities.
struct SyntheticFaces {
    let gallery: EmbeddingMatrix
    let queries: [[Float]]
    /// Queries of identities not in the gallery (an open-set search): their top 10 are all
    /// near ties, the hard case for an approximate index.
    let strangers: [[Float]]
    /// The identity of each gallery row.
    let rowIdentity: [Int]

    init(identities: Int, samples: Int, queries queryCount: Int, strangers strangerCount: Int = 0,
         dimension: Int = 512, seed: UInt64 = 42) {
        var random = TestRandom(state: seed)
        let sameDot = 1 - 0.75 * 0.75 / 2, differentDot = 1 - 1.37 * 1.37 / 2
        let sigma = ((1 / sameDot - 1) / Double(dimension)).squareRoot()
        let centreDot = differentDot / sameDot
        let beta = (centreDot / (1 - centreDot)).squareRoot()
        func unit(_ v: [Double]) -> [Double] {
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / n }
        }
        func gaussianUnit() -> [Double] { unit((0 ..< dimension).map { _ in random.normal() }) }
        let common = gaussianUnit()
        let centres = (0 ..< identities).map { _ in unit(zip(common, gaussianUnit()).map { beta * $0 + $1 }) }
        func sample(_ identity: Int) -> [Float] {
            EmbeddingMatrix.normalized(centres[identity].map { Float($0 + sigma * random.normal()) })
        }
        var rows: [Float] = []
        rows.reserveCapacity(identities * samples * dimension)
        var rowIdentity: [Int] = []
        for identity in 0 ..< identities {
            for _ in 0 ..< samples {
                rows.append(contentsOf: sample(identity))
                rowIdentity.append(identity)
            }
        }
        // Rows interleaved by a fixed shuffle, as a gallery fills in arbitrary order.
        var order = Array(0 ..< identities * samples)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, random.int(i + 1)) }
        var shuffled = [Float](repeating: 0, count: rows.count)
        for (to, from) in order.enumerated() {
            for j in 0 ..< dimension { shuffled[to * dimension + j] = rows[from * dimension + j] }
        }
        gallery = EmbeddingMatrix(dimension: dimension, normalizedRows: shuffled)
        self.rowIdentity = order.map { rowIdentity[$0] }
        queries = (0 ..< queryCount).map { _ in sample(random.int(identities)) }
        let unseen = (0 ..< strangerCount).map { _ in unit(zip(common, gaussianUnit()).map { beta * $0 + $1 }) }
        strangers = unseen.map { centre in EmbeddingMatrix.normalized(centre.map { Float($0 + sigma * random.normal()) }) }
    }
}

// MARK: - Shared fixture (built once)

private let parameters = HNSWParameters(m: 16, efConstruction: 200, seed: 0x5EED)

/// 500 identities × 10 samples = 5,000 rows of dimension 512; 200 fresh queries.
private let faces = SyntheticFaces(identities: 500, samples: 10, queries: 200, strangers: 100)

private let fullIndex: HNSWIndex = {
    var index = HNSWIndex(parameters: parameters)
    for row in 0 ..< faces.gallery.count { index.insert(row: Int32(row), in: faces.gallery) }
    return index
}()

private let exact: [[Int32]] = faces.queries.map { q in
    HNSWIndex.exactTopK(q, k: 10, in: faces.gallery).map(\.row)
}

private let strangerTruth: [[Int32]] = faces.strangers.map { q in
    HNSWIndex.exactTopK(q, k: 10, in: faces.gallery).map(\.row)
}

/// Mean recall@k of `index` against `truth`.
private func recall(_ index: HNSWIndex, ef: Int, k: Int = 10, truth: [[Int32]] = exact,
                    matrix: EmbeddingMatrix = faces.gallery, queries: [[Float]] = faces.queries) -> Double {
    var found = 0, wanted = 0
    var scratch = HNSWSearchScratch()
    var statistics = HNSWSearchStatistics()
    for (q, t) in zip(queries, truth) {
        let got = Set(index.search(q, k: k, ef: ef, in: matrix, scratch: &scratch, statistics: &statistics).map(\.row))
        found += t.filter(got.contains).count
        wanted += t.count
    }
    return Double(found) / Double(max(wanted, 1))
}

private func build(_ matrix: EmbeddingMatrix, rows: Int? = nil, parameters p: HNSWParameters = parameters) -> HNSWIndex {
    var index = HNSWIndex(parameters: p)
    for row in 0 ..< (rows ?? matrix.count) { index.insert(row: Int32(row), in: matrix) }
    return index
}

final class HNSWTests: XCTestCase {

    /// The generator has the intended shape (else the recall figures mean little).
    func testSyntheticDataHasFaceNetDistances() {
        let g = faces.gallery
        var same: [Double] = [], different: [Double] = []
        for i in 0 ..< 400 {
            for j in (i + 1) ..< 400 {
                let d = (2 - 2 * Double(zip(g.row(i), g.row(j)).reduce(Float(0)) { $0 + $1.0 * $1.1 })).squareRoot()
                if faces.rowIdentity[i] == faces.rowIdentity[j] { same.append(d) } else { different.append(d) }
            }
        }
        let meanSame = same.reduce(0, +) / Double(same.count)
        let meanDifferent = different.reduce(0, +) / Double(different.count)
        XCTAssertEqual(meanSame, 0.75, accuracy: 0.02)
        XCTAssertEqual(meanDifferent, 1.37, accuracy: 0.02)
    }

    /// recall@10 ≥ 0.99 against the brute-force top 10 at ef = 32 (5,000 rows, 200 queries).
    func testRecallAt10AtEF32() {
        let r = recall(fullIndex, ef: 32)
        XCTAssertGreaterThanOrEqual(r, 0.99, "recall@10 at ef 32: \(r)")
    }

    /// Open-set queries (identities not in the gallery), whose 10 nearest rows are near ties
    /// (similarity ≈ 0.06 each): recall@10 ≥ 0.80 at ef 64, ≥ 0.94 at ef 128 and ≥ 0.99 at
    /// ef 256 (0.831, 0.951, 0.991 when written; deterministic data).
    func testRecallAt10ForUnknownFaces() {
        let r = [64, 128, 256].map { recall(fullIndex, ef: $0, truth: strangerTruth, queries: faces.strangers) }
        print("recall@10 for unknown faces at ef 64, 128, 256: \(r)")
        XCTAssertGreaterThanOrEqual(r[0], 0.80)
        XCTAssertGreaterThanOrEqual(r[1], 0.94)
        XCTAssertGreaterThanOrEqual(r[2], 0.99)
    }

    /// Wider beams never lose much recall, and the widest is (near) exact (on the hard,
    /// open-set queries: the known faces are at 1.0 from ef 10 on).
    func testRecallIsMonotoneInEF() {
        let efs = [10, 16, 24, 32, 64, 128, 256]
        let recalls = efs.map { recall(fullIndex, ef: $0, truth: strangerTruth, queries: faces.strangers) }
        print("recall@10 for unknown faces by ef \(efs): \(recalls)")
        for i in 1 ..< recalls.count {
            XCTAssertGreaterThanOrEqual(recalls[i], recalls[i - 1] - 0.005, "ef \(efs[i]) vs \(efs[i - 1]): \(recalls)")
        }
        XCTAssertGreaterThanOrEqual(recalls.last ?? 0, 0.99, "\(recalls)")
        XCTAssertGreaterThan(recalls.last ?? 0, (recalls.first ?? 1) + 0.3, "ef must matter: \(recalls)")
    }

    /// Results come best first, with the exact inner product, no duplicates, k of them.
    func testResultsAreSortedExactAndDistinct() {
        for q in faces.queries.prefix(50) {
            let got = fullIndex.search(q, k: 10, ef: 32, in: faces.gallery)
            XCTAssertEqual(got.count, 10)
            XCTAssertEqual(Set(got.map(\.row)).count, got.count)
            for (a, b) in zip(got, got.dropFirst()) { XCTAssertGreaterThanOrEqual(a.similarity, b.similarity) }
            for r in got {
                let expected = q.withUnsafeBufferPointer { qp in
                    faces.gallery.storage.withUnsafeBufferPointer { v in
                        dot(qp.baseAddress!, v.baseAddress! + Int(r.row) * 512, count: 512)
                    }
                }
                XCTAssertEqual(r.similarity, expected, accuracy: 1e-5)
            }
        }
    }

    /// Deleted rows are never returned; k live results still come back, and they are the
    /// exact top-k of the live rows (or nearly); with the graph mostly deleted the beam is
    /// widened until they do.
    func testDeletedRowsAreNeverReturnedAndKLiveResultsComeBack() {
        // Delete each query's true top 5, plus every third row.
        var index = fullIndex
        var deleted = Set<Int32>()
        for t in exact { for r in t.prefix(5) { deleted.insert(r) } }
        for r in stride(from: 0, to: faces.gallery.count, by: 3) { deleted.insert(Int32(r)) }
        for r in deleted { index.remove(row: r) }
        index.remove(row: deleted.first!)  // twice: harmless
        XCTAssertEqual(index.deletedCount, deleted.count)
        XCTAssertTrue(deleted.allSatisfy(index.isDeleted))
        let liveTruth = faces.queries.map { q in
            HNSWIndex.exactTopK(q, k: 10, in: faces.gallery, isExcluded: { deleted.contains($0) }).map(\.row)
        }
        var found = 0
        for (q, t) in zip(faces.queries, liveTruth) {
            let got = index.search(q, k: 10, ef: 32, in: faces.gallery)
            XCTAssertEqual(got.count, 10)
            XCTAssertFalse(got.contains { deleted.contains($0.row) })
            found += Set(got.map(\.row)).intersection(t).count
        }
        // With each query's 5 best rows gone, its top 10 reaches into other identities, whose
        // similarities (≈ 0.06) are near ties: recall there is lower than on whole
        // identities (0.954 at ef 32 when written).
        let deletedRecall = Double(found) / Double(10 * liveTruth.count)
        print("recall@10 among live rows after deletions, ef 32: \(deletedRecall)")
        XCTAssertGreaterThanOrEqual(deletedRecall, 0.94)

        // 97 % deleted: the ef 10 beam is mostly tombstones; k live rows still come back.
        var sparse = fullIndex
        let live = Set((0 ..< Int32(faces.gallery.count)).filter { $0 % 37 == 5 })
        for r in 0 ..< Int32(faces.gallery.count) where !live.contains(r) { sparse.remove(row: r) }
        var widened = 0, sparseFound = 0
        for q in faces.queries.prefix(50) {
            var statistics = HNSWSearchStatistics()
            let got = sparse.search(q, k: 10, ef: 10, in: faces.gallery, statistics: &statistics)
            XCTAssertEqual(got.count, 10)
            XCTAssertTrue(got.allSatisfy { live.contains($0.row) })
            let truth = HNSWIndex.exactTopK(q, k: 10, in: faces.gallery, isExcluded: { !live.contains($0) })
            sparseFound += Set(got.map(\.row)).intersection(truth.map(\.row)).count
            widened += statistics.beamSearches > 1 || statistics.bruteForceFallbacks > 0 ? 1 : 0
        }
        print("97 % deleted: recall@10 among live rows \(Double(sparseFound) / 500), widened \(widened) of 50 searches")
        XCTAssertGreaterThanOrEqual(sparseFound, 400)

        // Fewer live rows than k: all of them.
        var few = build(faces.gallery, rows: 300)
        for r in 0 ..< Int32(300) where r != 7 && r != 250 && r != 299 { few.remove(row: r) }
        let got = few.search(faces.queries[0], k: 10, ef: 10, in: faces.gallery)
        XCTAssertEqual(Set(got.map(\.row)), [7, 250, 299])
        let none = { var i = few; i.remove(row: 7); i.remove(row: 250); i.remove(row: 299); return i }()
        XCTAssertEqual(none.search(faces.queries[0], k: 10, ef: 10, in: faces.gallery).count, 0)
    }

    /// Rows of the matrix not yet inserted are not returned; empty and one-node graphs work.
    func testIndexLaggingBehindTheMatrixAndTinyGraphs() {
        let partial = build(faces.gallery, rows: 1000)
        var found = 0
        for q in faces.queries.prefix(50) {
            let got = partial.search(q, k: 10, ef: 32, in: faces.gallery)
            XCTAssertEqual(got.count, 10)
            XCTAssertTrue(got.allSatisfy { $0.row < 1000 })
            found += Set(got.map(\.row)).intersection(HNSWIndex.exactTopK(q, k: 10, in: faces.gallery, rows: 1000).map(\.row)).count
        }
        // Each identity has ~2 of its 10 samples in the first 1,000 rows, so the rest of a top
        // 10 are near-tie rows of other identities (recall 0.94 at ef 32 when written).
        print("recall@10 of a 1,000-row index, ef 32: \(Double(found) / 500)")
        XCTAssertGreaterThanOrEqual(found, 450)
        let empty = HNSWIndex(parameters: parameters)
        XCTAssertEqual(empty.count, 0)
        XCTAssertTrue(empty.search(faces.queries[0], k: 5, ef: 10, in: faces.gallery).isEmpty)
        let one = build(faces.gallery, rows: 1)
        XCTAssertEqual(one.search(faces.queries[0], k: 5, ef: 10, in: faces.gallery).map(\.row), [0])
        XCTAssertTrue(fullIndex.search(faces.queries[0], k: 0, ef: 10, in: faces.gallery).isEmpty)
    }

    /// Serialise, deserialise: the same bytes again; inserting the rest into both gives the
    /// same graph (same bytes) and the same answers.
    func testRoundTripThenInsertMatchesTheOriginal() throws {
        var original = build(faces.gallery, rows: 3000, parameters: HNSWParameters(m: 16, efConstruction: 64, seed: 9))
        original.remove(row: 17)
        let bytes = original.serialized()
        var restored = try HNSWIndex(serialized: bytes, matrixRows: faces.gallery.count)
        XCTAssertEqual(restored.serialized(), bytes)
        XCTAssertEqual(restored.count, 3000)
        XCTAssertTrue(restored.isDeleted(17))
        for row in 3000 ..< 4000 {
            original.insert(row: Int32(row), in: faces.gallery)
            restored.insert(row: Int32(row), in: faces.gallery)
        }
        XCTAssertEqual(restored.serialized(), original.serialized())
        for q in faces.queries {
            let a = original.search(q, k: 10, ef: 40, in: faces.gallery)
            let b = restored.search(q, k: 10, ef: 40, in: faces.gallery)
            XCTAssertEqual(a.map(\.row), b.map(\.row))
            XCTAssertEqual(a.map(\.similarity), b.map(\.similarity))
        }
    }

    /// The same seed and insertion order give the same bytes; another seed another graph.
    func testBuildsAreDeterministic() {
        let cheap = HNSWParameters(m: 16, efConstruction: 64, seed: 0x5EED)
        let a = build(faces.gallery, rows: 1500, parameters: cheap).serialized()
        let b = build(faces.gallery, rows: 1500, parameters: cheap).serialized()
        XCTAssertEqual(a, b)
        var other = cheap
        other.seed = 7
        XCTAssertNotEqual(build(faces.gallery, rows: 1500, parameters: other).serialized(), a)
    }

    /// Every strict prefix of a serialised index throws (none is read past its end).
    func testEveryTruncationThrows() throws {
        let small = SyntheticFaces(identities: 30, samples: 10, queries: 0, dimension: 16, seed: 3)
        var index = build(small.gallery, parameters: HNSWParameters(m: 4, efConstruction: 32, seed: 1))
        index.remove(row: 3)
        let bytes = index.serialized()
        XCTAssertGreaterThan(index.maxLevel, 0)  // upper layers are covered too
        for length in 0 ..< bytes.count {
            XCTAssertThrowsError(try HNSWIndex(serialized: Array(bytes.prefix(length)), matrixRows: small.gallery.count),
                                 "prefix \(length) of \(bytes.count)")
        }
        XCTAssertThrowsError(try HNSWIndex(serialized: bytes + [0], matrixRows: small.gallery.count)) { error in
            XCTAssertEqual(error as? HNSWSerializationError, .trailingBytes)
        }
        XCTAssertNoThrow(try HNSWIndex(serialized: bytes, matrixRows: small.gallery.count))
    }

    /// Random corruptions throw, or decode to an index that is canonical (re-encodes to the
    /// same bytes) and searchable and extendable without a crash.
    func testRandomCorruptionsThrowOrLoadSomethingValid() {
        let small = SyntheticFaces(identities: 30, samples: 10, queries: 5, dimension: 16, seed: 4)
        var index = build(small.gallery, rows: 250, parameters: HNSWParameters(m: 4, efConstruction: 32, seed: 2))
        index.remove(row: 9)
        let bytes = index.serialized()
        var random = TestRandom(state: 99)
        var loaded = 0
        for trial in 0 ..< 3000 {
            var corrupt = bytes
            for _ in 0 ..< 1 + random.int(4) {
                let at = random.int(corrupt.count)
                switch random.int(3) {
                case 0: corrupt[at] ^= UInt8(1 << random.int(8))
                case 1: corrupt[at] = UInt8(truncatingIfNeeded: random.next())
                default: corrupt[at] = [0, 0xFF, 0x7F, 0x80][random.int(4)]
                }
            }
            guard var decoded = try? HNSWIndex(serialized: corrupt, matrixRows: small.gallery.count) else { continue }
            loaded += 1
            XCTAssertEqual(decoded.serialized(), corrupt, "trial \(trial)")
            for q in small.queries {
                let got = decoded.search(q, k: 5, ef: 8, in: small.gallery)
                XCTAssertTrue(got.allSatisfy { !decoded.isDeleted($0.row) && Int($0.row) < decoded.count })
                XCTAssertEqual(got.count, min(5, decoded.liveCount))
            }
            if decoded.count < small.gallery.count { decoded.insert(row: Int32(decoded.count), in: small.gallery) }
        }
        XCTAssertGreaterThan(loaded, 0)  // some corruptions (e.g. of the rng state) are valid
    }

    /// A neighbour id ≥ matrixRows (or ≥ the node count, or on a layer the neighbour is not
    /// on), a count above matrixRows and a bad header are rejected.
    func testInvalidContentsAreRejected() throws {
        let small = SyntheticFaces(identities: 20, samples: 10, queries: 0, dimension: 16, seed: 5)
        let index = build(small.gallery, rows: 150, parameters: HNSWParameters(m: 4, efConstruction: 32, seed: 3))
        let bytes = index.serialized()
        let rows = small.gallery.count  // 200
        XCTAssertNoThrow(try HNSWIndex(serialized: bytes, matrixRows: rows))
        // The first neighbour of node 0 on layer 0.
        let firstID = 48 + index.count + (index.count + 7) / 8 + 2
        XCTAssertGreaterThan(Int(bytes[firstID - 2]), 0)
        func with(id: UInt32, at offset: Int) -> [UInt8] {
            var b = bytes
            for i in 0 ..< 4 { b[offset + i] = UInt8(truncatingIfNeeded: id >> (8 * i)) }
            return b
        }
        for bad: UInt32 in [UInt32(rows), UInt32(rows) + 1, 150, UInt32.max, 0x8000_0000] {
            XCTAssertThrowsError(try HNSWIndex(serialized: with(id: bad, at: firstID), matrixRows: rows)) {
                XCTAssertEqual($0 as? HNSWSerializationError, .invalid("neighbour id"))
            }
        }
        XCTAssertThrowsError(try HNSWIndex(serialized: with(id: 0, at: firstID), matrixRows: rows))  // self link
        XCTAssertThrowsError(try HNSWIndex(serialized: bytes, matrixRows: 149))  // count > matrixRows
        var badMagic = bytes
        badMagic[0] = 0
        XCTAssertThrowsError(try HNSWIndex(serialized: badMagic, matrixRows: rows)) {
            XCTAssertEqual($0 as? HNSWSerializationError, .badMagic)
        }
        var badVersion = bytes
        badVersion[4] = 2
        XCTAssertThrowsError(try HNSWIndex(serialized: badVersion, matrixRows: rows))
        var badM = bytes
        badM[8] = 1  // m = 1
        XCTAssertThrowsError(try HNSWIndex(serialized: badM, matrixRows: rows))
        // A layer-1 neighbour that has no layer 1: find a level-1 node's first upper link
        // and point it at a level-0 node.
        let levels = index.levels
        if let lowNode = levels.firstIndex(of: 0), let highNode = levels.firstIndex(where: { $0 >= 1 }) {
            var offset = 48 + index.count + (index.count + 7) / 8
            for node in 0 ..< highNode {
                for layer in 0 ... Int(levels[node]) {
                    _ = layer
                    offset += 2 + 4 * (Int(bytes[offset]) | Int(bytes[offset + 1]) << 8)
                }
            }
            offset += 2 + 4 * (Int(bytes[offset]) | Int(bytes[offset + 1]) << 8)  // its layer 0
            XCTAssertGreaterThan(Int(bytes[offset]), 0)
            XCTAssertThrowsError(try HNSWIndex(serialized: with(id: UInt32(lowNode), at: offset + 2), matrixRows: rows)) {
                XCTAssertEqual($0 as? HNSWSerializationError, .invalid("neighbour not on the layer"))
            }
        }
        let json = #"{"m": 1, "efConstruction": 200, "seed": 1}"#
        XCTAssertThrowsError(try JSONDecoder().decode(HNSWParameters.self, from: Data(json.utf8)))
        XCTAssertEqual(try JSONDecoder().decode(HNSWParameters.self, from: JSONEncoder().encode(parameters)), parameters)
    }

    /// Live rows cut off from the entry point are still found (by the scan fallback): k live
    /// results whenever k live rows exist. The graph is written by hand: 0 ↔ 1, 2 ↔ 3.
    func testUnreachableLiveRowsAreStillReturned() throws {
        var bytes: [UInt8] = Array("HNSW".utf8)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        put(UInt16(1)); put(UInt16(0)); put(UInt32(2)); put(UInt32(10)); put(UInt64(1)); put(UInt64(1))
        put(UInt32(4)); put(Int32(0)); put(UInt32(0)); put(UInt32(1))  // 4 nodes, entry 0, level 0, 1 deleted
        bytes += [0, 0, 0, 0]  // levels
        bytes += [0b0010]  // node 1 deleted
        for neighbour: UInt32 in [1, 0, 3, 2] { put(UInt16(1)); put(neighbour) }
        let matrix = EmbeddingMatrix(dimension: 2, normalizedRows: [1, 0, 0.8, 0.6, 0, 1, 0.6, 0.8])
        let index = try HNSWIndex(serialized: bytes, matrixRows: 4)
        XCTAssertEqual(index.serialized(), bytes)
        var statistics = HNSWSearchStatistics()
        let got = index.search([0, 1], k: 3, ef: 3, in: matrix, statistics: &statistics)
        XCTAssertEqual(got.map(\.row), [2, 3, 0])
        XCTAssertEqual(statistics.bruteForceFallbacks, 1)
        XCTAssertEqual(index.search([1, 0], k: 1, ef: 1, in: matrix).map(\.row), [0])
    }

    /// A search at the ef that gives recall@10 ≥ 0.99 reads (distance evaluations, every one
    /// counted) well under 10 % of a 5,000-row index.
    func testSearchVisitsUnderTenPercentOfTheRows() throws {
        // The smallest ef (≥ k = 10) with recall@10 ≥ 0.99 on this data.
        let ef = try XCTUnwrap([10, 16, 24, 32, 48, 64].first { recall(fullIndex, ef: $0) >= 0.99 })
        var statistics = HNSWSearchStatistics()
        var scratch = HNSWSearchScratch()
        for q in faces.queries {
            _ = fullIndex.search(q, k: 10, ef: ef, in: faces.gallery, scratch: &scratch, statistics: &statistics)
        }
        let perQuery = Double(statistics.distanceEvaluations) / Double(faces.queries.count)
        let fraction = perQuery / Double(fullIndex.count)
        print("HNSW visits at ef \(ef): \(perQuery) distance evaluations per query = \(fraction * 100) % of \(fullIndex.count)")
        XCTAssertLessThan(fraction, 0.10)
        XCTAssertEqual(statistics.beamSearches, faces.queries.count)
        // For the record (not asserted): open-set queries need ef 256 for recall 0.99.
        var open = HNSWSearchStatistics()
        for q in faces.strangers {
            _ = fullIndex.search(q, k: 10, ef: 256, in: faces.gallery, scratch: &scratch, statistics: &open)
        }
        let openPerQuery = Double(open.distanceEvaluations) / Double(faces.strangers.count)
        print("unknown faces at ef 256: \(openPerQuery) distance evaluations per query = \(100 * openPerQuery / Double(fullIndex.count)) %")
    }

    /// The index adds well under 25 % to the raw vectors (dimension 512).
    func testMemoryOverheadIsSmall() {
        let raw = 4 * 512 * fullIndex.count
        let ratio = Double(fullIndex.memoryBytes) / Double(raw)
        print("HNSW index bytes \(fullIndex.memoryBytes) = \(ratio * 100) % of \(raw) raw")
        XCTAssertLessThan(ratio, 0.15)
        XCTAssertLessThan(Double(fullIndex.serialized().count) / Double(raw), 0.15)
    }

    /// Concurrent searches on one copy give the answers a single thread gives.
    func testConcurrentSearchesAgree() async {
        let index = fullIndex
        let expected = faces.queries.map { index.search($0, k: 10, ef: 32, in: faces.gallery).map(\.row) }
        let got = await withTaskGroup(of: (Int, [[Int32]]).self) { group in
            for part in 0 ..< 4 {
                group.addTask {
                    var scratch = HNSWSearchScratch()
                    var statistics = HNSWSearchStatistics()
                    let mine = stride(from: part, to: faces.queries.count, by: 4).map {
                        index.search(faces.queries[$0], k: 10, ef: 32, in: faces.gallery, scratch: &scratch,
                                     statistics: &statistics).map(\.row)
                    }
                    return (part, mine)
                }
            }
            var all = [[Int32]](repeating: [], count: faces.queries.count)
            for await (part, mine) in group {
                for (i, r) in zip(stride(from: part, to: faces.queries.count, by: 4), mine) { all[i] = r }
            }
            return all
        }
        XCTAssertEqual(got, expected)
    }
}
