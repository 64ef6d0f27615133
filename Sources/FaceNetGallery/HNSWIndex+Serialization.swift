// The index's bytes (all little-endian), version 1:
//
//   magic        4 bytes  "HNSW"
//   version      UInt16   1
//   flags        UInt16   0
//   m            UInt32   in HNSWParameters.mRange
//   efConstr.    UInt32   in HNSWParameters.efConstructionRange
//   seed         UInt64
//   rngState     UInt64   the level generator's state (later inserts continue it)
//   count        UInt32   nodes (≤ the matrix's rows)
//   entryPoint   Int32    -1 when count is 0, else a node of the highest level
//   maxLevel     UInt32   the highest level (0 when empty), ≤ HNSWParameters.maxLevel
//   deleted      UInt32   tombstones: the number of set bits below
//   levels       count bytes
//   tombstones   ceil(count / 8) bytes, bit i of byte j is node 8j + i; unused bits 0
//   lists        for each node, for each layer 0 ... level: UInt16 n (≤ 2m on layer 0,
//                ≤ m above), then n UInt32 neighbour ids (< count, not the node, each of
//                level ≥ the layer)
//
// Nothing follows. The encoding is canonical: decoding and encoding again gives the same
// bytes. Decoding checks every field and every id, so a truncated or corrupt input throws
// instead of building a graph that could read out of bounds.

/// Why serialised index bytes were rejected.
enum HNSWSerializationError: Error, Equatable, Sendable {
    case truncated
    case badMagic
    case unsupportedVersion(UInt16)
    case invalid(String)
    case trailingBytes
}

extension HNSWIndex {
    static let magic: [UInt8] = Array("HNSW".utf8)
    static let formatVersion: UInt16 = 1

    /// The index as bytes (format above).
    func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(48 + 3 * count + 4 * (level0.count + upper.count))
        func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        out.append(contentsOf: Self.magic)
        put(Self.formatVersion)
        put(UInt16(0))
        put(UInt32(parameters.m))
        put(UInt32(parameters.efConstruction))
        put(parameters.seed)
        put(rngState)
        put(UInt32(count))
        put(entryPoint)
        put(UInt32(maxLevel))
        put(UInt32(deletedCount))
        out.append(contentsOf: levels)
        for byteIndex in 0 ..< (count + 7) / 8 {
            out.append(UInt8(truncatingIfNeeded: deletedBits[byteIndex >> 3] >> UInt64(8 * (byteIndex & 7))))
        }
        for node in 0 ..< count {
            for layer in 0 ... Int(levels[node]) {
                let offset = listOffset(node, layer: layer)
                let storage = layer == 0 ? level0 : upper
                let n = Int(storage[offset])
                put(UInt16(n))
                for i in 0 ..< n { put(UInt32(bitPattern: storage[offset + 1 + i])) }
            }
        }
        return out
    }

    /// Decodes `serialized()` bytes for a matrix of `matrixRows` rows. Throws
    /// `HNSWSerializationError` on anything inconsistent: truncation, unknown magic or
    /// version, out-of-range parameters, levels or counts, a neighbour that is not a node of
    /// that layer (or is ≥ `matrixRows`), trailing bytes.
    init(serialized bytes: [UInt8], matrixRows: Int) throws {
        var reader = ByteReader(bytes)
        guard try reader.bytes(4) == Self.magic else { throw HNSWSerializationError.badMagic }
        let version: UInt16 = try reader.read()
        guard version == Self.formatVersion else { throw HNSWSerializationError.unsupportedVersion(version) }
        guard try reader.read() as UInt16 == 0 else { throw HNSWSerializationError.invalid("flags") }
        let m = Int(try reader.read() as UInt32)
        let efConstruction = Int(try reader.read() as UInt32)
        let seed: UInt64 = try reader.read()
        let parameters = HNSWParameters(m: m, efConstruction: efConstruction, seed: seed)
        guard parameters.isValid else { throw HNSWSerializationError.invalid("parameters") }
        let rngState: UInt64 = try reader.read()
        let count = Int(try reader.read() as UInt32)
        let entryPoint: Int32 = try reader.read()
        let maxLevel = Int(try reader.read() as UInt32)
        let deletedCount = Int(try reader.read() as UInt32)
        guard count <= matrixRows, count <= Int(Int32.max) else { throw HNSWSerializationError.invalid("count") }
        guard deletedCount <= count else { throw HNSWSerializationError.invalid("deleted count") }
        guard maxLevel <= HNSWParameters.maxLevel else { throw HNSWSerializationError.invalid("max level") }
        if count == 0 {
            guard entryPoint == -1, maxLevel == 0 else { throw HNSWSerializationError.invalid("entry point") }
        } else {
            guard entryPoint >= 0, Int(entryPoint) < count else { throw HNSWSerializationError.invalid("entry point") }
        }
        // Every node takes at least its level byte and one list count (3 bytes): check the
        // length before allocating anything proportional to count.
        guard reader.remaining >= 3 * count + (count + 7) / 8 else { throw HNSWSerializationError.truncated }

        let levels = try reader.bytes(count)
        var highest = 0
        var upperSlots = 0
        for level in levels {
            guard Int(level) <= maxLevel else { throw HNSWSerializationError.invalid("level") }
            highest = max(highest, Int(level))
            upperSlots += Int(level) * (m + 1)
        }
        guard count == 0 || (highest == maxLevel && Int(levels[Int(entryPoint)]) == maxLevel) else {
            throw HNSWSerializationError.invalid("entry point level")
        }
        guard upperSlots <= Int(Int32.max) else { throw HNSWSerializationError.invalid("index too large") }

        let tombstoneBytes = try reader.bytes((count + 7) / 8)
        var deletedBits = [UInt64](repeating: 0, count: (count + 63) / 64)
        var setBits = 0
        for (j, byte) in tombstoneBytes.enumerated() {
            deletedBits[j >> 3] |= UInt64(byte) << UInt64(8 * (j & 7))
            setBits += byte.nonzeroBitCount
        }
        if count & 7 != 0, let last = tombstoneBytes.last, last >> UInt8(count & 7) != 0 {
            throw HNSWSerializationError.invalid("tombstone padding")
        }
        guard setBits == deletedCount else { throw HNSWSerializationError.invalid("deleted count") }

        // Upper-layer data must be present too (3 bytes a layer at least) before allocating.
        guard reader.remaining >= 2 * count + 2 * upperSlots / (m + 1) else { throw HNSWSerializationError.truncated }
        let stride0 = 2 * m + 1, strideUpper = m + 1
        var level0 = [Int32](repeating: 0, count: count * stride0)
        var upperStart = [Int32](repeating: -1, count: count)
        var upper = [Int32](repeating: 0, count: upperSlots)
        var nextUpper = 0
        for node in 0 ..< count where levels[node] > 0 {
            upperStart[node] = Int32(nextUpper)
            nextUpper += Int(levels[node]) * (m + 1)
        }
        for node in 0 ..< count {
            for layer in 0 ... Int(levels[node]) {
                let n = Int(try reader.read() as UInt16)
                let capacity = layer == 0 ? 2 * m : m
                guard n <= capacity else { throw HNSWSerializationError.invalid("list length") }
                let offset = layer == 0 ? node * stride0 : Int(upperStart[node]) + (layer - 1) * strideUpper
                if layer == 0 { level0[offset] = Int32(n) } else { upper[offset] = Int32(n) }
                for i in 0 ..< n {
                    let raw: UInt32 = try reader.read()
                    guard raw < UInt32(count) else { throw HNSWSerializationError.invalid("neighbour id") }
                    let id = Int(raw)
                    guard id != node, Int(levels[id]) >= layer else {
                        throw HNSWSerializationError.invalid("neighbour not on the layer")
                    }
                    if layer == 0 { level0[offset + 1 + i] = Int32(id) } else { upper[offset + 1 + i] = Int32(id) }
                }
            }
        }
        guard reader.remaining == 0 else { throw HNSWSerializationError.trailingBytes }
        self.init(parameters: parameters, rngState: rngState, count: count, deletedCount: deletedCount,
                  levels: levels, level0: level0, upperStart: upperStart, upper: upper,
                  deletedBits: deletedBits, entryPoint: entryPoint, maxLevel: maxLevel)
    }
}

/// Bounds-checked little-endian reads; every read past the end throws `.truncated`.
private struct ByteReader {
    let bytes: [UInt8]
    var position = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }

    mutating func bytes(_ n: Int) throws -> [UInt8] {
        guard n >= 0, n <= remaining else { throw HNSWSerializationError.truncated }
        defer { position += n }
        return Array(bytes[position ..< position + n])
    }

    mutating func read<T: FixedWidthInteger>() throws -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw HNSWSerializationError.truncated }
        var value: T = 0
        for i in 0 ..< size { value |= T(truncatingIfNeeded: bytes[position + i]) << (8 * i) }
        position += size
        return value
    }
}
