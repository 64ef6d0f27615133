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
    /// dimension): the caller rebuilds from the store. The file is read straight into the
    /// arrays that keep it (one copy, no zero-filling first), checksummed as it streams:
    /// opening a 100k-face gallery reads 215 MB, so a second copy would double its time and memory.
    static func read(_ path: String, dimension: Int) -> GalleryIndexCache? {
        guard let file = CacheFile(path) else { return nil }
        defer { file.close() }
        var header = [UInt8](repeating: 0, count: headerBytes)
        guard file.size >= headerBytes, header.withUnsafeMutableBytes({ file.read(into: $0) }) else { return nil }
        return header.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> GalleryIndexCache? in
            func value<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T { T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self)) }
            guard Array(raw.prefix(4)) == magic, value(4, UInt16.self) == version, value(6, UInt16.self) == 0,
                  Int(value(8, UInt32.self)) == dimension else { return nil }
            let rows = value(12, UInt64.self), graphBytes = value(36, UInt64.self)
            let generation = value(20, Int64.self), lastID = value(28, Int64.self)
            // Sizes checked in overflow-safe arithmetic before any allocation.
            guard rows <= UInt64(Int32.max), graphBytes <= UInt64(Int.max / 2) else { return nil }
            let idBytes = Int(rows) * 8, floatCount = Int(rows) * dimension
            guard headerBytes + idBytes + floatCount * 4 + Int(graphBytes) == file.size else { return nil }
            var hasher = FNV1a64()
            guard let ids = file.readArray(of: Int64.self, count: Int(rows), hashing: &hasher),
                  let floats = file.readArray(of: Float.self, count: floatCount, hashing: &hasher),
                  let graphData = file.readArray(of: UInt8.self, count: Int(graphBytes), hashing: &hasher),
                  hasher.finish() == value(44, UInt64.self) else { return nil }
            #if _endian(big)
            let ids = ids.map { Int64(littleEndian: $0) }
            let floats = floats.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
            #endif
            guard zip(ids, ids.dropFirst()).allSatisfy({ $0 < $1 }), (ids.last ?? 0) <= lastID,
                  allFinite(floats) else { return nil }
            var graph: HNSWIndex?
            if graphBytes > 0 {
                graph = try? HNSWIndex(serialized: graphData, matrixRows: Int(rows))
                if graph == nil { return nil }
            }
            return GalleryIndexCache(ids: ids, matrix: EmbeddingMatrix(dimension: dimension, normalizedRows: floats),
                                     generation: generation, lastID: lastID, graph: graph)
        }
    }

    /// No NaN or infinity: the exponent bits are not all ones (branch-free, so it vectorises).
    static func allFinite(_ values: [Float]) -> Bool {
        var nonFinite: UInt32 = 0
        for value in values { nonFinite |= (value.bitPattern & 0x7F80_0000) == 0x7F80_0000 ? 1 : 0 }
        return nonFinite == 0
    }

    /// FNV-1a over 64-bit words (then the tail bytes): any flipped bit changes it, at memory
    /// speed. It guards against damage, not against tampering.
    static func checksum(of bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = FNV1a64()
        hasher.update(bytes)
        return hasher.finish()
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

/// FNV-1a over little-endian 64-bit words, fed in pieces of any length: the result is the
/// same however the bytes are split (a partial word waits for the next piece), and the last
/// 1–7 bytes are mixed in one at a time by `finish()`.
struct FNV1a64 {
    private var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01B3
    private var pending: [UInt8] = []

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        if !pending.isEmpty {
            while pending.count < 8, offset < bytes.count { pending.append(bytes[offset]); offset += 1 }
            guard pending.count == 8 else { return }
            hash = (hash ^ pending.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }) &* Self.prime
            pending.removeAll(keepingCapacity: true)
        }
        let words = (bytes.count - offset) / 8
        var h = hash
        for i in 0..<words {
            h = (h ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + i * 8, as: UInt64.self))) &* Self.prime
        }
        hash = h
        pending.append(contentsOf: bytes[(offset + words * 8)...])
    }

    func finish() -> UInt64 {
        pending.reduce(hash) { ($0 ^ UInt64($1)) &* Self.prime }
    }
}

/// A cache file opened for reading with POSIX calls, read in order into arrays.
private final class CacheFile {
    let descriptor: Int32
    let size: Int

    init?(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            _ = Foundation.close(descriptor)
            return nil
        }
        (self.descriptor, self.size) = (descriptor, Int(info.st_size))
    }

    func close() { _ = Foundation.close(descriptor) }

    /// Fills `buffer` whole (false on an error or an early end of file).
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var done = 0
        while done < buffer.count {
            guard let base = buffer.baseAddress else { return false }
            let got = Foundation.read(descriptor, base + done, buffer.count - done)
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { return false }
            done += got
        }
        return true
    }

    /// The next `count` elements, read straight into a new array's uninitialised storage.
    func readArray<T: BitwiseCopyable>(of _: T.Type, count: Int, hashing hasher: inout FNV1a64) -> [T]? {
        var ok = true
        let array = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let bytes = UnsafeMutableRawBufferPointer(buffer)
            ok = read(into: bytes)
            if ok { hasher.update(UnsafeRawBufferPointer(bytes)) }
            // On failure the bytes are partly garbage, but plain data: the array is dropped.
            initialized = count
        }
        return ok ? array : nil
    }
}
