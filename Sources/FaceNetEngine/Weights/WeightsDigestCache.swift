import Foundation
import FaceNetKernels

/// What identifies one version of a file without reading it: its resolved path, size,
/// modification time (nanoseconds) and inode. A file rewritten or replaced changes one of them.
public struct FileIdentity: Sendable, Equatable, Codable {
    public let path: String
    public let size: Int64
    public let modifiedNanoseconds: Int64
    public let inode: UInt64

    /// The identity of the file at `path` now, or nil when it cannot be stat'ed.
    public init?(path: String) {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: resolved),
              let size = (attributes[.size] as? NSNumber)?.int64Value,
              let modified = attributes[.modificationDate] as? Date else { return nil }
        self.path = resolved
        self.size = size
        self.modifiedNanoseconds = Int64((modified.timeIntervalSince1970 * 1e9).rounded())
        self.inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
    }
}

/// Tensor digests already computed, by file identity, in one small JSON file, so that a
/// known weights file is hashed once and not on every load. Lookups and stores never
/// throw: an unreadable, malformed or unwritable cache only means hashing again.
///
/// The cache is a convenience, not a trust anchor: whoever can write it can also replace
/// the weights files it describes.
public struct WeightsDigestCache: Sendable, Equatable {
    /// The directory holding `weights-digests.json`.
    public let directory: String
    /// Entries kept (most recently stored first).
    public static let maxEntries = 64
    /// A cache file larger than this is ignored (a kept entry is ~300 bytes).
    public static let maxFileBytes = 1 << 20
    static let fileName = "weights-digests.json"

    public init(directory: String) {
        self.directory = directory
    }

    /// `$FACENET_CACHE_DIR`, else `$XDG_CACHE_HOME/facenet`, else `~/.cache/facenet`; nil
    /// when none can be formed.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> WeightsDigestCache? {
        if let custom = environment["FACENET_CACHE_DIR"], !custom.isEmpty { return WeightsDigestCache(directory: custom) }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return WeightsDigestCache(directory: xdg + "/facenet") }
        if let home = environment["HOME"], !home.isEmpty { return WeightsDigestCache(directory: home + "/.cache/facenet") }
        return nil
    }

    var filePath: String { (directory as NSString).appendingPathComponent(Self.fileName) }

    /// One remembered digest.
    package struct Entry: Codable, Equatable {
        package let file: FileIdentity
        package let digest: String
    }

    /// The digest stored for exactly this identity, if any.
    public func digest(for identity: FileIdentity) -> String? {
        readEntries().first { $0.file == identity }?.digest
    }

    /// Remembers a digest; returns false when the cache could not be written (not an error).
    @discardableResult
    public func store(_ digest: String, for identity: FileIdentity) -> Bool {
        let kept = readEntries().filter { $0.file.path != identity.path }
        let entries = [Entry(file: identity, digest: digest)] + kept.prefix(Self.maxEntries - 1)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let data = try JSONEncoder().encode(entries)
            // Written beside the cache and renamed over it: readers see the old or the new file.
            let temporary = filePath + ".\(UUID().uuidString).tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: data) else { return false }
            guard rename(temporary, filePath) == 0 else {
                try? FileManager.default.removeItem(atPath: temporary)
                return false
            }
            return true
        } catch {
            return false
        }
    }

    private func readEntries() -> [Entry] {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: filePath),
              let size = (attributes[.size] as? NSNumber)?.intValue, size <= Self.maxFileBytes,
              let data = FileManager.default.contents(atPath: filePath),
              let entries = try? JSONDecoder().decode([Entry].self, from: data) else { return [] }
        return entries
    }
}
