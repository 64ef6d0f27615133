import Foundation
import FaceNetTestSupport
import XCTest
@testable import FaceNetGallery
import FaceNetKernels

/// `PostgresGalleryStore` against a real PostgreSQL with pgvector, named by
/// `FACENET_TEST_POSTGRES_URL` (`eval "$(bash Scripts/postgres.sh start)"` sets it). Without it
/// the tests skip, except under `CI=true`, where they fail: CI must run them. Each test works in
/// a gallery of its own (a random name) and drops it afterwards. About 2,000 rows in all.
final class PostgresGalleryStoreTests: XCTestCase {
    struct MissingServer: Error, CustomStringConvertible {
        var description: String
    }

    static let hint = "FACENET_TEST_POSTGRES_URL is not set: run `eval \"$(bash Scripts/postgres.sh start)\"` "
        + "(PostgreSQL 18 + pgvector on 127.0.0.1), then the tests again"

    /// The server's URL, without a gallery; skips (or fails under CI) when there is none.
    func serverURL() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["FACENET_TEST_POSTGRES_URL"], !url.isEmpty { return url }
        if environment["CI"] == "true" { throw MissingServer(description: Self.hint + " (CI=true: these tests must run)") }
        throw XCTSkip(Self.hint)
    }

    /// A URL for a gallery of its own: `t_<random>`.
    func galleryURL(_ tag: String) throws -> String {
        let base = try serverURL()
        let name = "t_\(tag)_\(UInt32.random(in: .min ... .max))"
        return base + (base.contains("?") ? "&" : "?") + "gallery=\(name)"
    }

    static func model(_ dimension: Int = 512) -> GalleryModel {
        GalleryModel(model: "facenet512-casia", dimension: dimension,
                     preprocessing: "mtcnn align=none margin=16 | resize=bilinear-aa crop=center color=rgb normalize=fixed",
                     weightSet: "casia-webface")
    }

    /// Creates a gallery, runs `body`, then drops it whether `body` threw or not.
    func withGallery(_ tag: String, dimension: Int = 512, _ body: (PostgresGalleryStore, String) async throws -> Void) async throws {
        let url = try galleryURL(tag)
        let store = try await PostgresGalleryStore.create(at: url, model: Self.model(dimension))
        do {
            try await body(store, url)
        } catch {
            try? await store.drop()
            try? await store.close()
            throw error
        }
        try await store.drop()
        try await store.close()
    }

    // MARK: - Data

    /// Seeded numbers (FaceNetTestSupport's SplitMix64) with a Gaussian beside them.
    struct Generator: RandomNumberGenerator {
        var seeded: SeededGenerator
        init(state: UInt64) { seeded = SeededGenerator(seed: state) }
        mutating func next() -> UInt64 { seeded.next() }
        mutating func gaussian() -> Float {
            let u = Float.random(in: Float.ulpOfOne..<1, using: &self), v = Float.random(in: 0..<1, using: &self)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
        }
        mutating func unitVector(_ dimension: Int) -> [Float] {
            normalised((0..<dimension).map { _ in gaussian() })
        }
    }

    static func normalised(_ v: [Float]) -> [Float] {
        let norm = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        return v.map { $0 / norm }
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    static func faces(_ count: Int, dimension: Int = 512, seed: UInt64) -> [GalleryFace] {
        var random = Generator(state: seed)
        return (0..<count).map { i in
            GalleryFace(identity: "person_\(i % 7)", file: i % 5 == 0 ? nil : "photos/p\(i / 2).jpg",
                        contentHash: i % 5 == 0 ? nil : String(repeating: "ab", count: 32),
                        box: i % 3 == 0 ? nil : [i, 2 * i, 100 + i, 120 + i],
                        confidence: i % 4 == 0 ? nil : Float.random(in: 0.9...1, using: &random),
                        landmarks: i % 3 == 0 ? nil : (0..<10).map { _ in Float.random(in: 0...160, using: &random) },
                        embedding: random.unitVector(dimension))
        }
    }

    func assertError(_ expected: String, _ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line) async {
        do {
            try await body()
            XCTFail("expected \(expected), nothing thrown", file: file, line: line)
        } catch let error as FaceNetError {
            let name = "\(error)"
            // `if case`, not a switch: the real FaceNetError has many more cases.
            var matches = false
            if case .invalidGallery = error { matches = expected == "invalidGallery" }
            if case .galleryMismatch = error { matches = expected == "galleryMismatch" }
            if case .storeUnavailable = error { matches = expected == "storeUnavailable" }
            if case .invalidArgument = error { matches = expected == "invalidArgument" }
            XCTAssertTrue(matches, "expected \(expected), got \(name)", file: file, line: line)
        } catch {
            XCTFail("expected \(expected), got \(String(reflecting: error))", file: file, line: line)
        }
    }

    // MARK: - Tests without a server

    func testAddressParsing() throws {
        let address = try PostgresAddress("postgres://alice:s%40cret@db.example:6543/faces?gallery=team_1")
        XCTAssertEqual(address.user, "alice")
        XCTAssertEqual(address.password, "s@cret")
        XCTAssertEqual(address.host, "db.example")
        XCTAssertEqual(address.port, 6543)
        XCTAssertEqual(address.database, "faces")
        XCTAssertEqual(address.gallery, "team_1")
        XCTAssertEqual(address.table, "facenet_gallery_team_1")
        XCTAssertEqual(address.redacted, "postgres://alice@db.example:6543/faces?gallery=team_1")
        let plain = try PostgresAddress("postgresql://bob@127.0.0.1/db")
        XCTAssertEqual(plain.port, 5432)
        XCTAssertEqual(plain.gallery, "default")
        XCTAssertNil(plain.password)
        for bad in ["postgres://u:pw@h/db?gallery=Bad", "postgres://u:pw@h/db?gallery=", "postgres://u:pw@h/db?gallery=a-b",
                    "postgres://u:pw@h/db?gallery=\(String(repeating: "a", count: 41))", "postgres://u:pw@h/", "postgres://h/db",
                    "mysql://u:pw@h/db", "postgres://u:pw@h/db?galery=x", "postgres://u:pw@h/db?sslmode=verify-full"] {
            XCTAssertThrowsError(try PostgresAddress(bad), bad) { error in
                let message = "\(error)"
                XCTAssertFalse(message.contains("pw"), "the password leaked: \(message)")
                XCTAssertTrue(message.contains("postgres://user[:password]@host"), message)
            }
        }
        XCTAssertEqual(PostgresAddress.redact("postgres://u:pw@h:1/db?gallery=x"), "postgres://u@h:1/db?gallery=x")
    }

    /// A refused connection fails with `storeUnavailable` (naming what to check), quickly.
    func testUnreachableServerIsStoreUnavailable() async throws {
        for url in ["postgres://facenet:secret@127.0.0.1:1/facenet_test?gallery=nowhere"] {
            let started = ContinuousClock.now
            do {
                _ = try await PostgresGalleryStore.open(url)
                XCTFail("open succeeded on port 1")
            } catch let error as FaceNetError {
                guard case .storeUnavailable(let location, let reason) = error else {
                    return XCTFail("expected storeUnavailable, got \(error)")
                }
                XCTAssertFalse(location.contains("secret"))
                XCTAssertTrue(reason.contains("127.0.0.1:1"), reason)
                print("unreachable: \(error)")
            }
            await assertError("storeUnavailable") { _ = try await PostgresGalleryStore.create(at: url, model: Self.model()) }
            let elapsed = ContinuousClock.now - started
            print("unreachable: open + create failed in \(elapsed)")
            XCTAssertLessThan(elapsed, .seconds(10))
        }
    }

    // MARK: - Tests with a server

    func testCreateOpenRoundTripAndModel() async throws {
        try await withGallery("roundtrip") { store, url in
            let value1 = try await store.model()
            XCTAssertEqual(value1, Self.model())
            let value2 = try await store.counts().faces
            XCTAssertEqual(value2, 0)
            let reopened = try await PostgresGalleryStore.open(url)
            let value3 = try await reopened.model()
            XCTAssertEqual(value3, Self.model())
            XCTAssertEqual(reopened.location, store.location)
            XCTAssertTrue(reopened.location.hasPrefix("postgres://"))
            XCTAssertTrue(reopened.location.contains("gallery=t_roundtrip_"))
            try await reopened.close()
        }
        // A password in the URL is not shown (the test server trusts 127.0.0.1, so any password works).
        let url = try galleryURL("password").replacingOccurrences(of: "://facenet@", with: "://facenet:hunter2@")
        if url.contains("hunter2") {
            let store = try await PostgresGalleryStore.create(at: url, model: Self.model(128))
            XCTAssertFalse(store.location.contains("hunter2"), store.location)
            let value4 = try await store.model().dimension
            XCTAssertEqual(value4, 128)
            try await store.drop()
            try await store.close()
        }
    }

    func testCreateTwiceIsInvalidGallery() async throws {
        try await withGallery("twice") { _, url in
            await self.assertError("invalidGallery") { _ = try await PostgresGalleryStore.create(at: url, model: Self.model()) }
        }
    }

    func testOpenMissingIsInvalidGallery() async throws {
        let url = try galleryURL("missing")
        await assertError("invalidGallery") { _ = try await PostgresGalleryStore.open(url) }
    }

    /// `open` checks the table: its columns and types, and that it exists at all.
    func testOpenForeignSchemaIsInvalidGallery() async throws {
        try await withGallery("schema", dimension: 8) { store, url in
            let table = try PostgresAddress(url).table
            try await store.execute("ALTER TABLE \(table) DROP COLUMN landmarks")
            do {
                _ = try await PostgresGalleryStore.open(url)
                XCTFail("opened a table without landmarks")
            } catch FaceNetError.invalidGallery(_, let reason) {
                XCTAssertTrue(reason.contains("landmarks real[]"), reason)
            }
            try await store.execute("DROP TABLE \(table)")
            await self.assertError("invalidGallery") { _ = try await PostgresGalleryStore.open(url) }
            // The open store says what happened rather than failing obscurely.
            await self.assertError("invalidGallery") { _ = try await store.counts() }
            try await store.execute("CREATE TABLE \(table) (id bigint)")
        }
    }

    func testMissingDatabaseIsStoreUnavailable() async throws {
        let base = try serverURL()
        guard let slash = base.range(of: "/", options: .backwards) else { return XCTFail("no database in \(base)") }
        let url = base[..<slash.upperBound] + "no_such_database_xyz"
        await assertError("storeUnavailable") { _ = try await PostgresGalleryStore.open(String(url)) }
    }

    func testInsertThenFacesReturnsWhatWasInserted() async throws {
        try await withGallery("insert") { store, _ in
            let faces = Self.faces(40, seed: 1)
            let generation0 = try await store.generation()
            let started = ContinuousClock.now
            let ids = try await store.insert(faces)
            print("insert: 40 faces in \(ContinuousClock.now - started)")
            XCTAssertEqual(ids.count, faces.count)
            XCTAssertEqual(ids, ids.sorted())
            XCTAssertEqual(Set(ids).count, ids.count)
            let stored = try await store.faces(after: 0, limit: nil)
            XCTAssertEqual(stored.count, faces.count)
            for (index, (got, want)) in zip(stored, faces).enumerated() {
                XCTAssertEqual(got.id, ids[index])
                XCTAssertEqual(got.identity, want.identity)
                XCTAssertEqual(got.file, want.file)
                XCTAssertEqual(got.contentHash, want.contentHash)
                XCTAssertEqual(got.box, want.box)
                XCTAssertEqual(got.confidence, want.confidence)
                XCTAssertEqual(got.landmarks, want.landmarks)
                XCTAssertEqual(got.embedding.count, want.embedding.count)
                for (a, b) in zip(got.embedding, want.embedding) { XCTAssertEqual(a, b, accuracy: 1e-7) }
                var expected = want
                expected.id = ids[index]
                XCTAssertEqual(got, expected, "float4 is exact for Float")
            }
            // Paging and the other reads.
            let page = try await store.faces(after: ids[9], limit: 5)
            XCTAssertEqual(page.map(\.id), Array(ids[10..<15]))
            let value5 = try await store.faces(after: ids.last ?? 0, limit: nil).count
            XCTAssertEqual(value5, 0)
            let value6 = try await store.faces(after: 0, limit: 0).count
            XCTAssertEqual(value6, 0)
            let value7 = try await store.ids()
            XCTAssertEqual(value7, ids)
            let counts = try await store.counts()
            XCTAssertEqual(counts.faces, 40)
            XCTAssertEqual(counts.identities, 7)
            let hashes = try await store.fileHashes()
            XCTAssertEqual(Set(hashes.keys), Set(faces.compactMap { $0.contentHash == nil ? nil : $0.file }))
            // Later inserts get larger ids.
            let more = try await store.insert(Self.faces(3, seed: 2))
            XCTAssertGreaterThan(more.first ?? 0, ids.last ?? .max)
            let value8 = try await store.faces(after: ids.last ?? 0, limit: nil).map(\.id)
            XCTAssertEqual(value8, more)
            let value9 = try await store.insert([])
            XCTAssertEqual(value9, [])
            // The generation moves with every write; faces(ids:) keeps the order asked, without embeddings.
            let generation1 = try await store.generation()
            XCTAssertGreaterThan(generation1, generation0)
            let picked = try await store.faces(ids: [more[1], ids[3], 999_999_999, ids[0]])
            XCTAssertEqual(picked.map(\.id), [more[1], ids[3], ids[0]])
            XCTAssertEqual(picked[1].identity, faces[3].identity)
            XCTAssertEqual(picked[1].box, faces[3].box)
            XCTAssertEqual(picked[1].landmarks, faces[3].landmarks)
            XCTAssertTrue(picked.allSatisfy { $0.embedding.isEmpty })
            let none = try await store.faces(ids: [])
            XCTAssertTrue(none.isEmpty)
            _ = try await store.remove(identity: "person_1")
            let generation2 = try await store.generation()
            XCTAssertGreaterThan(generation2, generation1)
        }
    }

    func testInsertIsAtomic() async throws {
        try await withGallery("atomic", dimension: 64) { store, _ in
            _ = try await store.insert(Self.faces(4, dimension: 64, seed: 3))
            // Refused before SQL: a wrong dimension, NaN.
            var batch = Self.faces(5, dimension: 64, seed: 4)
            batch.append(GalleryFace(identity: "short", embedding: [1, 0, 0]))
            await self.assertError("galleryMismatch") { _ = try await store.insert(batch) }
            var nan = Self.faces(3, dimension: 64, seed: 5)
            nan[1].embedding[7] = .nan
            await self.assertError("invalidArgument") { _ = try await store.insert(nan) }
            nan = Self.faces(3, dimension: 64, seed: 5)
            nan[2].landmarks = [Float.infinity] + Array(repeating: 0, count: 9)
            await self.assertError("invalidArgument") { _ = try await store.insert(nan) }
            // Refused by the server in the third statement of one transaction: the first two
            // statements' rows are rolled back too. (PostgreSQL's text cannot hold NUL.)
            var late = Self.faces(6, dimension: 64, seed: 6)
            late[5].identity = "bad\u{0}name"
            let generation = try await store.generation()
            await self.assertError("invalidArgument") { _ = try await store.insert(late, rowsPerStatement: 2) }
            let unchanged = try await store.generation()
            XCTAssertEqual(unchanged, generation, "a rolled-back insert leaves the generation")
            let value10 = try await store.counts().faces
            XCTAssertEqual(value10, 4)
            // The store still works after the rollback.
            let ids = try await store.insert(Self.faces(6, dimension: 64, seed: 7), rowsPerStatement: 2)
            XCTAssertEqual(ids.count, 6)
            XCTAssertEqual(ids, ids.sorted())
            let value11 = try await store.counts().faces
            XCTAssertEqual(value11, 10)
        }
    }

    /// Concurrent inserts take turns (the table lock): each batch's ids are one run, and a
    /// batch committed later has larger ids.
    func testConcurrentInsertsKeepIdsInCommitOrder() async throws {
        try await withGallery("concurrent", dimension: 32) { store, _ in
            let batches = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for batch in 0..<4 {
                    group.addTask { try await store.insert(Self.faces(25, dimension: 32, seed: UInt64(100 + batch)), rowsPerStatement: 10) }
                }
                var batches: [[Int64]] = []
                for try await ids in group { batches.append(ids) }
                return batches
            }
            for ids in batches {
                XCTAssertEqual(ids.count, 25)
                XCTAssertEqual((ids.last ?? 0) - (ids.first ?? 0), 24, "a batch's ids are one run: \(ids)")
            }
            let all = try await store.ids()
            XCTAssertEqual(all, batches.flatMap { $0 }.sorted())
            XCTAssertEqual(all.count, 100)
        }
    }

    func testExactNearestMatchesBruteForce() async throws {
        try await withGallery("exact") { store, _ in
            let faces = Self.faces(500, seed: 11)
            let started = ContinuousClock.now
            let ids = try await store.insert(faces)
            print("insert: 500 faces of 512 floats (HNSW index maintained) in \(ContinuousClock.now - started)")
            var random = Generator(state: 99)
            for q in 0..<5 {
                let query = q == 0 ? faces[123].embedding : random.unitVector(512)
                let reference = zip(ids, faces).map { ($0, Self.dot($1.embedding, query)) }
                    .sorted { $0.1 > $1.1 }.prefix(10)
                let searchStarted = ContinuousClock.now
                let found = try await store.nearest(to: query, k: 10, ef: nil, exact: true) ?? []
                if q == 0 { print("nearest exact: k 10 of 500 in \(ContinuousClock.now - searchStarted)") }
                XCTAssertEqual(found.map(\.face.id), reference.map(\.0), "query \(q)")
                for (match, (_, similarity)) in zip(found, reference) {
                    XCTAssertEqual(Double(match.similarity), similarity, accuracy: 1e-5)
                }
                if q == 0 {
                    XCTAssertEqual(found.first?.face.id, ids[123])
                    XCTAssertEqual(found.first?.face.embedding, faces[123].embedding)
                }
            }
            // The plans: exact never scans the HNSW index; the default search does.
            let query = random.unitVector(512)
            let exactPlan = try await store.nearestPlan(to: query, k: 10, ef: nil, exact: true)
            let indexPlan = try await store.nearestPlan(to: query, k: 10, ef: 100, exact: false)
            let short = { (plan: String) in plan.split(separator: "\n").map { $0.prefix(110) }.joined(separator: "\n") }
            print("exact plan:\n\(short(exactPlan))\nindex plan:\n\(short(indexPlan))")
            XCTAssertFalse(exactPlan.contains("Index Scan"), exactPlan)
            XCTAssertTrue(exactPlan.contains("Seq Scan"), exactPlan)
            XCTAssertTrue(indexPlan.contains("Index Scan using") && indexPlan.contains("embedding_hnsw"), indexPlan)
            // k larger than the index can serve is exact.
            let all = try await store.nearest(to: query, k: 1_001, ef: nil, exact: false) ?? []
            XCTAssertEqual(all.count, 500)
        }
    }

    /// `importFaces` into an empty gallery loads the rows without the HNSW index and builds it
    /// once at the end; a load that stopped before that (the index dropped, rows committed)
    /// still answers searches, exactly, and the next write builds the index.
    func testBulkImportBuildsTheIndexAtTheEndAndAnUnfinishedOneIsRepaired() async throws {
        try await withGallery("bulk", dimension: 64) { store, url in
            let faces = Self.faces(500, dimension: 64, seed: 31)
            let gallery = try await FaceGallery.open(url)
            let counts = LockedValue<[Int]>([])
            let stored = try await gallery.importFaces(faces, madeWith: Self.model(64), batchSize: 200, deferIndexFrom: 300) { n in
                counts.withLock { $0.append(n) }
            }
            XCTAssertEqual(stored, 500)
            XCTAssertEqual(counts.withLock { $0 }, [200, 400, 500])
            let indexes = try await store.hnswIndexCount()
            XCTAssertEqual(indexes, 1)
            let plan = try await store.nearestPlan(to: faces[7].embedding, k: 10, ef: 40, exact: false)
            XCTAssertTrue(plan.contains("Index Scan using") && plan.contains("embedding_hnsw"), plan)
            let top = try await gallery.search([faces[7].embedding], madeWith: Self.model(64), k: 1)
            XCTAssertEqual(top.matches.first?.first?.file, faces[7].file)
            // Not empty any more: a second bulk load keeps the index.
            let dropped = try await store.beginBulkLoad()
            XCTAssertFalse(dropped)
            let kept = try await store.hnswIndexCount()
            XCTAssertEqual(kept, 1)
            try await gallery.close()
        }
        try await withGallery("unfinished", dimension: 64) { store, url in
            let faces = Self.faces(100, dimension: 64, seed: 32)
            let dropped = try await store.beginBulkLoad()
            XCTAssertTrue(dropped)
            let ids = try await store.insert(faces)  // and then the load "crashes"
            let reopened = try await PostgresGalleryStore.open(url)
            let none = try await reopened.hnswIndexCount()
            XCTAssertEqual(none, 0)
            // Without the index the ANN path is a full scan: exact.
            let query = faces[42].embedding
            let reference = zip(ids, faces).map { ($0, Self.dot($1.embedding, query)) }.sorted { $0.1 > $1.1 }.prefix(10)
            let found = try await reopened.nearest(to: query, k: 10, ef: 40, exact: false) ?? []
            XCTAssertEqual(found.map(\.face.id), reference.map(\.0))
            _ = try await reopened.insert(Self.faces(1, dimension: 64, seed: 33))
            let built = try await reopened.hnswIndexCount()
            XCTAssertEqual(built, 1)
            try await reopened.close()
        }
    }

    func testHNSWRecallOnClusteredData() async throws {
        try await withGallery("hnsw") { store, _ in
            var random = Generator(state: 21)
            let identities = 250, samples = 3, dimension = 512
            let centres = (0..<identities).map { _ in random.unitVector(dimension) }
            func sample(_ identity: Int) -> [Float] {
                Self.normalised(centres[identity].map { $0 + 0.6 * random.gaussian() / Float(dimension).squareRoot() })
            }
            var faces: [GalleryFace] = []
            for identity in 0..<identities {
                for s in 0..<samples { faces.append(GalleryFace(identity: "id\(identity)", file: "f\(identity)_\(s)", embedding: sample(identity))) }
            }
            let ids = try await store.insert(faces)
            var recall = 0.0
            let queries = 50
            var elapsed = Duration.zero
            for _ in 0..<queries {
                let query = sample(Int.random(in: 0..<identities, using: &random))
                let truth = Set(zip(ids, faces).map { ($0, Self.dot($1.embedding, query)) }.sorted { $0.1 > $1.1 }.prefix(10).map(\.0))
                let started = ContinuousClock.now
                let found = try await store.nearest(to: query, k: 10, ef: 100, exact: false) ?? []
                elapsed += ContinuousClock.now - started
                XCTAssertEqual(found.count, 10)
                XCTAssertEqual(found.map(\.similarity), found.map(\.similarity).sorted(by: >))
                recall += Double(found.filter { truth.contains($0.face.id) }.count) / 10
            }
            recall /= Double(queries)
            print("hnsw: recall@10 \(recall) at ef 100 on \(faces.count) faces; \(elapsed / queries) a query")
            XCTAssertGreaterThanOrEqual(recall, 0.95)
        }
    }

    func testRemove() async throws {
        try await withGallery("remove", dimension: 8) { store, _ in
            var random = Generator(state: 5)
            let faces = [("ann", "a1.jpg"), ("ann", "a2.jpg"), ("ann", "shared.jpg"), ("bob", "shared.jpg"), ("bob", "b1.jpg"), ("cy", nil)]
                .map { GalleryFace(identity: $0.0, file: $0.1, contentHash: $0.1.map { "hash-\($0)" }, embedding: random.unitVector(8)) }
            let ids = try await store.insert(faces)
            let value12 = try await store.remove(file: "shared.jpg")
            XCTAssertEqual(value12, 2)
            let value13 = try await store.remove(file: "shared.jpg")
            XCTAssertEqual(value13, 0)
            let value14 = try await store.remove(identity: "ann")
            XCTAssertEqual(value14, 2)
            let value15 = try await store.remove(identity: "nobody")
            XCTAssertEqual(value15, 0)
            let value16 = try await store.ids()
            XCTAssertEqual(value16, [ids[4], ids[5]])
            let counts = try await store.counts()
            XCTAssertEqual(counts.faces, 2)
            XCTAssertEqual(counts.identities, 2)
            let value17 = try await store.fileHashes()
            XCTAssertEqual(value17, ["b1.jpg": "hash-b1.jpg"])
            let value18 = try await store.faces(after: 0, limit: nil).map(\.identity)
            XCTAssertEqual(value18, ["bob", "cy"])
        }
    }

    func testWrongDimensionQueryIsGalleryMismatch() async throws {
        try await withGallery("mismatch", dimension: 16) { store, _ in
            _ = try await store.insert(Self.faces(3, dimension: 16, seed: 8))
            await self.assertError("galleryMismatch") { _ = try await store.nearest(to: [Float](repeating: 0.25, count: 15), k: 1, ef: nil, exact: false) }
            await self.assertError("galleryMismatch") { _ = try await store.nearest(to: [Float](repeating: 0.25, count: 512), k: 1, ef: nil, exact: true) }
            var query = [Float](repeating: 0.25, count: 16)
            query[3] = .nan
            await self.assertError("invalidArgument") { _ = try await store.nearest(to: query, k: 1, ef: nil, exact: false) }
            query[3] = 0.25
            await self.assertError("invalidArgument") { _ = try await store.nearest(to: query, k: 0, ef: nil, exact: false) }
            await self.assertError("invalidArgument") { _ = try await store.nearest(to: query, k: 1, ef: 0, exact: false) }
            let value19 = try await store.nearest(to: query, k: 5, ef: 10, exact: false)?.count
            XCTAssertEqual(value19, 3)
        }
    }
}
