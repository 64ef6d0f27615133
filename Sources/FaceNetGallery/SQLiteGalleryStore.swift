import FaceNetKernels
import Foundation
import GRDB

/// The embedded gallery: one SQLite file (through GRDB), in WAL mode. Every write is one
/// transaction, so a process killed halfway loses only the transaction it was in, and the
/// file still opens; two processes writing at once take turns (each waits up to
/// `busyTimeout` for the other's transaction).
///
/// Schema (format 1):
///
///     gallery(key TEXT PRIMARY KEY, value TEXT)       format, model, dimension, preprocessing, weight_set
///     faces(id INTEGER PRIMARY KEY AUTOINCREMENT,     ids only grow, never reused
///           identity TEXT, file TEXT, content_hash TEXT,
///           box TEXT, confidence REAL, landmarks TEXT,  JSON arrays
///           embedding BLOB)                           dimension float32, little-endian, l2-normalised
struct SQLiteGalleryStore: GalleryStore {
    static let format = "facenet-gallery-1"
    static let busyTimeout: TimeInterval = 30

    let location: String
    private let pool: DatabasePool
    /// The gallery's embedding size (read once, at create or open).
    private let dimension: Int

    static func create(at location: String, model: GalleryModel) async throws -> SQLiteGalleryStore {
        if FileManager.default.fileExists(atPath: location) {
            throw FaceNetError.invalidGallery(location: location, reason: "a file exists there; open it, or give another path")
        }
        let directory = (location as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            throw FaceNetError.invalidGallery(location: location, reason: "the directory \(directory) does not exist")
        }
        let pool = try connect(location)
        do {
            try await pool.write { db in
                try db.execute(sql: """
                    CREATE TABLE gallery (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                    CREATE TABLE faces (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        identity TEXT NOT NULL,
                        file TEXT,
                        content_hash TEXT,
                        box TEXT,
                        confidence REAL,
                        landmarks TEXT,
                        embedding BLOB NOT NULL);
                    CREATE INDEX faces_identity ON faces(identity);
                    CREATE INDEX faces_file ON faces(file);
                    """)
                let entries: [(String, String?)] = [
                    ("format", format), ("model", model.model), ("dimension", String(model.dimension)),
                    ("preprocessing", model.preprocessing), ("weight_set", model.weightSet), ("generation", "0"),
                ]
                for (key, value) in entries {
                    guard let value else { continue }
                    try db.execute(sql: "INSERT INTO gallery (key, value) VALUES (?, ?)", arguments: [key, value])
                }
            }
        } catch {
            throw mapped(error, location)
        }
        return SQLiteGalleryStore(location: location, pool: pool, dimension: model.dimension)
    }

    static func open(_ location: String) async throws -> SQLiteGalleryStore {
        guard FileManager.default.fileExists(atPath: location) else {
            throw FaceNetError.invalidGallery(location: location, reason: "no such file; create it with `facenet gallery create`")
        }
        let pool = try connect(location)
        // A foreign or damaged file fails here, not at the first search.
        let model = try await SQLiteGalleryStore(location: location, pool: pool, dimension: 0).model()
        return SQLiteGalleryStore(location: location, pool: pool, dimension: model.dimension)
    }

    private static func connect(_ location: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "facenet-gallery"
        do {
            return try DatabasePool(path: location, configuration: configuration)
        } catch {
            throw mapped(error, location)
        }
    }

    func close() async throws {
        try pool.close()
    }

    func model() async throws -> GalleryModel {
        let values: [String: String]
        do {
            values = try await pool.read { db in
                guard try db.tableExists("gallery"), try db.tableExists("faces") else { return [:] }
                return try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT key, value FROM gallery").map {
                    (($0["key"] as String?) ?? "", ($0["value"] as String?) ?? "")
                })
            }
        } catch {
            throw Self.mapped(error, location)
        }
        guard values["format"] == Self.format else {
            let found = values["format"].map { "format '\($0)'" } ?? "no gallery tables"
            throw FaceNetError.invalidGallery(location: location, reason: "not a facenet gallery (\(found), expected \(Self.format))")
        }
        guard let model = values["model"], let dimension = values["dimension"].flatMap(Int.init), dimension > 0,
              let preprocessing = values["preprocessing"] else {
            throw FaceNetError.invalidGallery(location: location, reason: "its model record is incomplete: \(values)")
        }
        return GalleryModel(model: model, dimension: dimension, preprocessing: preprocessing, weightSet: values["weight_set"])
    }

    func insert(_ faces: [GalleryFace]) async throws -> [Int64] {
        guard !faces.isEmpty else { return [] }
        do {
            return try await pool.write { db in
                var ids: [Int64] = []
                ids.reserveCapacity(faces.count)
                let statement = try db.makeStatement(sql: """
                    INSERT INTO faces (identity, file, content_hash, box, confidence, landmarks, embedding)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
                for face in faces {
                    let box: String? = face.box.map { Self.jsonArray($0) }
                    let landmarks: String? = face.landmarks.map { Self.jsonArray($0) }
                    let confidence: Double? = face.confidence.map { Double($0) }
                    try statement.execute(arguments: [
                        face.identity, face.file, face.contentHash, box, confidence, landmarks, Self.blob(face.embedding),
                    ])
                    ids.append(db.lastInsertedRowID)
                }
                try Self.bumpGeneration(db)
                return ids
            }
        } catch {
            throw Self.mapped(error, location)
        }
    }

    func remove(identity: String) async throws -> Int {
        try await delete(where: "identity = ?", identity)
    }

    func remove(file: String) async throws -> Int {
        try await delete(where: "file = ?", file)
    }

    private func delete(where condition: String, _ value: String) async throws -> Int {
        do {
            return try await pool.write { db in
                try db.execute(sql: "DELETE FROM faces WHERE " + condition, arguments: [value])
                let removed = db.changesCount
                if removed > 0 { try Self.bumpGeneration(db) }
                return removed
            }
        } catch {
            throw Self.mapped(error, location)
        }
    }

    func faces(after id: Int64, limit: Int?) async throws -> [GalleryFace] {
        let dimension = self.dimension, location = self.location
        do {
            return try await pool.read { db in
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT id, identity, file, content_hash, box, confidence, landmarks, embedding
                    FROM faces WHERE id > ? ORDER BY id LIMIT ?
                    """, arguments: [id, limit ?? -1])
                var faces: [GalleryFace] = []
                while let row = try rows.next() {
                    faces.append(try Self.face(row, dimension: dimension, location: location))
                }
                return faces
            }
        } catch {
            throw Self.mapped(error, location)
        }
    }

    func ids() async throws -> [Int64] {
        do {
            return try await pool.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM faces ORDER BY id") }
        } catch {
            throw Self.mapped(error, location)
        }
    }

    func faces(ids: [Int64]) async throws -> [GalleryFace] {
        guard !ids.isEmpty else { return [] }
        let location = self.location
        do {
            let found: [Int64: GalleryFace] = try await pool.read { db in
                var byID: [Int64: GalleryFace] = [:]
                let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
                for row in try Row.fetchAll(db, sql: """
                    SELECT id, identity, file, content_hash, box, confidence, landmarks, NULL AS embedding
                    FROM faces WHERE id IN (\(marks))
                    """, arguments: StatementArguments(ids)) {
                    let face = try Self.face(row, dimension: 0, location: location)
                    byID[face.id] = face
                }
                return byID
            }
            return ids.compactMap { found[$0] }
        } catch {
            throw Self.mapped(error, location)
        }
    }

    func generation() async throws -> Int64 {
        do {
            return try await pool.read { db in
                try Int64.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM gallery WHERE key = 'generation'") ?? 0
            }
        } catch {
            throw Self.mapped(error, location)
        }
    }

    /// Every write transaction ends with this: readers compare generations to skip a refresh.
    private static func bumpGeneration(_ db: Database) throws {
        try db.execute(sql: "UPDATE gallery SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    }

    func counts() async throws -> (faces: Int, identities: Int) {
        do {
            return try await pool.read { db in
                let faces = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM faces") ?? 0
                let identities = try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT identity) FROM faces") ?? 0
                return (faces, identities)
            }
        } catch {
            throw Self.mapped(error, location)
        }
    }

    /// SQLite has no vector index: the gallery searches its in-memory matrix.
    func nearest(to query: [Float], k: Int, ef: Int?, exact: Bool) async throws -> [StoredMatch]? { nil }

    func fileHashes() async throws -> [String: String] {
        do {
            return try await pool.read { db in
                var hashes: [String: String] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT file, content_hash FROM faces WHERE file IS NOT NULL") {
                    if let file = row["file"] as String?, let hash = row["content_hash"] as String? { hashes[file] = hash }
                }
                return hashes
            }
        } catch {
            throw Self.mapped(error, location)
        }
    }

    // MARK: Encoding

    /// `[1, 2, 3]`.
    static func jsonArray<T: Numeric>(_ values: [T]) -> String { "[" + values.map { "\($0)" }.joined(separator: ",") + "]" }

    /// float32 little-endian bytes.
    static func blob(_ vector: [Float]) -> Data {
        var data = Data(capacity: vector.count * 4)
        for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    /// A stored row back as a face; a row that does not decode (wrong blob size, bad JSON)
    /// is damage: `invalidGallery` naming the row.
    static func face(_ row: Row, dimension: Int, location: String) throws -> GalleryFace {
        let id: Int64 = row["id"]
        func damaged(_ reason: String) -> FaceNetError { .invalidGallery(location: location, reason: "face \(id): \(reason)") }
        guard let identity = row["identity"] as String? else { throw damaged("no identity") }
        let data = row["embedding"] as Data? ?? Data()
        guard data.count == dimension * 4 else { throw damaged("the embedding is not \(dimension) float32 values") }
        let embedding = data.withUnsafeBytes { raw in
            (0..<dimension).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        func numbers(_ column: String) throws -> [Double]? {
            guard let text = row[column] as String? else { return nil }
            guard let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [NSNumber] else {
                throw damaged("\(column) is not a JSON array of numbers")
            }
            return array.map(\.doubleValue)
        }
        let box = try numbers("box").map { $0.map { Int($0) } }
        let landmarks = try numbers("landmarks").map { $0.map { Float($0) } }
        let confidence = (row["confidence"] as Double?).map(Float.init)
        return GalleryFace(id: id, identity: identity, file: row["file"], contentHash: row["content_hash"], box: box,
                           confidence: confidence, landmarks: landmarks, embedding: embedding)
    }

    /// A GRDB/SQLite error as a `FaceNetError` naming the file.
    static func mapped(_ error: Error, _ location: String) -> Error {
        if error is FaceNetError { return error }
        guard let error = error as? DatabaseError else { return error }
        switch error.resultCode {
        case .SQLITE_NOTADB:
            return FaceNetError.invalidGallery(location: location, reason: "not a SQLite database (another kind of file?)")
        case .SQLITE_CORRUPT:
            return FaceNetError.invalidGallery(location: location, reason: "the database is damaged (\(error.message ?? "corrupt")); "
                                               + "restore a copy or export what still reads")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return FaceNetError.invalidGallery(location: location, reason: "another process held the gallery for over "
                                               + "\(Int(busyTimeout)) s; try again")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY:
            return FaceNetError.invalidGallery(location: location, reason: "cannot open or write it (\(error.message ?? "permission"))")
        default:
            return FaceNetError.invalidGallery(location: location, reason: error.message ?? "\(error)")
        }
    }
}
