import FaceNetKernels
import Foundation

/// The in-memory index of an embedded gallery saved beside it (`G.sqlite.index`), so that
/// opening a large gallery reads one file instead of every row, and the HNSW graph is built
/// once. It is a cache: the SQLite file is the truth. A cache that is missing, damaged, of
/// another dimension or behind the store costs only a refresh or a rebuild, never data.
///
/// Format (little-endian):
///
///     "FNGI" u16 version u16 0, u32 dimension, u64 rows, i64 generation, i64 lastID, u64 graphBytes,
///     u64 checksum          `checksum(of:)` of everything after the header
///     rows × i64            the stored ids, ascending (row i holds id ids[i])
///     rows × dimension f32  the embeddings, l2-normalised
///     graphBytes            HNSWIndex.serialized(), or nothing
///
/// Written to a temporary file and renamed into place, so a reader sees a whole cache or
/// the previous one.
struct GalleryIndexCache {
    static let magic: [UInt8] = Array("FNGI".utf8)
    static let version: UInt16 = 1
    static let headerBytes = 4 + 2 + 2 + 4 + 8 + 8 + 8 + 8 + 8

    var ids: [Int64]
    var matrix: EmbeddingMatrix
    var generation: Int64
    var lastID: Int64
    var graph: HNSWIndex?

    /// The cache's path for a gallery file.
    static func path(for location: String) -> String { location + ".index" }

    /// Reads `path`; nil when there is no usable cache there (missing, damaged, another
    /// dimension): the caller rebuilds from the store.
    static func read(_ path: String, dimension: Int) -> GalleryIndexCache? {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe),
              data.count >= headerBytes else { return nil }
        return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> GalleryIndexCache? in
            func value<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T { T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self)) }
            guard Array(raw.prefix(4)) == magic, value(4, UInt16.self) == version, value(6, UInt16.self) == 0,
                  Int(value(8, UInt32.self)) == dimension else { return nil }
            let rows = value(12, UInt64.self), graphBytes = value(36, UInt64.self)
            let generation = value(20, Int64.self), lastID = value(28, Int64.self)
            // Sizes checked in overflow-safe arithmetic before any read.
            guard rows <= UInt64(Int32.max), graphBytes <= UInt64(Int.max / 2) else { return nil }
            let idBytes = Int(rows) * 8, floatCount = Int(rows) * dimension
            guard headerBytes + idBytes + floatCount * 4 + Int(graphBytes) == data.count,
                  checksum(of: UnsafeRawBufferPointer(rebasing: raw[headerBytes...])) == value(44, UInt64.self) else { return nil }
            var ids = [Int64](repeating: 0, count: Int(rows))
            for i in 0..<Int(rows) { ids[i] = value(headerBytes + i * 8, Int64.self) }
            guard zip(ids, ids.dropFirst()).allSatisfy({ $0 < $1 }), (ids.last ?? 0) <= lastID else { return nil }
            var floats = [Float](repeating: 0, count: floatCount)
            floats.withUnsafeMutableBytes { target in
                guard let base = raw.baseAddress else { return }
                target.copyMemory(from: UnsafeRawBufferPointer(start: base + headerBytes + idBytes, count: floatCount * 4))
            }
            // Stored little-endian; this only changes anything on a big-endian machine.
            for i in floats.indices { floats[i] = Float(bitPattern: UInt32(littleEndian: floats[i].bitPattern)) }
            guard floats.allSatisfy(\.isFinite) else { return nil }
            var graph: HNSWIndex?
            if graphBytes > 0 {
                let start = headerBytes + idBytes + floatCount * 4
                graph = try? HNSWIndex(serialized: Array(raw[start..<start + Int(graphBytes)]), matrixRows: Int(rows))
                if graph == nil { return nil }
            }
            return GalleryIndexCache(ids: ids, matrix: EmbeddingMatrix(dimension: dimension, normalizedRows: floats),
                                     generation: generation, lastID: lastID, graph: graph)
        }
    }

    /// FNV-1a over 64-bit words (then the tail bytes): any flipped bit changes it, at memory
    /// speed. It guards against damage, not against tampering.
    static func checksum(of bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        let prime: UInt64 = 0x0000_0100_0000_01B3
        let words = bytes.count / 8
        for i in 0..<words { hash = (hash ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) &* prime }
        for i in (words * 8)..<bytes.count { hash = (hash ^ UInt64(bytes[i])) &* prime }
        return hash
    }

    /// Writes the cache atomically.
    func write(to path: String) throws {
        let graphBytes = graph?.serialized() ?? []
        var data = Data(capacity: Self.headerBytes + ids.count * 8 + matrix.storage.count * 4 + graphBytes.count)
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        data.append(contentsOf: Self.magic)
        put(Self.version)
        put(UInt16(0))
        put(UInt32(matrix.dimension))
        put(UInt64(ids.count))
        put(generation)
        put(lastID)
        put(UInt64(graphBytes.count))
        put(UInt64(0))  // the checksum, filled in below
        #if _endian(little)
        ids.withUnsafeBufferPointer { data.append($0) }
        matrix.storage.withUnsafeBufferPointer { data.append($0) }
        #else
        for id in ids { put(id) }
        for value in matrix.storage { put(value.bitPattern) }
        #endif
        data.append(contentsOf: graphBytes)
        let sum = data.withUnsafeBytes { Self.checksum(of: UnsafeRawBufferPointer(rebasing: $0[Self.headerBytes...])) }
        withUnsafeBytes(of: sum.littleEndian) { data.replaceSubrange(44..<52, with: $0) }
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw FaceNetError.unwritableFile(path: path, reason: "the gallery's index cache: \(error.localizedDescription)")
        }
    }
}
