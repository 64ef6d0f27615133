import CZlib
import Foundation
import FaceNetKernels

/// Reads members of a zip archive (a Python wheel) held in memory: the central directory
/// at the end, then one member's local header and data, stored or deflated, checked
/// against its CRC-32. No ZIP64, encryption or multi-disk archives (wheels use none of
/// them); every size and offset is checked against the archive before use.
struct ZipArchive {
    /// One central-directory entry.
    struct Entry {
        let name: String
        let method: UInt16
        let crc32: UInt32
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    let bytes: [UInt8]
    /// Names the archive in errors.
    let source: String
    let entries: [Entry]

    /// Largest member accepted, unpacked (the FaceNet graph is 95 MB).
    static let maxMemberSize = 1 << 30

    init(bytes: [UInt8], source: String) throws {
        self.bytes = bytes
        self.source = source
        entries = try Self.readCentralDirectory(bytes, source: source)
    }

    /// The unpacked bytes of the member called `name`.
    func member(named name: String) throws -> [UInt8] {
        guard let entry = entries.first(where: { $0.name == name }) else {
            throw invalid("has no member \(name) (\(entries.count) members)")
        }
        let header = entry.localHeaderOffset
        guard Self.uint32(bytes, header) == 0x0403_4B50 else { throw invalid("\(name): no local header at its offset") }
        guard let nameLength = Self.uint16(bytes, header + 26), let extraLength = Self.uint16(bytes, header + 28) else {
            throw invalid("\(name): local header cut short")
        }
        let start = header + 30 + Int(nameLength) + Int(extraLength)
        guard start + entry.compressedSize <= bytes.count else { throw invalid("\(name): data runs past the end of the file") }
        guard entry.size <= Self.maxMemberSize else { throw invalid("\(name): \(entry.size) bytes unpacked is over the limit") }
        let packed = bytes[start..<(start + entry.compressedSize)]
        let data: [UInt8]
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.size else { throw invalid("\(name): stored, but its two sizes differ") }
            data = Array(packed)
        case 8: data = try inflate(packed, size: entry.size, name: name)
        default: throw invalid("\(name): compression method \(entry.method) is not supported (stored or deflate only)")
        }
        let crc = data.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        guard crc == entry.crc32 else { throw invalid("\(name): CRC-32 mismatch (the archive is damaged)") }
        return data
    }

    private func inflate(_ packed: ArraySlice<UInt8>, size: Int, name: String) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        var stream = z_stream()
        // −15: a raw deflate stream, as zip stores it (no zlib header).
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw invalid("\(name): zlib cannot start inflating")
        }
        defer { inflateEnd(&stream) }
        let status = packed.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == size else {
            throw invalid("\(name): deflate data is damaged (zlib status \(status), \(stream.total_out) of \(size) bytes)")
        }
        return output
    }

    private func invalid(_ reason: String) -> FaceNetError {
        FaceNetError.unreadableFile(path: source, reason: "not a usable zip archive: \(reason)")
    }

    /// The entries listed by the end-of-central-directory record (searched for backwards
    /// over the 64 KiB a trailing comment may take).
    private static func readCentralDirectory(_ bytes: [UInt8], source: String) throws -> [Entry] {
        func invalid(_ reason: String) -> FaceNetError {
            FaceNetError.unreadableFile(path: source, reason: "not a usable zip archive: \(reason)")
        }
        guard bytes.count >= 22 else { throw invalid("\(bytes.count) bytes is too short") }
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        guard let end = stride(from: bytes.count - 22, through: lowest, by: -1).first(where: { uint32(bytes, $0) == 0x0605_4B50 }),
              let count = uint16(bytes, end + 10), let directorySize = uint32(bytes, end + 12),
              let directoryOffset = uint32(bytes, end + 16) else {
            throw invalid("no end-of-central-directory record")
        }
        guard Int(directoryOffset) + Int(directorySize) <= end else { throw invalid("the central directory lies outside the file") }
        var entries: [Entry] = []
        var at = Int(directoryOffset)
        for index in 0..<Int(count) {
            guard uint32(bytes, at) == 0x0201_4B50, let method = uint16(bytes, at + 10), let crc = uint32(bytes, at + 16),
                  let packed = uint32(bytes, at + 20), let size = uint32(bytes, at + 24),
                  let nameLength = uint16(bytes, at + 28), let extraLength = uint16(bytes, at + 30),
                  let commentLength = uint16(bytes, at + 32), let offset = uint32(bytes, at + 42),
                  at + 46 + Int(nameLength) <= bytes.count else {
                throw invalid("central directory entry \(index) is damaged")
            }
            guard packed != 0xFFFF_FFFF, size != 0xFFFF_FFFF, offset != 0xFFFF_FFFF else {
                throw invalid("entry \(index) needs ZIP64, which is not supported")
            }
            let name = String(decoding: bytes[(at + 46)..<(at + 46 + Int(nameLength))], as: UTF8.self)
            entries.append(Entry(name: name, method: method, crc32: crc, compressedSize: Int(packed), size: Int(size),
                                 localHeaderOffset: Int(offset)))
            at += 46 + Int(nameLength) + Int(extraLength) + Int(commentLength)
        }
        return entries
    }

    /// Little-endian fields, nil past the end.
    private static func uint16(_ bytes: [UInt8], _ at: Int) -> UInt16? {
        guard at >= 0, at + 2 <= bytes.count else { return nil }
        return UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    private static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32? {
        guard let low = uint16(bytes, at), let high = uint16(bytes, at + 2) else { return nil }
        return UInt32(low) | UInt32(high) << 16
    }
}
