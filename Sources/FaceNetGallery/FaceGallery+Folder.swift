import FaceNetKernels
import FaceNetKit
import Foundation

/// What `FaceGallery.synchronize(folder:with:model:maxFaces:)` did. Paths are relative to
/// the folder, as the gallery stores them.
public struct FolderSynchronization: Sendable {
    /// Photos new to the gallery, now stored.
    public var added: [String] = []
    /// Photos whose bytes changed: their old faces removed, the new ones stored.
    public var reembedded: [String] = []
    /// Photos gone from the folder: their faces removed.
    public var removed: [String] = []
    /// Photos stored already with the same bytes: neither decoded nor embedded.
    public var unchanged = 0
    /// Photos that could not be stored (undecodable, no face). A changed photo that fails
    /// loses its old faces too: they no longer describe the file. Tried again at every call.
    public var failed: [PhotoOutcome] = []

    /// Photos given to the network this time: 0 when nothing in the folder changed.
    public var embedded: Int { added.count + reembedded.count + failed.count }
}

extension FaceGallery {
    /// The gallery file a folder of photos keeps inside itself (its index cache beside it,
    /// with `.index` added). Hidden, so the folder walk never takes it for a photo.
    public static let folderGalleryName = ".facenet-gallery.sqlite"

    /// Opens the gallery kept inside `folder`, creating it for `model` when there is none.
    /// An existing one made with another model is refused with an error naming both and
    /// the file to delete to rebuild it.
    public static func open(folder: String, model: GalleryModel) async throws -> FaceGallery {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FaceNetError.unreadableFile(path: folder, reason: "no such folder: give a folder of photos")
        }
        let location = (folder as NSString).appendingPathComponent(folderGalleryName)
        guard FileManager.default.fileExists(atPath: location) else { return try await create(location, model: model) }
        let gallery = try await open(location)
        guard gallery.model == model else {
            try await gallery.close()
            // The folder is the source of truth: rebuilding from it loses nothing.
            throw FaceNetError.galleryMismatch(
                location: location, gallery: gallery.model.description,
                given: model.description + " (to rebuild the folder's gallery with this model, delete \(location) and "
                    + "\(GalleryIndexCache.path(for: location)))")
        }
        return gallery
    }

    /// Brings the gallery up to date with the photos under `folder` (walked recursively;
    /// hidden files and folders skipped; images picked by extension, decoded by content):
    /// a new photo is embedded and stored, a photo whose SHA-256 changed is re-embedded (its
    /// old faces removed first), the faces of a photo gone from the folder are removed.
    /// An unchanged photo is only hashed: its faces keep their rows and ids. File times are
    /// never looked at. A photo is stored as its path relative to `folder`, its identity
    /// the name of the folder holding it (`alice/1.jpg` → alice; `bob.jpg` directly in
    /// `folder` → bob). Photos that fail are reported in the result and skipped.
    ///
    /// Stored faces whose file is not a photo under `folder` (added by other means) are
    /// removed as gone; imported faces without a content hash are left alone.
    public func synchronize(folder: String, with facenet: FaceNet, model: String,
                            maxFaces: Int = 1) async throws -> FolderSynchronization {
        let made = try GalleryModel(facenet: facenet, model: model)
        try requireModel(made)
        let onDisk = try Self.folderPhotos(folder)
        let stored = try await fileHashes()
        var result = FolderSynchronization()
        var toEmbed: [PhotoToAdd] = []
        var changed: Set<String> = []
        for name in onDisk {
            try Task.checkCancellation()
            let path = (folder as NSString).appendingPathComponent(name)
            let hash: String
            do {
                hash = try Self.contentHash(of: path)
            } catch {
                result.failed.append(PhotoOutcome(file: path, identity: Self.folderIdentity(of: name), result: .failure(error)))
                continue
            }
            if let old = stored[name] {
                if old == hash {
                    result.unchanged += 1
                    continue
                }
                changed.insert(name)
            }
            toEmbed.append(PhotoToAdd(path: path, name: name, identity: Self.folderIdentity(of: name), hash: hash))
        }
        // Gone, and changed: the old faces go before the new are stored (a crash in between
        // leaves the photo missing, so the next call adds it).
        let present = Set(onDisk)
        for name in stored.keys.sorted() where !present.contains(name) {
            try await remove(file: name)
            result.removed.append(name)
        }
        for name in changed.sorted() { try await remove(file: name) }
        let outcomes = try await add(toEmbed, with: facenet, made: made, maxFaces: maxFaces)
        for (photo, outcome) in zip(toEmbed, outcomes) {
            switch outcome.result {
            case .success: changed.contains(photo.name) ? result.reembedded.append(photo.name) : result.added.append(photo.name)
            case .failure: result.failed.append(outcome)
            }
        }
        return result
    }

    /// `people/alice/1.jpg` → `alice`; a photo with no folder (`bob.jpg`, `./bob.jpg`) → its
    /// file name without the extension (`bob`). `gallery add` and folder galleries name
    /// identities this way.
    package static func folderIdentity(of file: String) -> String {
        let folder = ((file as NSString).deletingLastPathComponent as NSString).lastPathComponent
        return folder.isEmpty || folder == "." ? ((file as NSString).lastPathComponent as NSString).deletingPathExtension : folder
    }

    /// The photos under `folder`, relative to it, sorted: files with an image extension,
    /// not hidden and not inside a hidden folder (the gallery file itself is hidden).
    static func folderPhotos(_ folder: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else {
            throw FaceNetError.unreadableFile(path: folder, reason: "cannot list the folder")
        }
        var found: [String] = []
        while let name = walker.nextObject() as? String {
            let last = (name as NSString).lastPathComponent
            if last.hasPrefix(".") {
                walker.skipDescendants()
                continue
            }
            guard ImageFormat.fileExtensions.contains((last as NSString).pathExtension.lowercased()) else { continue }
            var isDirectory: ObjCBool = false
            let path = (folder as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { found.append(name) }
        }
        return found.sorted { $0.localizedStandardCompare($1) == .orderedAscending }
    }
}
