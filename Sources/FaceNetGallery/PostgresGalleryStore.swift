import Foundation
import PostgresNIO
import FaceNetKernels

/// A gallery in PostgreSQL with pgvector: one row per face in its own table, searched in SQL by
/// an HNSW index on inner product (embeddings are l2-normalised, so that is the cosine).
///
/// Location: `postgres://user[:password]@host[:port]/database[?gallery=NAME][&sslmode=MODE]`
/// (`postgresql://` too). `NAME` is `[a-z0-9_]{1,40}`, `default` when absent; `sslmode` is
/// `disable` (the default) or `require` (TLS, the certificate verified against the system's
/// roots). The database needs `CREATE EXTENSION vector` (run once by a superuser).
///
/// Schema: `facenet_galleries` holds one row per gallery (its model, and a generation that every
/// write bumps in its own transaction); `facenet_gallery_<NAME>`
/// holds its faces, with btree indexes on `identity` and `file` and an HNSW index
/// (`vector_ip_ops`, m 16, ef_construction 64) on `embedding`.
///
/// `create`/`open` first connect once on their own (bounded by `connectTimeout`), so an
/// unreachable server, a refused login or a missing database fails at once with
/// `storeUnavailable`; the calls after that go through a small `PostgresClient` pool, which
/// `close()` shuts down. Writers to one gallery are serialised by a table lock, so ids grow
/// in commit order (what `faces(after:)` relies on to refresh).
struct PostgresGalleryStore: GalleryStore {
    /// The URL without its password.
    let location: String
    private let address: PostgresAddress
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let galleryModel: GalleryModel
    /// The `vector` type's oid in this database (an extension type: it differs between databases).
    private let vectorType: PostgresDataType
    /// The table had no HNSW index when opened (a bulk load that did not finish): every
    /// insert then ends by building it (`ensureIndex`).
    private let indexMissingAtOpen: Bool

    /// How long a connection attempt may take before `storeUnavailable`.
    static let connectTimeoutSeconds: Int64 = 5
    /// How long a call waits for a pooled connection before it checks the server itself.
    static let leaseWatchSeconds: Int64 = 5
    /// Rows per INSERT statement (7 parameters a row; the protocol allows 65,535 per statement).
    static let insertRowsPerStatement = 1_000
    /// pgvector's largest `hnsw.ef_search` and the largest dimension its HNSW index takes.
    static let maxEfSearch = 1_000
    static let maxDimension = 2_000

    private static let metadataTable = "facenet_galleries"

    private init(address: PostgresAddress, client: PostgresClient, runner: Task<Void, Never>,
                 model: GalleryModel, vectorType: PostgresDataType, indexMissing: Bool) {
        (self.address, self.client, self.runner) = (address, client, runner)
        (self.galleryModel, self.vectorType, self.location) = (model, vectorType, address.redacted)
        indexMissingAtOpen = indexMissing
    }

    /// The gallery's HNSW index (pgvector's parameters: m 16, ef_construction 64; inner
    /// product, since embeddings are l2-normalised).
    private static func hnswIndexSQL(_ table: String) -> String {
        "CREATE INDEX \(table)_embedding_hnsw ON \(table) USING hnsw (embedding vector_ip_ops) WITH (m = 16, ef_construction = 64)"
    }

    /// Names of the HNSW indexes on `table` (one normally; none after an unfinished bulk load).
    private static func hnswIndexes(_ connection: PostgresConnection, table: String) async throws -> [String] {
        try await connection.query("""
            SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
            WHERE i.indrelid = to_regclass(\(table)) AND am.amname = 'hnsw' ORDER BY 1
            """, logger: logger).collect().map { try $0.decode(String.self) }
    }

    // MARK: - Create, open, close

    static func create(at location: String, model: GalleryModel) async throws -> PostgresGalleryStore {
        let address = try PostgresAddress(location)
        guard (1...maxDimension).contains(model.dimension) else {
            throw FaceNetError.invalidArgument(
                "\(address.redacted): a PostgreSQL gallery takes embeddings of 1 to \(maxDimension) floats "
                    + "(pgvector's HNSW limit), not \(model.dimension)")
        }
        let vectorType = try await withProbe(address) { connection in
            let vectorType = try await vectorOID(connection, address)
            let table = address.table
            try await inTransaction(connection) { connection in
                // Two processes creating the first gallery at once would race on CREATE TABLE.
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext('facenet_galleries'))", logger: logger)
                try await connection.query("""
                    CREATE TABLE IF NOT EXISTS \(unescaped: metadataTable) (
                        name text PRIMARY KEY, model text NOT NULL, dimension int NOT NULL,
                        preprocessing text NOT NULL, weight_set text, created_at timestamptz NOT NULL DEFAULT now(),
                        generation bigint NOT NULL DEFAULT 0)
                    """, logger: logger)
                // A table made before `generation` existed gets it (ALTER only then: it needs ownership).
                let hasGeneration = try await connection.query("""
                    SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(\(metadataTable))
                    AND attname = 'generation' AND NOT attisdropped
                    """, logger: logger).collect().first?.decode(Int64.self) ?? 0
                if hasGeneration == 0 {
                    try await connection.query(
                        "ALTER TABLE \(unescaped: metadataTable) ADD COLUMN generation bigint NOT NULL DEFAULT 0", logger: logger)
                }
                let existing = try await connection.query(
                    "SELECT count(*) FROM \(unescaped: metadataTable) WHERE name = \(address.gallery)", logger: logger)
                    .collect().first?.decode(Int64.self) ?? 0
                guard existing == 0 else {
                    throw FaceNetError.invalidGallery(
                        location: address.redacted,
                        reason: "a gallery named '\(address.gallery)' exists already; open it, or choose another name "
                            + "with ?gallery=NAME")
                }
                let clash = try await connection.query(
                    "SELECT to_regclass(\(table)) IS NOT NULL", logger: logger).collect().first?.decode(Bool.self) ?? false
                guard !clash else {
                    throw FaceNetError.invalidGallery(
                        location: address.redacted,
                        reason: "a table named \(table) exists but is not a registered gallery; drop or rename it, "
                            + "or choose another gallery name")
                }
                try await connection.query("""
                    INSERT INTO \(unescaped: metadataTable) (name, model, dimension, preprocessing, weight_set)
                    VALUES (\(address.gallery), \(model.model), \(Int32(model.dimension)), \(model.preprocessing), \(model.weightSet))
                    """, logger: logger)
                // Identifiers are safe to splice: the gallery name is [a-z0-9_]{1,40}; the index
                // names are PostgreSQL's own (a long table name would truncate ours alike).
                try await connection.query("""
                    CREATE TABLE \(unescaped: table) (
                        id bigserial PRIMARY KEY, identity text NOT NULL, file text, content_hash text, box int[],
                        confidence real, landmarks real[], embedding vector(\(unescaped: String(model.dimension))) NOT NULL)
                    """, logger: logger)
                try await connection.query("CREATE INDEX ON \(unescaped: table) (identity)", logger: logger)
                try await connection.query("CREATE INDEX ON \(unescaped: table) (file)", logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: hnswIndexSQL(table)), logger: logger)
            }
            return vectorType
        }
        return start(address, model: model, vectorType: vectorType)
    }

    static func open(_ location: String) async throws -> PostgresGalleryStore {
        let address = try PostgresAddress(location)
        let (model, vectorType, indexMissing) = try await withProbe(address) { connection in
            let vectorType = try await vectorOID(connection, address)
            let hasMetadata = try await connection.query(
                "SELECT to_regclass(\(metadataTable)) IS NOT NULL", logger: logger).collect().first?.decode(Bool.self) ?? false
            guard hasMetadata else {
                throw FaceNetError.invalidGallery(
                    location: address.redacted,
                    reason: "the database has no galleries (no \(metadataTable) table); create the gallery first")
            }
            let rows = try await connection.query("""
                SELECT model, dimension, preprocessing, weight_set, generation FROM \(unescaped: metadataTable) WHERE name = \(address.gallery)
                """, logger: logger).collect()
            guard let row = rows.first else {
                let names = try await connection.query(
                    "SELECT name FROM \(unescaped: metadataTable) ORDER BY name LIMIT 20", logger: logger).collect()
                    .map { try $0.decode(String.self) }
                throw FaceNetError.invalidGallery(
                    location: address.redacted,
                    reason: "no gallery named '\(address.gallery)' in this database"
                        + (names.isEmpty ? "" : " (it has: \(names.joined(separator: ", ")))")
                        + "; create it first, or name one with ?gallery=NAME")
            }
            let (name, dimension, preprocessing, weightSet, _) = try row.decode((String, Int32, String, String?, Int64).self)
            let model = GalleryModel(model: name, dimension: Int(dimension), preprocessing: preprocessing, weightSet: weightSet)
            try await checkSchema(connection, address, dimension: model.dimension)
            let indexMissing = try await hnswIndexes(connection, table: address.table).isEmpty
            return (model, vectorType, indexMissing)
        }
        return start(address, model: model, vectorType: vectorType, indexMissing: indexMissing)
    }

    /// Shuts the pool down. A store never closed keeps its pool's task (and idle connections)
    /// until the process ends.
    func close() async throws {
        runner.cancel()
        await runner.value
    }

    func model() async throws -> GalleryModel { galleryModel }

    // MARK: - Writes

    func insert(_ faces: [GalleryFace]) async throws -> [Int64] {
        try await insert(faces, rowsPerStatement: Self.insertRowsPerStatement)
    }

    /// `insert`, `rowsPerStatement` rows to a statement (tests use small ones to span several).
    func insert(_ faces: [GalleryFace], rowsPerStatement: Int) async throws -> [Int64] {
        guard !faces.isEmpty else { return [] }
        var rows: [(GalleryFace, [Int32]?)] = []
        rows.reserveCapacity(faces.count)
        for (index, face) in faces.enumerated() {
            rows.append((face, try checkFace(face, index: index)))
        }
        let perStatement = max(1, min(rowsPerStatement, Int(UInt16.max) / 7))
        var statements: [PostgresQuery] = []
        for start in stride(from: 0, to: rows.count, by: perStatement) {
            let chunk = rows[start..<min(start + perStatement, rows.count)]
            var binds = PostgresBindings(capacity: chunk.count * 7)
            var sql = "INSERT INTO \(address.table) (identity, file, content_hash, box, confidence, landmarks, embedding) VALUES "
            for (offset, (face, box)) in chunk.enumerated() {
                let p = offset * 7
                sql += offset == 0 ? "" : ","
                sql += "($\(p + 1),$\(p + 2)::text,$\(p + 3)::text,$\(p + 4)::int4[],$\(p + 5)::real,$\(p + 6)::real[],$\(p + 7))"
                binds.append(face.identity)
                binds.append(face.file)
                binds.append(face.contentHash)
                binds.append(box)
                binds.append(face.confidence)
                binds.append(face.landmarks)
                binds.append(PGVector(face.embedding, type: vectorType))
            }
            statements.append(PostgresQuery(unsafeSQL: sql + " RETURNING id", binds: binds))
        }
        let (table, statementList, bump) = (address.table, statements, bumpGeneration)
        let ids = try await transaction { connection in
            // Serialises writers: a transaction that commits later holds larger ids.
            try await connection.query("LOCK TABLE \(unescaped: table) IN SHARE ROW EXCLUSIVE MODE", logger: Self.logger)
            try await connection.query(bump, logger: Self.logger)
            var ids: [Int64] = []
            for statement in statementList {
                var chunk: [Int64] = []
                for try await id in try await connection.query(statement, logger: Self.logger).decode(Int64.self) {
                    chunk.append(id)
                }
                // Ids are drawn in VALUES order; RETURNING's row order is not promised.
                ids += chunk.sorted()
            }
            return ids
        }
        guard ids.count == faces.count else {
            throw FaceNetError.internalError(
                "PostgresGalleryStore.insert: \(faces.count) faces stored but \(ids.count) ids returned")
        }
        if indexMissingAtOpen { try await ensureIndex() }
        return ids
    }

    // MARK: - Bulk loading

    /// Drops the HNSW index when the gallery is empty (under the writers' table lock, so no
    /// other writer is halfway); returns whether it did. pgvector builds an index over loaded
    /// rows several times faster than it inserts them one by one into the graph.
    func beginBulkLoad() async throws -> Bool {
        let table = address.table
        return try await transaction { connection in
            try await connection.query("LOCK TABLE \(unescaped: table) IN SHARE ROW EXCLUSIVE MODE", logger: Self.logger)
            let empty = try await connection.query("SELECT NOT EXISTS (SELECT 1 FROM \(unescaped: table))", logger: Self.logger)
                .collect().first?.decode(Bool.self) ?? false
            guard empty else { return false }
            for index in try await Self.hnswIndexes(connection, table: table) {
                try await connection.query(PostgresQuery(unsafeSQL: "DROP INDEX \(index)"), logger: Self.logger)
            }
            return true
        }
    }

    /// Builds the HNSW index when the table has none, with enough `maintenance_work_mem` for
    /// the graph to stay in memory (pgvector's build slows down a lot once it spills).
    func ensureIndex() async throws {
        let table = address.table
        let bytesPerRow = galleryModel.dimension * 4 + 400  // the vector, its neighbour lists and tuple headers
        try await transaction { connection in
            // The writers' lock: two processes finishing a bulk load at once build it once.
            try await connection.query("LOCK TABLE \(unescaped: table) IN SHARE ROW EXCLUSIVE MODE", logger: Self.logger)
            guard try await Self.hnswIndexes(connection, table: table).isEmpty else { return }
            let rows = try await connection.query("SELECT count(*) FROM \(unescaped: table)", logger: Self.logger)
                .collect().first?.decode(Int64.self) ?? 0
            let megabytes = min(4_096, max(64, (Int(rows) * bytesPerRow * 5 / 4) >> 20))
            try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL maintenance_work_mem = '\(megabytes)MB'"), logger: Self.logger)
            try await connection.query(PostgresQuery(unsafeSQL: Self.hnswIndexSQL(table)), logger: Self.logger)
        }
    }

    /// How many HNSW indexes the table has (tests).
    func hnswIndexCount() async throws -> Int {
        let table = address.table
        return try await run { connection in try await Self.hnswIndexes(connection, table: table).count }
    }

    func remove(identity: String) async throws -> Int {
        try await remove("WITH gone AS (DELETE FROM \(unescaped: address.table) WHERE identity = \(identity) RETURNING 1) SELECT count(*) FROM gone")
    }

    func remove(file: String) async throws -> Int {
        try await remove("WITH gone AS (DELETE FROM \(unescaped: address.table) WHERE file = \(file) RETURNING 1) SELECT count(*) FROM gone")
    }

    /// Runs a counting DELETE and bumps the generation, in one transaction.
    private func remove(_ delete: PostgresQuery) async throws -> Int {
        let bump = bumpGeneration
        let count = try await transaction { connection in
            var count: Int64 = 0
            for try await value in try await connection.query(delete, logger: Self.logger).decode(Int64.self) { count = value }
            try await connection.query(bump, logger: Self.logger)
            return count
        }
        return Int(count)
    }

    /// Ends every write transaction: readers compare generations to skip a refresh.
    private var bumpGeneration: PostgresQuery {
        "UPDATE \(unescaped: Self.metadataTable) SET generation = generation + 1 WHERE name = \(address.gallery)"
    }

    // MARK: - Reads

    func faces(after id: Int64, limit: Int?) async throws -> [GalleryFace] {
        if let limit, limit < 0 { throw FaceNetError.invalidArgument("faces(after:limit:): limit must be ≥ 0, not \(limit)") }
        // LIMIT NULL is no limit.
        let query: PostgresQuery = """
            SELECT \(unescaped: Self.faceColumns) FROM \(unescaped: address.table) WHERE id > \(id) ORDER BY id LIMIT \(limit.map(Int64.init))
            """
        return try await run { connection in
            try await Self.decodeFaces(try await connection.query(query, logger: Self.logger)).map(\.face)
        }
    }

    func faces(ids: [Int64]) async throws -> [GalleryFace] {
        guard !ids.isEmpty else { return [] }
        let query: PostgresQuery = """
            SELECT id, identity, file, content_hash, box, confidence, landmarks FROM \(unescaped: address.table) WHERE id = ANY(\(ids))
            """
        let found = try await run { connection in
            var byID: [Int64: GalleryFace] = [:]
            let rows = try await connection.query(query, logger: Self.logger)
            for try await (id, identity, file, hash, box, confidence, landmarks) in rows.decode(
                (Int64, String, String?, String?, [Int32]?, Float?, [Float]?).self) {
                byID[id] = GalleryFace(id: id, identity: identity, file: file, contentHash: hash, box: box.map { $0.map(Int.init) },
                                       confidence: confidence, landmarks: landmarks, embedding: [])
            }
            return byID
        }
        return ids.compactMap { found[$0] }
    }

    func generation() async throws -> Int64 {
        let query: PostgresQuery = "SELECT generation FROM \(unescaped: Self.metadataTable) WHERE name = \(address.gallery)"
        let generation = try await run { connection in
            var generation: Int64?
            for try await value in try await connection.query(query, logger: Self.logger).decode(Int64.self) { generation = value }
            return generation
        }
        guard let generation else {
            throw FaceNetError.invalidGallery(
                location: location, reason: "the gallery '\(address.gallery)' is no longer registered in \(Self.metadataTable)")
        }
        return generation
    }

    func ids() async throws -> [Int64] {
        let query: PostgresQuery = "SELECT id FROM \(unescaped: address.table) ORDER BY id"
        return try await run { connection in
            var ids: [Int64] = []
            for try await id in try await connection.query(query, logger: Self.logger).decode(Int64.self) { ids.append(id) }
            return ids
        }
    }

    func counts() async throws -> (faces: Int, identities: Int) {
        let query: PostgresQuery = "SELECT count(*), count(DISTINCT identity) FROM \(unescaped: address.table)"
        let (faces, identities) = try await run { connection in
            var result: (Int64, Int64) = (0, 0)
            for try await row in try await connection.query(query, logger: Self.logger).decode((Int64, Int64).self) { result = row }
            return result
        }
        return (Int(faces), Int(identities))
    }

    func fileHashes() async throws -> [String: String] {
        // A file's newest face wins, should its faces disagree.
        let query: PostgresQuery = """
            SELECT DISTINCT ON (file) file, content_hash FROM \(unescaped: address.table)
            WHERE file IS NOT NULL AND content_hash IS NOT NULL ORDER BY file, id DESC
            """
        return try await run { connection in
            var hashes: [String: String] = [:]
            for try await (file, hash) in try await connection.query(query, logger: Self.logger).decode((String, String).self) {
                hashes[file] = hash
            }
            return hashes
        }
    }

    /// The `k` faces of largest inner product with `query`, best first. `exact: false` searches the
    /// HNSW index (`ef`: `hnsw.ef_search`, default pgvector's 40; raised to `k` when smaller, since
    /// the index returns at most ef rows; 1...1000) and always uses it, whatever the table's size;
    /// `exact: true` compares every row (index scans off). k above 1000 is always exact.
    func nearest(to query: [Float], k: Int, ef: Int?, exact: Bool) async throws -> [StoredMatch]? {
        let (sql, settings, binds) = try nearestQuery(query, k: k, ef: ef, exact: exact)
        return try await transaction { connection in
            try await connection.query(settings, logger: Self.logger)
            return try await Self.decodeFaces(
                try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: Self.logger), similarity: true
            ).map { row in
                guard let similarity = row.similarity else {
                    throw FaceNetError.internalError("PostgresGalleryStore.nearest: a match without its similarity")
                }
                return StoredMatch(face: row.face, similarity: similarity)
            }
        }
    }

    /// The plan PostgreSQL makes for `nearest` with these arguments (`EXPLAIN` text), to check
    /// which searches use the index.
    func nearestPlan(to query: [Float], k: Int, ef: Int?, exact: Bool) async throws -> String {
        let (sql, settings, binds) = try nearestQuery(query, k: k, ef: ef, exact: exact)
        return try await transaction { connection in
            try await connection.query(settings, logger: Self.logger)
            var lines: [String] = []
            let rows = try await connection.query(PostgresQuery(unsafeSQL: "EXPLAIN " + sql, binds: binds), logger: Self.logger)
            for try await line in rows.decode(String.self) { lines.append(line) }
            return lines.joined(separator: "\n")
        }
    }

    /// Runs `sql` as it is (tests: to damage a gallery's schema on purpose).
    func execute(_ sql: String) async throws {
        _ = try await run { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger)
        }
    }

    /// Drops the gallery's table and its metadata row (tests; not part of `GalleryStore`).
    func drop() async throws {
        let (table, name) = (address.table, address.gallery)
        try await transaction { connection in
            try await connection.query("DROP TABLE IF EXISTS \(unescaped: table)", logger: Self.logger)
            try await connection.query("DELETE FROM \(unescaped: Self.metadataTable) WHERE name = \(name)", logger: Self.logger)
        }
    }

    // MARK: - Checks

    /// Checks a face before it reaches SQL; returns its box as int4s.
    private func checkFace(_ face: GalleryFace, index: Int) throws -> [Int32]? {
        guard face.embedding.count == galleryModel.dimension else {
            throw FaceNetError.galleryMismatch(
                location: location, gallery: galleryModel.description,
                given: "an embedding of \(face.embedding.count) floats (face \(index), \(face.identity))")
        }
        guard face.embedding.allSatisfy(\.isFinite) else {
            throw FaceNetError.invalidArgument("\(location): face \(index) (\(face.identity)): the embedding has NaN or infinite values")
        }
        if let confidence = face.confidence, !confidence.isFinite {
            throw FaceNetError.invalidArgument("\(location): face \(index) (\(face.identity)): confidence is \(confidence)")
        }
        if let landmarks = face.landmarks, !landmarks.allSatisfy(\.isFinite) {
            throw FaceNetError.invalidArgument("\(location): face \(index) (\(face.identity)): landmarks have NaN or infinite values")
        }
        guard let box = face.box else { return nil }
        var box32: [Int32] = []
        for value in box {
            guard let value32 = Int32(exactly: value) else {
                throw FaceNetError.invalidArgument("\(location): face \(index) (\(face.identity)): box value \(value) is out of range")
            }
            box32.append(value32)
        }
        return box32
    }

    /// The search's SQL (the query vector is `$1`), the settings to run before it in the same
    /// transaction, and the binds.
    private func nearestQuery(_ query: [Float], k: Int, ef: Int?, exact: Bool) throws
        -> (sql: String, settings: PostgresQuery, binds: PostgresBindings) {
        guard query.count == galleryModel.dimension else {
            throw FaceNetError.galleryMismatch(
                location: location, gallery: galleryModel.description, given: "a query of \(query.count) floats")
        }
        guard query.allSatisfy(\.isFinite) else {
            throw FaceNetError.invalidArgument("\(location): the query embedding has NaN or infinite values")
        }
        guard k >= 1 else { throw FaceNetError.invalidArgument("nearest: k must be ≥ 1, not \(k)") }
        if let ef, !(1...Self.maxEfSearch).contains(ef) {
            throw FaceNetError.invalidArgument("nearest: ef must be 1...\(Self.maxEfSearch) (pgvector's hnsw.ef_search), not \(ef)")
        }
        let settings: PostgresQuery
        if exact || k > Self.maxEfSearch {
            // No index scan: a sequential scan with a top-k sort, every row compared.
            settings = "SELECT set_config('enable_indexscan', 'off', true)"
        } else {
            // The index even on a small table, where the planner would rather scan it all.
            let width = String(max(ef ?? 40, k))
            settings = "SELECT set_config('hnsw.ef_search', \(width), true), set_config('enable_seqscan', 'off', true)"
        }
        var binds = PostgresBindings(capacity: 2)
        binds.append(PGVector(query, type: vectorType))
        binds.append(Int64(k))
        // `<#>` is the negative inner product: ascending is best first, as the index serves it.
        let sql = "SELECT \(Self.faceColumns), -(embedding <#> $1) FROM \(address.table) ORDER BY embedding <#> $1 LIMIT $2"
        return (sql, settings, binds)
    }

    // MARK: - Plumbing

    private static let faceColumns = "id, identity, file, content_hash, box, confidence, landmarks, embedding"

    /// postgres-nio's log: silent but for critical events, unless `FACENET_POSTGRES_LOG` names a
    /// level (`debug`, `trace`, …) to diagnose the connection.
    private static let logger: Logger = {
        var logger = Logger(label: "facenet.gallery.postgres")
        logger.logLevel = ProcessInfo.processInfo.environment["FACENET_POSTGRES_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }()

    /// Decodes rows of `faceColumns`, and the similarity after them when `similarity` (a float8).
    private static func decodeFaces(_ rows: PostgresRowSequence, similarity: Bool = false) async throws
        -> [(face: GalleryFace, similarity: Float?)] {
        var faces: [(face: GalleryFace, similarity: Float?)] = []
        for try await row in rows {
            let (id, identity, file, hash, box, confidence, landmarks, embedding, value): (
                Int64, String, String?, String?, [Int32]?, Float?, [Float]?, PGVector, Double?)
            if similarity {
                (id, identity, file, hash, box, confidence, landmarks, embedding, value) = try row.decode(
                    (Int64, String, String?, String?, [Int32]?, Float?, [Float]?, PGVector, Double?).self)
            } else {
                (id, identity, file, hash, box, confidence, landmarks, embedding) = try row.decode(
                    (Int64, String, String?, String?, [Int32]?, Float?, [Float]?, PGVector).self)
                value = nil
            }
            let face = GalleryFace(id: id, identity: identity, file: file, contentHash: hash, box: box.map { $0.map(Int.init) },
                                   confidence: confidence, landmarks: landmarks, embedding: embedding.values)
            faces.append((face, value.map(Float.init)))
        }
        return faces
    }

    /// Runs `body` on a pooled connection, its errors turned into `FaceNetError`s.
    ///
    /// The pool waits for a connection as long as its circuit breaker allows (about a minute)
    /// when the server goes away. So a watchdog checks every `leaseWatchSeconds` while no
    /// connection is leased yet: when a connection of its own cannot be made either, the call
    /// fails with that connection's error (refused, login, no database); when it can (the pool
    /// is only busy), the call waits on.
    private func run<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        let (client, address, leased) = (self.client, self.address, LeaseFlag())
        do {
            return try await withThrowingTaskGroup(of: RunOutcome<Result>.self) { group in
                group.addTask {
                    .value(try await client.withConnection { connection in
                        leased.set()
                        return try await body(connection)
                    })
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: .seconds(Self.leaseWatchSeconds))
                        if leased.isSet { return .watched }
                        do { try await Self.withProbe(address) { _ in } } catch { return .unreachable(error) }
                    }
                }
                while let outcome = try await group.next() {
                    switch outcome {
                    case .value(let value):
                        group.cancelAll()
                        return value
                    case .unreachable(let error):
                        group.cancelAll()
                        throw error
                    case .watched:
                        continue
                    }
                }
                throw FaceNetError.internalError("PostgresGalleryStore.run: the query's task ended without a result")
            }
        } catch {
            throw await diagnose(error)
        }
    }

    /// `translate`, but a connection-level failure of the pool is replaced by what a connection
    /// of its own meets, when that fails too (the pool's own errors do not say why).
    private func diagnose(_ error: any Error) async -> any Error {
        let translated = Self.translate(error, address)
        guard !(error is FaceNetError), let failure = translated as? FaceNetError, case .storeUnavailable = failure else {
            return translated
        }
        if let error = error as? PSQLError, error.serverInfo != nil { return translated }
        do {
            try await Self.withProbe(address) { _ in }
            return translated
        } catch {
            return error
        }
    }

    /// `run` in one transaction: committed when `body` returns, rolled back when it throws.
    private func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await run { connection in try await Self.inTransaction(connection, body) }
    }

    private static func inTransaction<Result: Sendable>(
        _ connection: PostgresConnection, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await connection.query("BEGIN", logger: logger)
        do {
            let result = try await body(connection)
            try await connection.query("COMMIT", logger: logger)
            return result
        } catch {
            // The first error is the one to report; a failed rollback ends the connection anyway.
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// Connects once on its own (bounded in time), runs `body`, closes: what `create` and
    /// `open` do before the pool, so that connection errors surface at once.
    private static func withProbe<Result: Sendable>(
        _ address: PostgresAddress, _ body: @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let connection: PostgresConnection
        do {
            let configuration = try address.connectionConfiguration(timeoutSeconds: connectTimeoutSeconds)
            connection = try await withDeadline(seconds: connectTimeoutSeconds + 5) {
                try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            }
        } catch {
            throw translate(error, address)
        }
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw translate(error, address)
        }
    }

    /// Starts the pool for the calls after `create`/`open`.
    private static func start(_ address: PostgresAddress, model: GalleryModel, vectorType: PostgresDataType,
                              indexMissing: Bool = false) -> PostgresGalleryStore {
        let client = PostgresClient(configuration: address.clientConfiguration(timeoutSeconds: connectTimeoutSeconds),
                                    backgroundLogger: logger)
        let runner = Task { await client.run() }
        return PostgresGalleryStore(address: address, client: client, runner: runner, model: model, vectorType: vectorType,
                                    indexMissing: indexMissing)
    }

    /// The oid of pgvector's `vector` type, or `invalidGallery` when the extension is missing.
    private static func vectorOID(_ connection: PostgresConnection, _ address: PostgresAddress) async throws -> PostgresDataType {
        let oid = try await connection.query("SELECT to_regtype('vector')::oid::int8", logger: logger)
            .collect().first?.decode(Int64?.self) ?? nil
        guard let oid, let oid32 = UInt32(exactly: oid) else {
            throw FaceNetError.invalidGallery(
                location: address.redacted,
                reason: "the database '\(address.database)' has no pgvector extension: a superuser must run "
                    + "`CREATE EXTENSION vector;` in it once (pgvector 0.5 or later)")
        }
        return PostgresDataType(oid32)
    }

    /// Checks that the gallery's table has our columns and types.
    private static func checkSchema(_ connection: PostgresConnection, _ address: PostgresAddress, dimension: Int) async throws {
        let rows = try await connection.query("""
            SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
            WHERE a.attrelid = to_regclass(\(address.table)) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, logger: logger).collect()
        let found = try rows.map { try $0.decode((String, String).self) }
        let expected = [
            ("id", "bigint"), ("identity", "text"), ("file", "text"), ("content_hash", "text"), ("box", "integer[]"),
            ("confidence", "real"), ("landmarks", "real[]"), ("embedding", "vector(\(dimension))"),
        ]
        guard !found.isEmpty else {
            throw FaceNetError.invalidGallery(
                location: address.redacted,
                reason: "the gallery '\(address.gallery)' is registered but its table \(address.table) is missing; "
                    + "delete its row from \(metadataTable) and create it again")
        }
        guard found.count == expected.count, zip(found, expected).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 }) else {
            let describe = { (columns: [(String, String)]) in columns.map { "\($0.0) \($0.1)" }.joined(separator: ", ") }
            throw FaceNetError.invalidGallery(
                location: address.redacted,
                reason: "table \(address.table) is not a FaceNet gallery table: expected columns (\(describe(expected))), "
                    + "found (\(describe(found)))")
        }
    }

    /// A `FaceNetError` that says what failed and what to check.
    static func translate(_ error: any Error, _ address: PostgresAddress) -> any Error {
        if error is FaceNetError || error is CancellationError { return error }
        let location = address.redacted
        let check = "check that PostgreSQL runs and accepts TCP connections on \(address.host):\(address.port) "
            + "(`pg_isready -h \(address.host) -p \(address.port)`), and that the URL has the form "
            + "postgres://user[:password]@host[:port]/database[?gallery=NAME]"
        if let error = error as? PSQLError {
            if let info = error.serverInfo, let state = info[.sqlState] {
                let message = (info[.message] ?? "") + (info[.detail].map { " (\($0))" } ?? "")
                switch state {
                case "28P01", "28000":
                    return FaceNetError.storeUnavailable(
                        location: location,
                        reason: "the server refused the login of '\(address.user)': \(message); check the user and "
                            + "password in the URL, and the server's pg_hba.conf")
                case "3D000":
                    return FaceNetError.storeUnavailable(
                        location: location,
                        reason: "the database '\(address.database)' does not exist: \(message); create it "
                            + "(`createdb \(address.database)`) or fix the URL's path")
                case "42501":
                    return FaceNetError.invalidGallery(
                        location: location,
                        reason: "permission denied: \(message); the role '\(address.user)' needs to own the gallery's "
                            + "tables, and CREATE on the schema to create one")
                case "42P01":
                    return FaceNetError.invalidGallery(
                        location: location,
                        reason: "a table the gallery needs is missing (\(message)): the gallery was dropped or the "
                            + "database reset since it was opened; create it again")
                case _ where state.hasPrefix("22"):
                    return FaceNetError.invalidArgument("\(location): PostgreSQL rejected a value (SQLSTATE \(state)): \(message)")
                case _ where state.hasPrefix("42"):
                    return FaceNetError.invalidGallery(
                        location: location, reason: "not the schema of a FaceNet gallery (SQLSTATE \(state)): \(message)")
                default:
                    return FaceNetError.storeUnavailable(location: location, reason: "the server answered SQLSTATE \(state): \(message)")
                }
            }
            let cause = error.underlying.map { String(describing: $0) } ?? "\(error.code)"
            return FaceNetError.storeUnavailable(location: location, reason: "\(cause); \(check)")
        }
        if let error = error as? DeadlineExceeded {
            return FaceNetError.storeUnavailable(
                location: location, reason: "no answer within \(error.seconds) s; \(check)")
        }
        if error is PostgresDecodingError {
            return FaceNetError.invalidGallery(
                location: location, reason: "a column holds another type than a FaceNet gallery's: \(String(reflecting: error))")
        }
        return FaceNetError.storeUnavailable(location: location, reason: "\(error); \(check)")
    }
}

/// What a task of `run`'s group ended with.
private enum RunOutcome<Result: Sendable>: Sendable {
    case value(Result)
    case unreachable(any Error)
    case watched
}

/// Set once a pooled connection is leased (read by `run`'s watchdog).
private final class LeaseFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// Thrown by `withDeadline` when the work did not finish in time.
private struct DeadlineExceeded: Error {
    let seconds: Int64
}

/// Runs `work`, cancelling it and throwing `DeadlineExceeded` after `seconds`.
private func withDeadline<T: Sendable>(seconds: Int64, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await work() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw DeadlineExceeded(seconds: seconds)
        }
        return value
    }
}

/// A pgvector `vector` in its binary form: int16 dimension, int16 zero, then the floats as
/// big-endian float4 (pgvector's `vector_send`/`vector_recv`). Exact for Float.
private struct PGVector: PostgresDynamicTypeEncodable, PostgresDecodable, Sendable {
    var values: [Float]
    /// The `vector` oid of the database at hand (an extension type has no fixed oid).
    var psqlType: PostgresDataType
    var psqlFormat: PostgresFormat { .binary }

    init(_ values: [Float], type: PostgresDataType) {
        (self.values, self.psqlType) = (values, type)
    }

    /// Writes the floats in one pass over the buffer's bytes (no per-float ByteBuffer call: those
    /// dominate in a debug build).
    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(Int16(truncatingIfNeeded: values.count))
        buffer.writeInteger(Int16(0))
        let byteCount = 4 * values.count
        values.withUnsafeBufferPointer { floats in
            _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: byteCount) { bytes in
                for (index, value) in floats.enumerated() {
                    bytes.storeBytes(of: value.bitPattern.bigEndian, toByteOffset: 4 * index, as: UInt32.self)
                }
                return byteCount
            }
        }
    }

    init<JSONDecoder: PostgresJSONDecoder>(from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat,
                                           context: PostgresDecodingContext<JSONDecoder>) throws {
        guard format == .binary, let dimension = buffer.readInteger(as: Int16.self), buffer.readInteger(as: Int16.self) != nil,
              dimension >= 0, buffer.readableBytes == Int(dimension) * 4 else {
            throw PostgresDecodingError.Code.failure
        }
        let count = Int(dimension)
        let values = buffer.withUnsafeReadableBytes { bytes in
            [Float](unsafeUninitializedCapacity: count) { floats, initialised in
                for index in 0..<count {
                    floats[index] = Float(bitPattern: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))
                }
                initialised = count
            }
        }
        buffer.moveReaderIndex(forwardBy: 4 * count)
        (self.values, self.psqlType) = (values, type)
    }
}

/// A parsed `postgres://` gallery location.
struct PostgresAddress: Sendable, Equatable {
    var user: String
    var password: String?
    var host: String
    var port: Int
    var database: String
    var gallery: String
    var requireTLS: Bool

    static let form = "postgres://user[:password]@host[:port]/database[?gallery=NAME][&sslmode=disable|require]"

    /// The gallery's table name (safe to splice into SQL: the name is `[a-z0-9_]{1,40}`).
    var table: String { "facenet_gallery_\(gallery)" }

    /// The URL without the password, with the gallery named.
    var redacted: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(Self.escape(user))@\(hostPart):\(port)/\(Self.escape(database))?gallery=\(gallery)"
            + (requireTLS ? "&sslmode=require" : "")
    }

    init(_ location: String) throws {
        let shown = Self.redact(location)
        func bad(_ reason: String) -> FaceNetError {
            .invalidArgument("\(shown): not a PostgreSQL gallery URL: \(reason); expected \(Self.form)")
        }
        guard let components = URLComponents(string: location), let scheme = components.scheme?.lowercased(),
              scheme == "postgres" || scheme == "postgresql" else {
            throw bad("it must start with postgres:// or postgresql://")
        }
        guard let user = components.user, !user.isEmpty else { throw bad("no user name (postgres://USER@host/database)") }
        var host = components.host ?? ""
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw bad("no host") }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw bad("port \(port) is out of range") }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !database.isEmpty, !database.contains("/") else { throw bad("no database name (postgres://user@host/DATABASE)") }
        var gallery = "default"
        var requireTLS = false
        for item in components.queryItems ?? [] {
            switch item.name {
            case "gallery":
                gallery = item.value ?? ""
                guard !gallery.isEmpty, gallery.count <= 40,
                      gallery.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }) else {
                    throw bad("the gallery name '\(gallery)' must be 1 to 40 of a-z, 0-9 and _")
                }
            case "sslmode":
                switch item.value {
                case "disable": requireTLS = false
                case "require": requireTLS = true
                default: throw bad("sslmode must be disable or require, not '\(item.value ?? "")'")
                }
            default:
                throw bad("unknown parameter '\(item.name)' (known: gallery, sslmode)")
            }
        }
        (self.user, self.password, self.host, self.port) = (user, components.password, host, port)
        (self.database, self.gallery, self.requireTLS) = (database, gallery, requireTLS)
    }

    func connectionConfiguration(timeoutSeconds: Int64) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS =
            requireTLS ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(timeoutSeconds)
        return configuration
    }

    func clientConfiguration(timeoutSeconds: Int64) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS = requireTLS ? .require(.makeClientConfiguration()) : .disable
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(timeoutSeconds)
        // A gallery's calls are short; a few connections serve concurrent readers.
        configuration.options.maximumConnections = 4
        return configuration
    }

    private static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed.subtracting(CharacterSet(charactersIn: ":@/"))) ?? text
    }

    /// `location` with any password cut out (for messages about a URL that did not parse).
    static func redact(_ location: String) -> String {
        guard let schemeEnd = location.range(of: "://") else { return location }
        let rest = location[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return location }
        let userInfo = authority[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return location }
        return String(location[..<colon]) + String(location[at...])
    }
}
