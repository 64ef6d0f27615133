import FaceNetKit

extension GalleryMatch {
    /// A match as `facenet find --json` and `facenet serve`'s `/search` write it:
    /// `{"identity", "file", "distance", "threshold", "verified", "box": [x, y, w, h] | null, "face_id"}`.
    /// `shownFile`: how the stored file name is written out (a folder gallery's are relative to it).
    package func json(shownFile: (String) -> String = { $0 }) -> JSON {
        .object([("identity", .string(identity)), ("file", .string(file.map(shownFile))), ("distance", .double(distance)),
                 ("threshold", threshold.map(JSON.double) ?? .null), ("verified", .bool(verified)),
                 ("box", box.map { .array($0.map(JSON.int)) } ?? .null), ("face_id", .int(Int(faceID)))])
    }
}

/// Which index answered a search, as `facenet find --json` writes it: `"index"` (and `"ef"`, `"engine"`).
package func indexFields(_ index: GalleryIndexUsed) -> [(String, JSON)] {
    switch index {
    case .exact: return [("index", .string("exact"))]
    case .hnsw(let ef): return [("index", .string("hnsw")), ("ef", .int(ef))]
    case .store(let ef): return [("index", .string("hnsw")), ("ef", ef.map(JSON.int) ?? .null), ("engine", .string("pgvector"))]
    }
}
