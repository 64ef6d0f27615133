// Built unless FACENET_ENGINE_ONLY=1 (Package.swift): the gallery needs FaceNetGallery.
#if FACENET_GALLERY
import ArgumentParser
import FaceNetGallery
import FaceNetKit
import Foundation

/// `facenet gallery create|add|import|remove|list|stats|export` (Docs/search.md).
struct GalleryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gallery",
        abstract: "A gallery of known faces: create it, add photos or embeddings, list, remove, export.",
        discussion: "G is a file path (an embedded SQLite gallery) or a PostgreSQL URL, postgres://user[:password]@host[:port]/database[?gallery=NAME] (Docs/search.md). `facenet find` searches it.",
        subcommands: [GalleryCreateCommand.self, GalleryAddCommand.self, GalleryImportCommand.self, GalleryRemoveCommand.self,
                      GalleryListCommand.self, GalleryStatsCommand.self, GalleryExportCommand.self])
}

/// `facenet gallery create G [--model PRESET] [preprocessing flags]`: never loads the weights.
struct GalleryCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create an empty gallery for a model and its preprocessing (the weights are not loaded).")

    @Argument(help: "The gallery: a file path (SQLite) or a postgres:// URL.")
    var gallery: String

    @OptionGroup var face: FaceOptions

    /// `--json`: `{"gallery", "model", "dimension", "preprocessing", "weight_set"}`.
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let model = try face.galleryModel()
        let created = try await FaceGallery.create(gallery, model: model)
        try await created.close()
        output.text("created \(created.location): \(model.model), \(model.dimension)-d, \(model.preprocessing)")
        output.emit(.object([("gallery", .string(created.location))] + galleryModelFields(model)))
    }
}

/// `facenet gallery add G PATH... [--identity NAME]`.
struct GalleryAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Detect, embed and store the largest face of each photo (folders are walked recursively).",
        discussion: """
            Without --identity a photo's identity is its folder's name (people/alice/1.jpg → alice). \
            A photo that fails is reported on stderr and skipped; the exit status is 0 when at least \
            one photo was added and every failure was about one photo.
            """)

    @Argument(help: "The gallery: a file path (SQLite) or a postgres:// URL.")
    var gallery: String

    @Argument(help: "Photos or folders of photos.")
    var paths: [String]

    @Option(help: "The identity of every photo given (default: each photo's folder name).")
    var identity: String?

    @OptionGroup var face: FaceOptions

    @OptionGroup var progressOptions: ProgressOptions

    /// `--json`: one object per photo, `{"file", "identity", "ids"}` or `{"file", "error"}`.
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let identity, identity.isEmpty { throw ValidationError("--identity must not be empty") }
    }

    func run() async throws {
        let store = try await FaceGallery.open(gallery)
        // The gallery's model first: a mismatch is refused before the network is loaded.
        let flags = try face.galleryModel()
        try store.requireModel(flags)
        let files = walkImagePaths(paths)
        guard !files.isEmpty else { throw ValidationError("no images (.jpg, .jpeg, .png, .webp) found in \(paths.joined(separator: ", "))") }
        let photos = files.map { (file: $0, identity: identity ?? FaceGallery.folderIdentity(of: $0)) }
        let facenet = try face.load()
        let progress = progressOptions.reporter(total: photos.count, what: "added")
        let output = self.output
        // Each photo's line as soon as it is committed (a killed run shows what it kept).
        let outcomes = try await store.add(photos: photos, with: facenet, model: face.galleryModelName) { outcome, done, _ in
            progress.clear()
            switch outcome.result {
            case .success(let ids):
                output.text("\(outcome.file)\t\(outcome.identity)\t\(ids.count) face\(ids.count == 1 ? "" : "s")")
                output.emit(.object([("file", .string(outcome.file)), ("identity", .string(outcome.identity)),
                                     ("ids", .array(ids.map { .int(Int($0)) }))]))
            case .failure(let error):
                output.fail(file: outcome.file, error)
            }
            fflush(nil)  // all C streams: print buffers stdout when it is a pipe
            progress.update(done)
        }
        progress.finish()
        let added = outcomes.filter { (try? $0.result.get()) != nil }.count, failed = outcomes.count - added
        try await store.saveIndex()
        try await store.close()
        printError("added \(added) of \(photos.count) photos to \(store.location)" + (failed > 0 ? "; \(failed) failed (above)" : ""))
        if added == 0 { throw ExitCode(1) }
    }
}

/// `facenet gallery import G FILE.jsonl`: embeddings made elsewhere; never loads the network.
struct GalleryImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Store embeddings made elsewhere: JSON lines {\"identity\", \"embedding\", \"file\"?}, all or nothing.")

    @Argument(help: "The gallery: a file path (SQLite) or a postgres:// URL.")
    var gallery: String

    @Argument(help: "JSON lines, one face per line (the `embedding` field as `facenet embed --json` writes it).")
    var file: String

    /// `--json`: `{"gallery", "imported"}`.
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let store = try await FaceGallery.open(gallery)
        let faces = try EmbeddingLines.read(file, dimension: store.model.dimension, requireIdentity: true)
        let clock = ContinuousClock()
        let start = clock.now
        // One transaction per 10,000 faces: a file is checked whole first, so a bad line
        // stores nothing; a crash midway keeps the batches already committed.
        let imported = try await store.importFaces(
            faces.map { GalleryFace(identity: $0.identity ?? "", file: $0.file, embedding: $0.embedding) },
            madeWith: store.model, batchSize: 10_000)
        let stored = clock.now
        try await store.saveIndex()
        try await store.close()
        output.say("stored in \(String(format: "%.2f", (stored - start).seconds)) s; index saved in \(String(format: "%.2f", (clock.now - stored).seconds)) s")
        output.say("imported \(imported) faces into \(store.location) in \(String(format: "%.2f", (clock.now - start).seconds)) s")
        output.emit(.object([("gallery", .string(store.location)), ("imported", .int(imported))]))
    }
}

/// `facenet gallery remove G (--identity NAME | --file PATH)`.
struct GalleryRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove every face of an identity, or of a photo.")

    @Argument(help: "The gallery: a file path (SQLite) or a postgres:// URL.")
    var gallery: String

    @Option(help: "Remove every face of this identity.")
    var identity: String?

    @Option(help: "Remove every face stored from this photo (as it was named at add).")
    var file: String?

    /// `--json`: `{"gallery", "removed"}`.
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (identity == nil) != (file == nil) else { throw ValidationError("give --identity or --file (one of them)") }
    }

    func run() async throws {
        let store = try await FaceGallery.open(gallery)
        let removed: Int
        if let identity {
            removed = try await store.remove(identity: identity)
        } else {
            removed = try await store.remove(file: file ?? "")
        }
        try await store.close()
        output.text("removed \(removed) face\(removed == 1 ? "" : "s")")
        output.emit(.object([("gallery", .string(store.location)), ("removed", .int(removed))]))
    }
}

/// `facenet gallery list G`: identities with their face and photo counts.
struct GalleryListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the identities: faces and photos of each.")

    @Argument(help: "The gallery: a file path (SQLite) or a postgres:// URL.")
    var gallery: String

    /// `--json`: one object per identity, `{"identity", "faces", "files"}`.
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let store = try await FaceGallery.open(gallery)
        let faces = try await store.faces()
        try await store.close()
        var byIdentity: [String: (faces: Int, files: Set<String>)] = [:]
        for face in faces {
            byIdentity[face.identity, default: (0, [])].faces += 1
            if let file = face.file { byIdentity[face.identity, default: (0, [])].files.insert(file) }
        }
        for (identity, entry) in byIdentity.sorted(by: { $0.key < $1.key }) {
            output.text("\(identity)\t\(entry.faces) face\(entry.faces == 1 ? "" : "s")\t\(entry.files.count) photo\(entry.files.count == 1 ? "" : "s")")
            output.emit(.object([("identity", .string(identity)), ("faces", .int(entry.faces)),
                                 ("files", .array(entry.files.sorted().map(JSON.string)))]))
        }
    }
}

/// `facenet gallery stats G`.
struct GalleryStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Faces, identities, the model, and the index a search uses.")

    @Argument(help: "The gallery: a file path (SQLite) or a postgres:// URL.")
    var gallery: String

    /// `--json`: `{"gallery", "faces", "identities", "model", …, "index", "ef"?}`.
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let store = try await FaceGallery.open(gallery)
        let stats = try await store.statistics()
        try await store.close()
        output.text("\(stats.location): \(stats.faces) faces, \(stats.identities) identities; \(stats.model.model), "
                    + "\(stats.model.dimension)-d, \(stats.model.preprocessing); search: \(indexText(stats.defaultIndex))")
        output.emit(.object([("gallery", .string(store.location)), ("faces", .int(stats.faces)), ("identities", .int(stats.identities))]
                            + galleryModelFields(stats.model) + indexFields(stats.defaultIndex)))
    }
}

/// `facenet gallery export G FILE.jsonl`: what `gallery import` reads back.
struct GalleryExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write every face as a JSON line {\"identity\", \"file\", \"box\", \"embedding\"}.")

    @Argument(help: "The gallery: a file path (SQLite) or a postgres:// URL.")
    var gallery: String

    @Argument(help: "The JSON lines file to write (written whole, or not at all).")
    var file: String

    /// `--json`: `{"gallery", "exported", "file"}`.
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let store = try await FaceGallery.open(gallery)
        let faces = try await store.faces()
        try await store.close()
        var text = ""
        for face in faces {
            text += JSON.object([("identity", .string(face.identity)), ("file", .string(face.file)),
                                 ("box", face.box.map { .array($0.map(JSON.int)) } ?? .null),
                                 ("embedding", .floats(face.embedding))]).text + "\n"
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
        } catch {
            throw FaceNetError.unwritableFile(path: file, reason: "\(error.localizedDescription); nothing was written")
        }
        output.text("exported \(faces.count) faces to \(file)")
        output.emit(.object([("gallery", .string(store.location)), ("exported", .int(faces.count)), ("file", .string(file))]))
    }
}

// MARK: Shared

func galleryModelFields(_ model: GalleryModel) -> [(String, JSON)] {
    [("model", .string(model.model)), ("dimension", .int(model.dimension)), ("preprocessing", .string(model.preprocessing)),
     ("weight_set", .string(model.weightSet))]
}

func indexText(_ index: GalleryIndexUsed) -> String {
    switch index {
    case .exact: return "exact"
    case .hnsw(let ef): return "HNSW, ef \(ef)"
    case .store(let ef): return "pgvector's HNSW index" + (ef.map { ", ef \($0)" } ?? "")
    }
}

/// Image files under the paths: files as given, folders walked recursively (sorted).
func walkImagePaths(_ paths: [String]) -> [String] {
    var files: [String] = []
    for path in paths {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            files.append(path)
            continue
        }
        let found = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? [])
            .filter { ImageFormat.fileExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted { $0.localizedStandardCompare($1) == .orderedAscending }
        files += found.map { (path as NSString).appendingPathComponent($0) }
    }
    return files
}
#endif
