import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed face images: one line per image (with --json, one JSON object {\"file\", \"embedding\"}).")

    @Argument(help: "Image files or directories of images (.jpg, .jpeg, .png).")
    var images: [String]

    @OptionGroup var face: FaceOptions

    @Option(help: "Write the lines to this file (written whole, or not at all) instead of stdout.")
    var output: String?

    @Flag(help: "JSON lines: {\"file\", \"embedding\"} per image, {\"file\", \"error\"} per failure.")
    var json = false

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
        guard !files.isEmpty else { throw ValidationError("no images found in \(images)") }
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
            case .success(let embedding) where json:
                lines.append("{\"file\": \(jsonString(file)), \"embedding\": [" + embedding.map { "\($0)" }.joined(separator: ", ") + "]}")
            case .success(let embedding):
                lines.append(file + "\t" + embedding.map { "\($0)" }.joined(separator: " "))
            case .failure(let error):
                failures += 1
                printError(fileErrorLine(file, error))
                if json { lines.append("{\"file\": \(jsonString(file)), \"error\": \(jsonString(String(describing: error)))}") }
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
                let values = faces.map { $0.embedding.map { "\($0)" } }
                if json {
                    let items = zip(faces, values).map { face, values in
                        let embedding = ", \"embedding\": [" + values.joined(separator: ", ") + "]"
                        return face.face.map { DetectCommand.faceJSON($0, fields: embedding) } ?? "{\"box\": null\(embedding)}"
                    }
                    lines.append("{\"file\": \(jsonString(file)), \"faces\": [" + items.joined(separator: ", ") + "]}")
                } else {
                    for (n, (face, values)) in zip(faces, values).enumerated() {
                        let box = face.face.map { "\($0.box.roundedXYWH)" } ?? "whole image"
                        lines.append("\(file)\tface \(n) \(box)\t" + values.joined(separator: " "))
                    }
                }
            } catch {
                failures += 1
                progress.clear()
                printError(fileErrorLine(file, error))
                if json { lines.append("{\"file\": \(jsonString(file)), \"error\": \(jsonString(String(describing: error)))}") }
            }
        }
        return (lines, failures)
    }

    /// Writes the lines to --output or stdout; exit status 1 when any image failed.
    private func write(_ result: (lines: [String], failures: Int), of count: Int) throws {
        let (lines, failures) = result
        let text = lines.map { $0 + "\n" }.joined()
        if let output {
            // Atomic: a temporary file renamed into place, so no half-written output.
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        if failures > 0 {
            printError("\(failures) of \(count) images failed")
            throw ExitCode(1)
        }
    }
}
