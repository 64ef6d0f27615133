import FaceNetKernels
import FaceNetKit
import Foundation
import FaceNetTestSupport
import GRDB
import XCTest
@testable import FaceNetGallery

/// The gallery on its embedded (SQLite) store: what goes in comes out, searches equal the
/// brute-force reference, and bad input is refused by name.
final class FaceGalleryTests: XCTestCase {
    private var directory = URL(fileURLWithPath: "/nonexistent")
    static let model = GalleryModel(model: "test-model", dimension: 64, preprocessing: "none", weightSet: WeightSet.casia512.rawValue)

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("gallery-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let created = directory
        addTeardownBlock { try? FileManager.default.removeItem(at: created) }
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Faces of `identities` people, `samples` each, around random centres (FaceNet-like
    /// clusters), from a seeded generator.
    static func clusteredFaces(identities: Int, samples: Int, dimension: Int, seed: UInt64) -> [GalleryFace] {
        var generator = SeededGenerator(seed: seed)
        var faces: [GalleryFace] = []
        for person in 0..<identities {
            let centre = EmbeddingMatrix.normalized((0..<dimension).map { _ in Float.random(in: -1...1, using: &generator) })
            for sample in 0..<samples {
                let noisy = centre.map { $0 + Float.random(in: -0.08...0.08, using: &generator) }
                faces.append(GalleryFace(identity: "person\(person)", file: "p\(person)/\(sample).jpg", embedding: noisy))
            }
        }
        return faces
    }

    func testStoredFacesComeBackWithEveryField() async throws {
        let gallery = try await FaceGallery.create(path("g.sqlite"), model: Self.model)
        var face = GalleryFace(identity: "alice", file: "people/alice/1.jpg", contentHash: String(repeating: "ab", count: 32),
                               box: [10, 20, 30, 40], confidence: 0.99, landmarks: (0..<10).map(Float.init),
                               embedding: (0..<64).map { Float($0) - 31.5 })
        let ids = try await gallery.add([face], madeWith: Self.model)
        XCTAssertEqual(ids, [1])
        try await gallery.close()
        let reopened = try await FaceGallery.open(path("g.sqlite"))
        XCTAssertEqual(reopened.model, Self.model)
        let stored = try await reopened.faces()
        face.id = 1
        face.embedding = EmbeddingMatrix.normalized(face.embedding)
        XCTAssertEqual(stored, [face])
    }

    /// Exact search equals the reference (every distance in Double, sorted), for several
    /// queries at once and one at a time, before and after removals.
    func testExactSearchEqualsTheReference() async throws {
        let faces = Self.clusteredFaces(identities: 100, samples: 5, dimension: 64, seed: 7)
        let gallery = try await FaceGallery.create(path("g.sqlite"), model: Self.model)
        try await gallery.add(faces, madeWith: Self.model)
        let queries = Self.clusteredFaces(identities: 3, samples: 2, dimension: 64, seed: 8).map(\.embedding) + [faces[17].embedding]
        let stored = faces.map { EmbeddingMatrix.normalized($0.embedding) }
        var identities = faces.map(\.identity)
        for round in 0..<2 {
            let (found, index) = try await gallery.search(queries, k: 10, metric: .cosine, mode: .exact)
            XCTAssertEqual(index, .exact)
            for (q, query) in queries.enumerated() {
                let normalized = EmbeddingMatrix.normalized(query)
                var scored: [(identity: String, distance: Double)] = []
                for i in stored.indices where !identities[i].isEmpty {
                    var dot = 0.0
                    for (x, y) in zip(normalized, stored[i]) { dot += Double(x) * Double(y) }
                    scored.append((identities[i], 1 - dot))
                }
                scored.sort { $0.distance < $1.distance }
                let expected = scored.prefix(10)
                XCTAssertEqual(found[q].map(\.identity), expected.map(\.identity), "round \(round), query \(q)")
                let worst = zip(found[q], expected).map { abs($0.distance - $1.distance) }.max() ?? 1
                XCTAssertLessThanOrEqual(worst, 1e-5)
            }
            let alone = try await gallery.search([queries[0]], k: 10, metric: .cosine, mode: .exact)
            XCTAssertEqual(alone.matches[0].map(\.faceID), found[0].map(\.faceID))
            XCTAssertEqual(found[6].first?.faceID, round == 0 ? 18 : found[6].first?.faceID, "a stored face finds itself")
            // Remove the person of face 17: it must vanish from every result.
            let removed = try await gallery.remove(identity: "person3")
            XCTAssertEqual(removed, round == 0 ? 5 : 0)
            for i in identities.indices where identities[i] == "person3" { identities[i] = "" }
        }
        let (afterRemoval, _) = try await gallery.search([faces[17].embedding], k: 50, mode: .exact)
        XCTAssertFalse(afterRemoval[0].contains { $0.identity == "person3" })
    }

    /// Distances and `verified` follow the metric and the weight set's threshold.
    func testDistanceAndThresholdFollowTheMetric() async throws {
        let gallery = try await FaceGallery.create(path("g.sqlite"), model: Self.model)
        let a = (0..<64).map { Float($0 % 7) - 3 }, b = (0..<64).map { Float($0 % 5) - 2 }
        try await gallery.add([GalleryFace(identity: "b", embedding: b)], madeWith: Self.model)
        for metric in [DistanceMetric.euclideanL2, .cosine, .angular] {
            let found = try await gallery.search([a], k: 1, metric: metric)
            let match = try XCTUnwrap(found.matches[0].first)
            XCTAssertEqual(match.distance, try metric.distance(a, b), accuracy: 1e-6, metric.rawValue)
            XCTAssertEqual(match.threshold, WeightSet.casia512.threshold(for: metric))
            XCTAssertEqual(match.verified, match.distance <= WeightSet.casia512.threshold(for: metric))
        }
        let strict = try await gallery.search([a], k: 1, threshold: 0.01).matches[0][0]
        XCTAssertEqual(strict.threshold, 0.01)
        XCTAssertFalse(strict.verified)
    }

    func testAnotherModelDimensionNaNOrZeroIsRefused() async throws {
        let gallery = try await FaceGallery.create(path("g.sqlite"), model: Self.model)
        var other = Self.model
        other.preprocessing = "mtcnn align=eyes"
        do {
            try await gallery.add([GalleryFace(identity: "x", embedding: [Float](repeating: 1, count: 64))], madeWith: other)
            XCTFail("another preprocessing was accepted")
        } catch let error as FaceNetError {
            XCTAssertEqual(error.code, "gallery_mismatch")
            XCTAssertTrue(error.description.contains("none") && error.description.contains("mtcnn align=eyes"), error.description)
        }
        let cases: [([Float], String)] = [([Float](repeating: 1, count: 128), "128-d"), ([Float](repeating: .nan, count: 64), "NaN"),
                                          ([Float](repeating: 0, count: 64), "all zeros")]
        for (embedding, mention) in cases {
            do {
                try await gallery.add([GalleryFace(identity: "x", embedding: embedding)], madeWith: Self.model)
                XCTFail("\(mention) was accepted")
            } catch let error as FaceNetError {
                XCTAssertTrue(error.description.contains(mention), error.description)
            }
            do {
                _ = try await gallery.search([embedding], madeWith: Self.model)
                XCTFail("a \(mention) query was accepted")
            } catch let error as FaceNetError {
                XCTAssertTrue(error.description.contains(mention), error.description)
            }
        }
        let statistics = try await gallery.statistics()
        XCTAssertEqual(statistics.faces, 0, "nothing was stored")
    }

    /// A second handle on the same file (another process's view): its additions and
    /// removals show in this one's next search.
    func testSearchSeesWhatAnotherHandleAddedAndRemoved() async throws {
        let first = try await FaceGallery.create(path("g.sqlite"), model: Self.model)
        let faces = Self.clusteredFaces(identities: 4, samples: 2, dimension: 64, seed: 9)
        try await first.add(Array(faces[0..<4]), madeWith: Self.model)
        let before = try await first.search([faces[6].embedding], k: 1, mode: .exact)
        XCTAssertEqual(before.matches[0].first?.identity, "person1")
        let second = try await FaceGallery.open(path("g.sqlite"))
        try await second.add(Array(faces[4..<8]), madeWith: Self.model)
        let after = try await first.search([faces[6].embedding], k: 1, mode: .exact)
        XCTAssertEqual(after.matches[0].first?.identity, "person3")
        try await second.remove(identity: "person3")
        let afterRemoval = try await first.search([faces[6].embedding], k: 8, mode: .exact).matches[0]
        XCTAssertEqual(afterRemoval.count, 6)
        XCTAssertFalse(afterRemoval.map(\.identity).contains("person3"))
    }

    /// Not a gallery: a missing path, a text file, a SQLite database of something else, a
    /// truncated gallery, an existing file at create. Each is `invalidGallery` naming it.
    func testForeignTruncatedAndMissingFilesAreNamed() async throws {
        func assertInvalid(_ location: String, _ mention: String, create: Bool = false, line: UInt = #line) async {
            do {
                if create {
                    _ = try await FaceGallery.create(location, model: Self.model)
                } else {
                    let gallery = try await FaceGallery.open(location)
                    _ = try await gallery.search([[Float](repeating: 1, count: 64)], mode: .exact)
                }
                XCTFail("\(location) was accepted", line: line)
            } catch let error as FaceNetError {
                XCTAssertEqual(error.code, "invalid_gallery", error.description, line: line)
                XCTAssertTrue(error.description.hasPrefix(location + ":"), error.description, line: line)
                XCTAssertTrue(error.description.contains(mention), "\(error.description) lacks \(mention)", line: line)
            } catch {
                XCTFail("\(error)", line: line)
            }
        }
        await assertInvalid(path("missing.sqlite"), "no such file")
        try Data("just text, not a database at all\n".utf8).write(to: URL(fileURLWithPath: path("text.sqlite")))
        await assertInvalid(path("text.sqlite"), "not a SQLite database")
        let other = try DatabaseQueue(path: path("other.sqlite"))
        try await other.write { try $0.execute(sql: "CREATE TABLE notes (text TEXT)") }
        try other.close()
        await assertInvalid(path("other.sqlite"), "not a facenet gallery")
        await assertInvalid(path("other.sqlite"), "a file exists there", create: true)
        // A gallery cut short: the first page only.
        let whole = try await FaceGallery.create(path("whole.sqlite"), model: Self.model)
        try await whole.add(Self.clusteredFaces(identities: 30, samples: 4, dimension: 64, seed: 10), madeWith: Self.model)
        try await whole.close()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("whole.sqlite")))
        for cut in [100, 4096, bytes.count / 2] where cut < bytes.count {
            let truncated = path("cut\(cut).sqlite")
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: truncated))
            do {
                let gallery = try await FaceGallery.open(truncated)
                let found = try await gallery.search([[Float](repeating: 1, count: 64)], mode: .exact)
                // SQLite may read a prefix that still holds whole pages: then it answers from them.
                XCTAssertLessThanOrEqual(found.matches[0].count, 5)
            } catch let error as FaceNetError {
                XCTAssertEqual(error.code, "invalid_gallery", error.description)
            }
        }
    }

    /// The index saved beside the gallery is read back (with its graph), brought up to date
    /// with changes made after it was saved, and a damaged one is ignored: results always
    /// equal a search on a gallery read from the store alone.
    func testSavedIndexIsUsedRefreshedAndRebuiltWhenDamaged() async throws {
        let location = path("g.sqlite"), cache = GalleryIndexCache.path(for: location)
        let faces = Self.clusteredFaces(identities: 60, samples: 5, dimension: 64, seed: 11)
        let queries = Self.clusteredFaces(identities: 4, samples: 1, dimension: 64, seed: 12).map(\.embedding)
        let gallery = try await FaceGallery.create(location, model: Self.model)
        try await gallery.add(Array(faces[0..<200]), madeWith: Self.model)
        try await gallery.saveIndex(graph: true)
        let saved = try XCTUnwrap(GalleryIndexCache.read(cache, dimension: 64))
        XCTAssertEqual(saved.ids, Array(1...200))
        XCTAssertEqual(saved.graph?.count, 200)
        // Changes after the save, by another handle.
        try await gallery.add(Array(faces[200..<300]), madeWith: Self.model)
        try await gallery.remove(identity: "person2")
        let reference = try await gallery.search(queries, k: 8, mode: .exact).matches
        for (name, damage) in [("intact", { (data: Data) in data }), ("truncated", { (data: Data) in data.prefix(data.count - 7) }),
                               ("id flipped", { (data: Data) in var d = data; d[GalleryIndexCache.headerBytes + 3] ^= 0xFF; return d }),
                               ("float flipped", { (data: Data) in var d = data; d[GalleryIndexCache.headerBytes + 200 * 8 + 999] ^= 0x01; return d })] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: cache))
            try damage(bytes).write(to: URL(fileURLWithPath: cache))
            XCTAssertEqual(GalleryIndexCache.read(cache, dimension: 64) == nil, name != "intact", "\(name): read as usable or not")
            let reopened = try await FaceGallery.open(location)
            let exact = try await reopened.search(queries, k: 8, mode: .exact).matches
            XCTAssertEqual(exact.map { $0.map(\.faceID) }, reference.map { $0.map(\.faceID) }, name)
            let approximate = try await reopened.search(queries, k: 8, mode: .approximate(ef: 100)).matches
            XCTAssertFalse(approximate.joined().contains { $0.identity == "person2" }, name)
            XCTAssertEqual(approximate.map { $0.first?.faceID }, reference.map { $0.first?.faceID }, name)
            try bytes.write(to: URL(fileURLWithPath: cache))
        }
    }

    /// The streamed checksum equals the one-shot checksum however the bytes are split
    /// (pieces that are not whole 64-bit words included), and differs after any flipped bit.
    func testStreamedChecksumMatchesOneShot() {
        var generator = SeededGenerator(seed: 5)
        let bytes = (0..<1_003).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let whole = bytes.withUnsafeBytes { GalleryIndexCache.checksum(of: $0) }
        for cuts in [[0], [1], [7, 8], [3, 500, 501, 1_000], [8, 16, 1_002], [999]] {
            var hasher = FNV1a64()
            var start = 0
            for cut in cuts + [bytes.count] {
                bytes[start..<cut].withUnsafeBytes { hasher.update($0) }
                start = cut
            }
            XCTAssertEqual(hasher.finish(), whole, "split at \(cuts)")
        }
        var flipped = bytes
        flipped[1_001] ^= 0x10
        XCTAssertNotEqual(flipped.withUnsafeBytes { GalleryIndexCache.checksum(of: $0) }, whole)
    }

    /// A cache whose checksum is right but which holds a NaN (or whose graph is damaged)
    /// is not used: the checksum guards against damage, the contents are checked as well.
    func testSavedIndexWithValidChecksumButBadContentsIsIgnored() async throws {
        let location = path("g.sqlite"), cache = GalleryIndexCache.path(for: location)
        let gallery = try await FaceGallery.create(location, model: Self.model)
        try await gallery.add(Self.clusteredFaces(identities: 20, samples: 3, dimension: 64, seed: 3), madeWith: Self.model)
        try await gallery.saveIndex(graph: true)
        let intact = try Data(contentsOf: URL(fileURLWithPath: cache))
        XCTAssertNotNil(GalleryIndexCache.read(cache, dimension: 64))
        XCTAssertNil(GalleryIndexCache.read(cache, dimension: 32), "another dimension")
        let floats = GalleryIndexCache.headerBytes + 60 * 8, graph = floats + 60 * 64 * 4
        for (name, offset, value) in [("NaN", floats + 4 * 70, Float.nan.bitPattern), ("infinity", floats, Float.infinity.bitPattern),
                                      ("graph", graph + 8, UInt32.max)] {
            var data = intact
            withUnsafeBytes(of: value.littleEndian) { data.replaceSubrange(offset..<offset + 4, with: $0) }
            let sum = data.withUnsafeBytes { GalleryIndexCache.checksum(of: UnsafeRawBufferPointer(rebasing: $0[GalleryIndexCache.headerBytes...])) }
            withUnsafeBytes(of: sum.littleEndian) { data.replaceSubrange(44..<52, with: $0) }
            try data.write(to: URL(fileURLWithPath: cache))
            XCTAssertNil(GalleryIndexCache.read(cache, dimension: 64), name)
        }
    }

    /// The HNSW path through the gallery: recall@10 against exact search, removed faces
    /// never returned, and the index it reports.
    func testApproximateSearchFindsWhatExactSearchFinds() async throws {
        let faces = Self.clusteredFaces(identities: 400, samples: 5, dimension: 64, seed: 13)
        let gallery = try await FaceGallery.create(path("g.sqlite"), model: Self.model)
        try await gallery.add(faces, madeWith: Self.model)
        try await gallery.remove(identity: "person5")
        let queries = Self.clusteredFaces(identities: 50, samples: 1, dimension: 64, seed: 14).map(\.embedding)
            + faces[25..<30].map(\.embedding)
        let exact = try await gallery.search(queries, k: 10, mode: .exact)
        let approximate = try await gallery.search(queries, k: 10, mode: .approximate(ef: 64))
        XCTAssertEqual(approximate.index, .hnsw(ef: 64))
        var hits = 0
        for (a, e) in zip(approximate.matches, exact.matches) {
            hits += Set(a.map(\.faceID)).intersection(e.map(\.faceID)).count
            XCTAssertEqual(a.count, 10)
        }
        let recall = Double(hits) / Double(queries.count * 10)
        XCTAssertGreaterThanOrEqual(recall, 0.95, "recall@10 \(recall)")
        XCTAssertFalse(approximate.matches.joined().contains { $0.identity == "person5" })
    }
}
