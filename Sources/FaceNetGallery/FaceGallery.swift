import FaceNetKernels
import FaceNetKit
import Foundation

/// A stored face that a search found: who, where it came from, and how far it is.
public struct GalleryMatch: Sendable, Equatable {
    public var identity: String
    /// The photo as it was named at `add` or `import`.
    public var file: String?
    /// The stored face's box in that photo, [x, y, width, height].
    public var box: [Int]?
    /// The stored face's id in the gallery.
    public var faceID: Int64
    /// The distance under the search's metric (smaller is more alike).
    public var distance: Double
    /// The threshold it was judged by: the given one, else the weight set's for the metric.
    public var threshold: Double?
    /// `distance ≤ threshold` (false when no threshold is known).
    public var verified: Bool
}

/// How a search finds its neighbours.
public enum GallerySearchMode: Sendable, Equatable {
    /// Exact below `FaceGallery.approximateFrom` stored faces, HNSW from there on.
    case automatic
    /// Every stored face is compared: the true k nearest.
    case exact
    /// The HNSW graph, `ef` wide (nil: `FaceGallery.defaultEF`, at least k).
    case approximate(ef: Int?)
}

/// Which index answered a search, for reports (`find --json`'s `index`).
public enum GalleryIndexUsed: Sendable, Equatable {
    case exact
    case hnsw(ef: Int)
    /// The store's own index (PostgreSQL's pgvector HNSW; `ef` its `hnsw.ef_search`).
    case store(ef: Int?)
}

/// Counts for `gallery stats`.
public struct GalleryStatistics: Sendable, Equatable {
    public var faces: Int
    public var identities: Int
    public var model: GalleryModel
    public var location: String
    /// The index a search without options uses at this size.
    public var defaultIndex: GalleryIndexUsed
}

/// A gallery of known faces: identities, the faces found in their photos and those faces'
/// embeddings, in a store (a SQLite file, or PostgreSQL with pgvector), searched exactly or
/// through an HNSW graph. Every addition and query must be made with the gallery's model
/// and preprocessing (`GalleryModel`); anything else is refused with an error naming both.
///
/// The embeddings are held in memory as one matrix, loaded at the first search and kept up
/// to date with what this process adds; a later search also picks up what other processes
/// added or removed (ids only grow, so the refresh reads only the new rows).
public actor FaceGallery {
    /// Searches use the HNSW graph from this many stored faces on (`.automatic`): below it,
    /// an exact scan takes under a millisecond and is always right.
    public static let approximateFrom = 20_000
    /// The HNSW search width when none is given (recall@10 ≥ 0.99 on FaceNet-like data).
    public static let defaultEF = 64

    public nonisolated let location: String
    public nonisolated let model: GalleryModel
    private let store: any GalleryStore
    private var snapshot: GallerySnapshot
    /// The generation of the index saved beside the gallery (nil: none saved).
    private var savedGeneration: Int64?

    /// Where the in-memory index is saved (embedded galleries only).
    private let cachePath: String?

    private init(store: any GalleryStore, model: GalleryModel, cachePath: String?) {
        self.store = store
        self.location = store.location
        self.model = model
        self.cachePath = cachePath
        let cache = cachePath.flatMap { GalleryIndexCache.read($0, dimension: model.dimension) }
        self.snapshot = cache.map(GallerySnapshot.init(cache:)) ?? GallerySnapshot(dimension: model.dimension)
        self.savedGeneration = cache?.generation
    }

    /// Creates an empty gallery: a file path (SQLite) or a `postgres://` URL.
    public static func create(_ location: String, model: GalleryModel) async throws -> FaceGallery {
        guard model.dimension > 0 else { throw FaceNetError.invalidArgument("a gallery's dimension must be positive") }
        let store = try await storeType(for: location).create(at: location, model: model)
        let cache = store is SQLiteGalleryStore ? GalleryIndexCache.path(for: location) : nil
        if let cache { try? FileManager.default.removeItem(atPath: cache) }  // a stale cache of an earlier file there
        return FaceGallery(store: store, model: model, cachePath: cache)
    }

    /// Opens an existing gallery.
    public static func open(_ location: String) async throws -> FaceGallery {
        let store = try await storeType(for: location).open(location)
        let cache = store is SQLiteGalleryStore ? GalleryIndexCache.path(for: location) : nil
        return FaceGallery(store: store, model: try await store.model(), cachePath: cache)
    }

    private static func storeType(for location: String) throws -> any GalleryStore.Type {
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") { return PostgresGalleryStore.self }
        return SQLiteGalleryStore.self
    }

    /// Closes the store (the gallery is not used afterwards).
    public func close() async throws { try await store.close() }

    // MARK: Adding and removing

    /// Stores `faces` (their embeddings need not be normalised) in one transaction; returns
    /// their ids. `model`: what made the embeddings; it must be the gallery's. Every
    /// embedding must have the gallery's dimension, finite values and a non-zero norm.
    @discardableResult
    public func add(_ faces: [GalleryFace], madeWith model: GalleryModel) async throws -> [Int64] {
        try requireModel(model)
        var normalized = faces
        for (i, face) in faces.enumerated() {
            try checkEmbedding(face.embedding, what: "face \(i) (\(face.identity))")
            normalized[i].embedding = EmbeddingMatrix.normalized(face.embedding)
            normalized[i].id = 0
        }
        return try await store.insert(normalized)
    }

    /// Stores many faces, `batchSize` to a transaction (a crash keeps the batches already
    /// committed); returns how many were stored. Into an empty PostgreSQL gallery the rows go
    /// in without its HNSW index, which is built once at the end (several times faster than
    /// keeping it up to date; until it is built, searches there are exact). `progress` gets
    /// the count stored so far after each batch.
    @discardableResult
    public func importFaces(_ faces: [GalleryFace], madeWith model: GalleryModel, batchSize: Int = 10_000,
                            progress: (@Sendable (Int) -> Void)? = nil) async throws -> Int {
        try await importFaces(faces, madeWith: model, batchSize: batchSize, deferIndexFrom: 1_000, progress: progress)
    }

    /// `importFaces`; from `deferIndexFrom` faces, into an empty store, the store's own index is
    /// built after loading rather than row by row (tests use a small one).
    func importFaces(_ faces: [GalleryFace], madeWith model: GalleryModel, batchSize: Int, deferIndexFrom: Int,
                     progress: (@Sendable (Int) -> Void)?) async throws -> Int {
        try requireModel(model)
        for (i, face) in faces.enumerated() { try checkEmbedding(face.embedding, what: "face \(i) (\(face.identity))") }
        let deferred = faces.count >= deferIndexFrom ? try await store.beginBulkLoad() : false
        var stored = 0
        for start in stride(from: 0, to: faces.count, by: max(1, batchSize)) {
            stored += try await add(Array(faces[start..<min(start + max(1, batchSize), faces.count)]), madeWith: model).count
            progress?(stored)
        }
        if deferred { try await store.ensureIndex() }
        return stored
    }

    /// Removes every face of `identity`; returns how many were removed.
    @discardableResult
    public func remove(identity: String) async throws -> Int {
        try await store.remove(identity: identity)
    }

    /// Removes every face stored from `file`; returns how many were removed.
    @discardableResult
    public func remove(file: String) async throws -> Int {
        try await store.remove(file: file)
    }

    // MARK: Searching

    /// For each query embedding, the `k` nearest stored faces, nearest first. `model`: what
    /// made the queries (nil: trust that it is the gallery's). `metric`: `euclidean_l2`,
    /// `cosine` or `angular` (the gallery compares normalised embeddings). `threshold`: nil
    /// for the weight set's. Returns the matches and which index answered.
    public func search(_ queries: [[Float]], madeWith model: GalleryModel? = nil, k: Int = 5,
                       metric: DistanceMetric = .euclideanL2, threshold: Double? = nil,
                       mode: GallerySearchMode = .automatic) async throws -> (matches: [[GalleryMatch]], index: GalleryIndexUsed) {
        if let model { try requireModel(model) }
        guard k >= 1 else { throw FaceNetError.invalidArgument("k must be at least 1, not \(k)") }
        guard metric != .euclidean else {
            throw FaceNetError.invalidArgument("a gallery compares normalised embeddings: use euclidean_l2, cosine or angular, not euclidean")
        }
        for (i, query) in queries.enumerated() { try checkEmbedding(query, what: "query \(i)") }
        let normalized = queries.map(EmbeddingMatrix.normalized)
        let limit = threshold ?? model.flatMap(\.weightSet).flatMap(WeightSet.init(rawValue:)).map { $0.threshold(for: metric) }
            ?? self.model.weightSet.flatMap(WeightSet.init(rawValue:)).map { $0.threshold(for: metric) }
        func match(_ face: GalleryFace, _ similarity: Float) -> GalleryMatch {
            let distance = Self.distance(similarity: Double(similarity), metric: metric)
            return GalleryMatch(identity: face.identity, file: face.file, box: face.box, faceID: face.id, distance: distance,
                                threshold: limit, verified: limit.map { distance <= $0 } ?? false)
        }
        // A store with an index of its own (PostgreSQL + pgvector) answers in SQL.
        if cachePath == nil {
            var found: [[GalleryMatch]] = []
            var used = GalleryIndexUsed.exact
            for query in normalized {
                let exact: Bool, ef: Int?
                switch mode {
                case .exact: (exact, ef) = (true, nil)
                case .approximate(let given): (exact, ef) = (false, max(given ?? Self.defaultEF, k))
                case .automatic: (exact, ef) = (false, max(Self.defaultEF, k))
                }
                guard let matches = try await store.nearest(to: query, k: k, ef: ef, exact: exact) else {
                    throw internalFault("FaceGallery: a store without a local index gave no search of its own")
                }
                found.append(matches.map { match($0.face, $0.similarity) })
                used = exact ? .exact : .store(ef: ef)
            }
            return (found, used)
        }
        try await refresh()
        let exact: Bool
        let ef: Int
        switch mode {
        case .exact: (exact, ef) = (true, 0)
        case .approximate(let given): (exact, ef) = (false, max(given ?? Self.defaultEF, k))
        case .automatic: (exact, ef) = (snapshot.liveCount < Self.approximateFrom, max(Self.defaultEF, k))
        }
        let rows: [[RowMatch]]
        let used: GalleryIndexUsed
        if exact {
            rows = try ExactSearch.search(normalized, in: snapshot.matrix, k: k, deleted: snapshot.hasRemovals ? snapshot.deleted : nil)
            used = .exact
        } else {
            rows = snapshot.approximate(normalized, k: k, ef: ef)
            used = .hnsw(ef: ef)
        }
        // The matched faces' records, read by id (the matrix holds only embeddings).
        let wanted = Array(Set(rows.flatMap { $0.map { snapshot.ids[Int($0.row)] } }))
        let records = Dictionary(uniqueKeysWithValues: try await store.faces(ids: wanted).map { ($0.id, $0) })
        let ids = snapshot.ids
        let matches = rows.map { found in
            found.compactMap { row -> GalleryMatch? in
                // A face removed by another process since the refresh is left out.
                guard let face = records[ids[Int(row.row)]] else { return nil }
                return match(face, row.similarity)
            }
        }
        return (matches, used)
    }

    /// The metric's distance for two unit vectors with inner product `similarity`.
    static func distance(similarity: Double, metric: DistanceMetric) -> Double {
        let cos = min(1, max(-1, similarity))
        switch metric {
        case .cosine: return 1 - cos
        case .angular: return acos(cos) / Double.pi
        case .euclideanL2, .euclidean: return max(0, 2 - 2 * cos).squareRoot()
        }
    }

    // MARK: Reading

    public func statistics() async throws -> GalleryStatistics {
        let counts = try await store.counts()
        let index: GalleryIndexUsed = cachePath == nil ? .store(ef: Self.defaultEF)
            : counts.faces < Self.approximateFrom ? .exact : .hnsw(ef: Self.defaultEF)
        return GalleryStatistics(faces: counts.faces, identities: counts.identities, model: model, location: location,
                                 defaultIndex: index)
    }

    /// Every stored face, in id order (`gallery export`, `gallery list`).
    public func faces() async throws -> [GalleryFace] {
        try await store.faces(after: 0, limit: nil)
    }

    /// Photos already stored and their content hashes.
    public func fileHashes() async throws -> [String: String] {
        try await store.fileHashes()
    }

    // MARK: Internals

    /// Brings the in-memory matrix up to date with the store, unless its generation is
    /// unchanged: new rows (ids above the last loaded one) are appended; rows removed since
    /// (by any process) are masked. Returns whether anything changed.
    @discardableResult
    private func refresh() async throws -> Bool {
        let generation = try await store.generation()
        guard generation != snapshot.generation else { return false }
        var added = try await store.faces(after: snapshot.lastID, limit: 10_000)
        while !added.isEmpty {
            snapshot.matrix.reserveCapacity(rows: snapshot.ids.count + added.count)
            for face in added { snapshot.append(id: face.id, embedding: face.embedding) }
            added = try await store.faces(after: snapshot.lastID, limit: 10_000)
        }
        let stored = try await store.ids()
        if stored.count != snapshot.liveCount { snapshot.keepOnly(Set(stored)) }
        snapshot.generation = generation
        return true
    }

    /// Saves the in-memory index beside an embedded gallery (a cache: see
    /// `GalleryIndexCache`), building the HNSW graph first when `graph` is true or the
    /// gallery is large enough for searches to use it. `gallery add` and `import` call this,
    /// so the graph is built once, not at every `find`.
    public func saveIndex(graph: Bool? = nil) async throws {
        guard let cachePath else { return }
        try await refresh()
        if graph ?? (snapshot.liveCount >= Self.approximateFrom) { snapshot.updateGraph() }
        let cache = GalleryIndexCache(ids: snapshot.ids, matrix: snapshot.matrix, generation: snapshot.generation ?? 0,
                                      lastID: snapshot.lastID, graph: snapshot.graph)
        try cache.write(to: cachePath)
        savedGeneration = cache.generation
    }

    /// `saveIndex()` when the in-memory index has changed since it was last saved or read
    /// (a search refreshed it with other processes' changes).
    public func saveIndexIfChanged() async throws {
        if snapshot.generation != savedGeneration { try await saveIndex(graph: snapshot.graph != nil ? true : nil) }
    }

    /// Throws `galleryMismatch`, naming both, unless `given` is the gallery's model: call it
    /// before loading a network the gallery would refuse.
    public nonisolated func requireModel(_ given: GalleryModel) throws {
        guard given == model else {
            throw FaceNetError.galleryMismatch(location: location, gallery: model.description, given: given.description)
        }
    }

    private func checkEmbedding(_ vector: [Float], what: String) throws {
        guard vector.count == model.dimension else {
            throw FaceNetError.galleryMismatch(location: location, gallery: "\(model.dimension)-d embeddings",
                                               given: "\(what): \(vector.count)-d")
        }
        guard vector.allSatisfy(\.isFinite) else {
            throw FaceNetError.invalidArgument("\(what): the embedding holds NaN or infinity")
        }
        guard vector.contains(where: { $0 != 0 }) else {
            throw FaceNetError.invalidArgument("\(what): the embedding is all zeros (no direction to compare)")
        }
    }
}

/// The in-memory side of a gallery: the matrix, each row's face id, removals, and the HNSW
/// graph over the rows. Rows are in id order.
struct GallerySnapshot: Sendable {
    var matrix: EmbeddingMatrix
    /// Row i's face id.
    var ids: [Int64] = []
    var deleted: [Bool] = []
    var removedCount = 0
    var lastID: Int64 = 0
    /// The store's generation this snapshot reflects (nil: never synchronised).
    var generation: Int64?
    var graph: HNSWIndex?

    init(dimension: Int) { matrix = EmbeddingMatrix(dimension: dimension) }

    /// A saved cache: removed rows are found at the next refresh.
    init(cache: GalleryIndexCache) {
        matrix = cache.matrix
        ids = cache.ids
        deleted = [Bool](repeating: false, count: cache.ids.count)
        lastID = cache.lastID
        generation = cache.generation
        graph = cache.graph
        if let graph {
            for row in 0..<min(graph.count, ids.count) where graph.isDeleted(Int32(row)) {
                deleted[row] = true
                removedCount += 1
            }
        }
    }

    var liveCount: Int { ids.count - removedCount }
    var hasRemovals: Bool { removedCount > 0 }

    /// Appends a stored face (its embedding normalised already).
    mutating func append(id: Int64, embedding: [Float]) {
        matrix.append(embedding)
        ids.append(id)
        deleted.append(false)
        lastID = max(lastID, id)
    }

    /// Marks the rows whose ids are not in `live` removed.
    mutating func keepOnly(_ live: Set<Int64>) {
        for row in ids.indices where !deleted[row] && !live.contains(ids[row]) { markRemoved(row: row) }
    }

    mutating func markRemoved(row: Int) {
        deleted[row] = true
        removedCount += 1
        if let graph, row < graph.count { self.graph?.remove(row: Int32(row)) }
    }

    /// Inserts every row the graph lacks (building it on first use), many at once on
    /// `threads` threads.
    mutating func updateGraph(threads: Int = GallerySnapshot.buildThreads) {
        var index = graph ?? HNSWIndex(parameters: Self.graphParameters)
        graph = nil  // the only reference while inserting: no copy of its arrays
        let first = index.count
        index.insert(rowsUpTo: matrix.count, in: matrix, threads: threads)
        for row in first ..< matrix.count where deleted[row] { index.remove(row: Int32(row)) }
        graph = index
    }

    /// A gallery's graph: M 16, efConstruction 128. At 100,000 faces that keeps recall@10 at
    /// 0.997–0.998 with the default ef 64 (200 gives 1.000 at 1.6× the build time; 100 gives
    /// 0.9975; Docs/search.md). A graph read from a saved index keeps its own parameters.
    static let graphParameters = HNSWParameters(m: 16, efConstruction: 128)

    /// Threads for a large graph build: the machine's cores (at most 16).
    static let buildThreads = min(16, max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// HNSW search; the graph is brought up to the matrix's rows first.
    mutating func approximate(_ queries: [[Float]], k: Int, ef: Int) -> [[RowMatch]] {
        updateGraph()
        guard let index = graph else { return queries.map { _ in [] } }
        return queries.map { query in
            index.search(query, k: k, ef: ef, in: matrix).map { RowMatch(row: $0.row, similarity: $0.similarity) }
        }
    }
}
