import Foundation

/// What made a gallery's embeddings. A gallery refuses a face or a query made another way:
/// embeddings of two models, or of one model fed differently, are not comparable.
public struct GalleryModel: Sendable, Equatable, Codable {
    /// The preset (`facenet512-casia`) or, for other weights, their tensor digest.
    public var model: String
    /// Floats per embedding.
    public var dimension: Int
    /// How a photo became the network's input, canonical text (detector, alignment,
    /// margin, resize, crop, colour, normalisation), e.g.
    /// `mtcnn align=none margin=16 | resize=bilinear-aa crop=center color=rgb normalize=fixed`.
    public var preprocessing: String
    /// The weight set whose thresholds apply (`WeightSet.rawValue`), when known.
    public var weightSet: String?

    public init(model: String, dimension: Int, preprocessing: String, weightSet: String?) {
        (self.model, self.dimension, self.preprocessing, self.weightSet) = (model, dimension, preprocessing, weightSet)
    }
}

extension GalleryModel: CustomStringConvertible {
    /// `facenet512-casia (512-d; mtcnn align=none margin=16 | …)`, as errors name it.
    public var description: String { "\(model) (\(dimension)-d; \(preprocessing))" }
}

/// One stored face: who it is, where it came from, and its embedding.
public struct GalleryFace: Sendable, Equatable {
    /// The store's id (0 until stored). Ids only grow: a face added later has a larger id.
    public var id: Int64
    public var identity: String
    /// The photo as it was named at `add` (or the `file` field of an imported line).
    public var file: String?
    /// SHA-256 of the photo's bytes (hex), for re-embedding only what changed.
    public var contentHash: String?
    /// Box in the photo, [x, y, width, height] pixels; nil for an imported embedding or a
    /// whole-image fallback.
    public var box: [Int]?
    /// The detector's confidence for the box.
    public var confidence: Float?
    /// Five landmarks as [x0, y0, …, x4, y4] (left eye, right eye, nose, mouth left, mouth right).
    public var landmarks: [Float]?
    /// The embedding, l2-normalised, `GalleryModel.dimension` floats.
    public var embedding: [Float]

    public init(id: Int64 = 0, identity: String, file: String? = nil, contentHash: String? = nil, box: [Int]? = nil,
                confidence: Float? = nil, landmarks: [Float]? = nil, embedding: [Float]) {
        (self.id, self.identity, self.file, self.contentHash, self.box) = (id, identity, file, contentHash, box)
        (self.confidence, self.landmarks, self.embedding) = (confidence, landmarks, embedding)
    }
}

/// A stored face found by a search, with its inner-product similarity to the query (the
/// cosine similarity: both are l2-normalised).
struct StoredMatch: Sendable, Equatable {
    var face: GalleryFace
    var similarity: Float
}

/// Where a gallery lives: the embedded SQLite file (`SQLiteGalleryStore`) or PostgreSQL with
/// pgvector (`PostgresGalleryStore`). Every write is one transaction: it is all stored or
/// none of it. Stores are `Sendable`; concurrent calls are serialised by the store.
protocol GalleryStore: Sendable {
    /// What the user named: a file path, or the `postgres://` URL without its password.
    var location: String { get }

    /// Creates an empty gallery for `model` at `location`; throws when one exists there.
    static func create(at location: String, model: GalleryModel) async throws -> Self

    /// Opens the gallery at `location`; throws a clear error when there is none, or it is
    /// not a gallery (another file, another schema), or it cannot be reached.
    static func open(_ location: String) async throws -> Self

    /// Ends the connection (a no-op for a file). The store is not used afterwards.
    func close() async throws

    /// The model the gallery was created for.
    func model() async throws -> GalleryModel

    /// Stores `faces` (ids ignored) in one transaction; returns their new ids, in order.
    func insert(_ faces: [GalleryFace]) async throws -> [Int64]

    /// Removes every face of `identity`, or of `file`; returns how many.
    func remove(identity: String) async throws -> Int
    func remove(file: String) async throws -> Int

    /// Every face with an id above `id`, in id order (to load or refresh the in-memory
    /// matrix), `limit` at a time when given.
    func faces(after id: Int64, limit: Int?) async throws -> [GalleryFace]

    /// Ids of every stored face (to find removals made by another process).
    func ids() async throws -> [Int64]

    /// The faces with these ids, in the order given (ids not stored are left out), without
    /// their embeddings (empty arrays): what a search returns about its matches.
    func faces(ids: [Int64]) async throws -> [GalleryFace]

    /// A number that changes with every write (insert or remove) by any process: equal
    /// generations mean an unchanged gallery, so a cached index needs no refresh.
    func generation() async throws -> Int64

    /// Face count and identity count.
    func counts() async throws -> (faces: Int, identities: Int)

    /// The k nearest faces by the store's own index, best first, or nil when the store has
    /// none (the gallery then searches its in-memory matrix). `ef`: the HNSW search width.
    func nearest(to query: [Float], k: Int, ef: Int?, exact: Bool) async throws -> [StoredMatch]?

    /// Files and their content hashes (the folder-gallery refresh).
    func fileHashes() async throws -> [String: String]

    /// Starts a bulk load: a store whose own vector index is cheaper to build once than to
    /// keep up to date row by row (pgvector's HNSW) drops it when the gallery is empty and
    /// says so; `ensureIndex` builds it again over everything stored. A crash in between
    /// leaves a gallery whose searches are exact (and slower) until the next write builds it.
    func beginBulkLoad() async throws -> Bool

    /// Builds the store's own vector index when it is missing (a no-op otherwise).
    func ensureIndex() async throws
}

extension GalleryStore {
    /// Stores without an index of their own (SQLite: the index is the in-memory HNSW).
    func beginBulkLoad() async throws -> Bool { false }
    func ensureIndex() async throws {}
}
