import Foundation
internal import ZIPFoundation
import FaceNetKernels

/// A member of a wheel (a zip archive) held in memory, read by ZIPFoundation: stored or
/// deflated, its CRC-32 and size checked here. Errors are `FaceNetError.unreadableFile` naming the archive.
enum WheelArchive {
    /// Largest member accepted, unpacked (the FaceNet graph is 95 MB).
    static let maxMemberSize: UInt64 = 1 << 30

    static func member(_ name: String, of bytes: Data, source: String) throws -> [UInt8] {
        func invalid(_ reason: String) -> FaceNetError {
            FaceNetError.unreadableFile(path: source, reason: "not a usable zip archive: \(reason)")
        }
        let archive: Archive
        do {
            archive = try Archive(data: bytes, accessMode: .read)
        } catch {
            throw invalid("\(error)")
        }
        guard let entry = archive[name] else {
            throw invalid("has no member \(name) (\(Array(archive).count) members)")
        }
        guard entry.uncompressedSize <= maxMemberSize else {
            throw invalid("\(name): \(entry.uncompressedSize) bytes unpacked is over the limit")
        }
        var data: [UInt8] = []
        data.reserveCapacity(Int(entry.uncompressedSize))
        let checksum: CRC32
        do {
            checksum = try archive.extract(entry, skipCRC32: false) { data.append(contentsOf: $0) }
        } catch {
            throw invalid("\(name): \(error) (the archive is damaged)")
        }
        // ZIPFoundation computes the CRC-32 but leaves comparing it to the caller.
        guard checksum == entry.checksum, data.count == Int(entry.uncompressedSize) else {
            throw invalid("\(name): CRC-32 or size mismatch (the archive is damaged)")
        }
        return data
    }
}
