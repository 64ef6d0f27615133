// Built unless FACENET_ENGINE_ONLY=1 (Package.swift): the gallery needs FaceNetGallery.
#if FACENET_GALLERY
import ArgumentParser
import FaceNetGallery
import FaceNetKit
import Foundation

/// `facenet find IMAGE... --gallery G`, `facenet find IMAGE... DBDIR` (a folder of photos as
/// the gallery, refreshed first) and `facenet find --embeddings FILE.jsonl --gallery G`.
struct FindCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find",
        abstract: "Who is this: the k nearest stored faces for every face of each photo (or each given embedding).",
        discussion: """
            Exact search below \(FaceGallery.approximateFrom) stored faces, HNSW from there on \
            (--exact or --ann to choose). With --json, one object per photo \
            {"file", "index", "faces": [{"box", "matches": [{"identity", "file", "distance", "threshold", "verified", "box"}]}]}, \
            or per input line {"matches": [...]} with --embeddings.

            Without --gallery, a folder given last is the gallery (deepface's db_path): its photos \
            are embedded into DBDIR/\(FaceGallery.folderGalleryName) at the first call; later calls \
            add new photos, re-embed changed ones (by content hash) and drop deleted ones first, \
            and say so on stderr. Identity: the folder holding the photo (DBDIR/alice/1.jpg → alice; \
            DBDIR/bob.jpg → bob).
            """)

    @Argument(help: "Query photos; without --gallery, then a folder of known photos (DBDIR).")
    var images: [String] = []

    @Option(help: "The gallery: a file path (or give a folder of photos last instead).")
    var gallery: String?

    @Option(help: "Query embeddings instead of photos: JSON lines with an `embedding` field (the network is not loaded).")
    var embeddings: String?

    @Option(name: .short, help: "Matches per face.")
    var k: Int = 5

    @Option(help: "Distance: euclidean_l2, cosine or angular.")
    var metric: DistanceMetric = .euclideanL2

    @Option(help: "Threshold for `verified` (default: the gallery's weight set's value for the metric).")
    var threshold: Double?

    @Flag(help: "Compare with every stored face.")
    var exact = false

    @Flag(help: "Search the HNSW graph whatever the gallery's size.")
    var ann = false

    @Option(help: "HNSW search width (with --ann, or for a gallery large enough to use it).")
    var ef: Int?

    @Option(help: "Faces per query photo, largest first (default: every face).")
    var maxFaces: Int?

    @OptionGroup var face: FaceOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard k >= 1 else { throw ValidationError("-k must be at least 1") }
        if exact, ann { throw ValidationError("give --exact or --ann, not both") }
        if let ef, ef < 1 { throw ValidationError("--ef must be at least 1") }
        if let maxFaces, maxFaces < 1 { throw ValidationError("--max-faces must be at least 1") }
        if metric == .euclidean { throw ValidationError("--metric euclidean compares raw embeddings; a gallery holds normalised ones: use euclidean_l2, cosine or angular") }
        if (embeddings == nil) == images.isEmpty { throw ValidationError("give query photos or --embeddings FILE (one of them)") }
        guard gallery == nil else { return }
        if embeddings != nil {
            throw ValidationError("--embeddings searches a gallery file: give --gallery G (a folder's own is DBDIR/\(FaceGallery.folderGalleryName))")
        }
        guard let folder = images.last, isDirectory(folder) else {
            throw ValidationError("give --gallery G, or a folder of known photos last: facenet find IMAGE... DBDIR")
        }
        if images.count < 2 { throw ValidationError("give the query photos before the folder \(folder): facenet find IMAGE... DBDIR") }
    }

    /// The folder gallery's folder: the last argument, when no --gallery is given (`validate`
    /// has checked it is a folder).
    private var folder: String? { gallery == nil && embeddings == nil ? images.last : nil }

    private var mode: GallerySearchMode {
        if exact { return .exact }
        if ann || ef != nil { return .approximate(ef: ef) }
        return .automatic
    }

    func run() async throws {
        guard let folder else {
            guard let gallery else { throw ValidationError("give --gallery G, or a folder of known photos last") }
            return try await search(try await FaceGallery.open(gallery))
        }
        // The gallery's model first: a mismatch is refused before the network is loaded.
        let store = try await FaceGallery.open(folder: folder, model: try face.galleryModel())
        let facenet = try face.load()
        let done = try await store.synchronize(folder: folder, with: facenet, model: face.galleryModelName)
        for failure in done.failed {
            if case .failure(let error) = failure.result { printError(fileErrorLine(failure.file, error)) }
        }
        printError("\(folder): added \(done.added.count), re-embedded \(done.reembedded.count), removed \(done.removed.count), "
                   + "unchanged \(done.unchanged)" + (done.failed.isEmpty ? "" : "; \(done.failed.count) failed (above), skipped"))
        // Stored relative to the folder; shown as paths that open from here.
        try await search(store, photos: Array(images.dropLast()), facenet: facenet) { (folder as NSString).appendingPathComponent($0) }
    }

    /// Answers the queries from `store`: `photos` with `facenet` (loaded here when nil), or
    /// the --embeddings lines. `shownFile`: how a stored file is written out.
    private func search(_ store: FaceGallery, photos: [String]? = nil, facenet given: FaceNet? = nil,
                        shownFile: (String) -> String = { $0 }) async throws {
        if let embeddings {
            let lines = try EmbeddingLines.read(embeddings, dimension: store.model.dimension, requireIdentity: false)
            let found = try await store.search(lines.map(\.embedding), k: k, metric: metric, threshold: threshold, mode: mode)
            for (line, matches) in zip(lines, found.matches) {
                output.text("\(line.file ?? line.identity ?? "query")\t" + matches.map(matchText).joined(separator: "\t"))
                output.emit(.object(indexFields(found.index) + [("matches", .array(matches.map { $0.json(shownFile: shownFile) }))]))
            }
            try await store.saveIndexIfChanged()
            return
        }
        let flags = try face.galleryModel()
        try store.requireModel(flags)
        let facenet = try given ?? face.load()
        var failures = 0
        for file in expandImagePaths(photos ?? images) {
            do {
                let found = try await store.search(photo: file, with: facenet, model: face.galleryModelName, maxFaces: maxFaces, k: k,
                                                   metric: metric, threshold: threshold, mode: mode)
                for (n, entry) in found.faces.enumerated() {
                    let box = entry.face.map { "\($0.box.roundedXYWH)" } ?? "whole image"
                    output.text("\(file)\tface \(n) \(box)\t" + entry.matches.map(matchText).joined(separator: "\t"))
                }
                let faces: [JSON] = found.faces.map { entry in
                    .object([("box", entry.face.map { .array($0.box.roundedXYWH.map(JSON.int)) } ?? .null),
                             ("confidence", entry.face.map { .float($0.confidence) } ?? .null),
                             ("matches", .array(entry.matches.map { $0.json(shownFile: shownFile) }))])
                }
                output.emit(.object([("file", .string(file))] + indexFields(found.index) + [("faces", .array(faces))]))
            } catch {
                failures += 1
                output.fail(file: file, error)
            }
        }
        try await store.saveIndexIfChanged()
        if failures > 0 { throw ExitCode(1) }
    }

    private func matchText(_ match: GalleryMatch) -> String {
        "\(match.identity) \(String(format: "%.4f", match.distance))\(match.verified ? " ✓" : "")"
    }
}

/// Whether `path` is an existing folder.
private func isDirectory(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
}
#endif
