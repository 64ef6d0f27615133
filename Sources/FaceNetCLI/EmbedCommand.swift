import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed face images: one line per image (with --json, one object {\"file\", \"embedding\"} per image).")

    @Argument(help: "Image files or directories of images (.jpg, .jpeg, .png, .webp).")
    var images: [String]

    @OptionGroup var face: FaceOptions

    @Option(name: .customLong("output"), help: "Write the lines to this file (written whole, or not at all) instead of stdout.")
    var outputFile: String?

    @OptionGroup var output: OutputOptions

    @Option(help: ArgumentHelp(
        "Embed every face of each photo, largest first, up to N: one line per face, or with --json one object per photo "
            + "{\"file\", \"faces\": [{\"box\", \"confidence\", \"landmarks\", \"embedding\"}]}.",
        valueName: "N"))
    var maxFaces: Int?

    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if let maxFaces, maxFaces < 1 { throw ValidationError("--max-faces must be at least 1") }
        if maxFaces != nil, face.face != 0 { throw ValidationError("--max-faces embeds every face; --face picks one: give one of them") }
    }

    func run() throws {
        let facenet = try face.load()
        let files = expandImagePaths(images)
        guard !files.isEmpty else {
            throw ValidationError("no images (.jpg, .jpeg, .png, .webp) found in \(images.joined(separator: ", "))")
        }
        let progress = progressOptions.reporter(total: files.count, what: "embedded")
        if let maxFaces {
            return try write(everyFace(facenet, files, maxFaces: maxFaces, progress: progress), of: files.count)
        }
        let results = facenet.embed(files: files, l2Normalize: face.l2, batchSize: face.batch) { done, _ in
            progress.update(done)
        }
        var lines: [String] = []
        var failures = 0
        for (file, result) in results {
            switch result {
            case .success(let embedding) where output.json:
                lines.append(JSON.object([("file", .string(file)), ("embedding", .floats(embedding))]).text)
            case .success(let embedding):
                lines.append(file + "\t" + embedding.map { "\($0)" }.joined(separator: " "))
            case .failure(let error):
                failures += 1
                printError(fileErrorLine(file, error))
                if output.json { lines.append(JSON.failure(error, file: file).text) }
            }
        }
        try write((lines, failures), of: files.count)
    }

    /// `--max-faces`: each photo's faces, one line each (text) or one object per photo (JSON).
    private func everyFace(_ facenet: FaceNet, _ files: [String], maxFaces: Int,
                           progress: ProgressReporter) -> (lines: [String], failures: Int) {
        var lines: [String] = []
        var failures = 0
        for (index, file) in files.enumerated() {
            defer { progress.update(index + 1) }
            do {
                let faces = try facenet.embedFaces(file: file, maxFaces: maxFaces, l2Normalize: face.l2)
                if output.json {
                    let items = faces.map { faceJSON($0.face, extra: [("embedding", .floats($0.embedding))]) }
                    lines.append(JSON.object([("file", .string(file)), ("faces", .array(items))]).text)
                } else {
                    for (n, face) in faces.enumerated() {
                        let box = face.face.map { "\($0.box.roundedXYWH)" } ?? "whole image"
                        lines.append("\(file)\tface \(n) \(box)\t" + face.embedding.map { "\($0)" }.joined(separator: " "))
                    }
                }
            } catch {
                failures += 1
                progress.clear()
                printError(fileErrorLine(file, error))
                if output.json { lines.append(JSON.failure(error, file: file).text) }
            }
        }
        return (lines, failures)
    }

    /// Writes the lines to --output or stdout; exit status 1 when any image failed.
    private func write(_ result: (lines: [String], failures: Int), of count: Int) throws {
        let (lines, failures) = result
        let text = lines.map { $0 + "\n" }.joined()
        if let outputFile {
            // Atomic: a temporary file renamed into place, so no half-written output.
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: outputFile), options: .atomic)
            } catch {
                throw FaceNetError.unwritableFile(path: outputFile, reason: "\(error.localizedDescription); nothing was written")
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        if failures > 0 {
            printError("\(failures) of \(count) images failed")
            throw ExitCode(1)
        }
    }
}
