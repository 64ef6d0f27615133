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

    @OptionGroup var progressOptions: ProgressOptions

    func run() throws {
        let facenet = try face.load()
        let files = expandImagePaths(images)
        guard !files.isEmpty else { throw ValidationError("no images found in \(images)") }
        let progress = progressOptions.reporter(total: files.count, what: "embedded")
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
        let text = lines.map { $0 + "\n" }.joined()
        if let output {
            // Atomic: a temporary file renamed into place, so no half-written output.
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        if failures > 0 {
            printError("\(failures) of \(files.count) images failed")
            throw ExitCode(1)
        }
    }
}
