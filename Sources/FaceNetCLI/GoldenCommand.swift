import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

struct GoldenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "golden",
        abstract: "Run a golden manifest's input and compare every listed output with its reference.")

    @Argument(help: "Golden manifest JSON (input file, outputs[] of {layer, file, shape}).")
    var manifest: String

    @OptionGroup var model: ModelFiles

    @OptionGroup var engine: EngineFlags

    @Option(help: "Every output passes when max abs err ≤ this × the standard deviation of its reference values.")
    var tolerance: Float = GoldenTolerance().spread

    @Option(help: "l2-normalised embeddings must also have max abs err ≤ this.")
    var embeddingTolerance: Float = GoldenTolerance().embedding

    @Option(help: "Images per forward pass.")
    var batch: Int = 8

    /// `--json`: one object, `{"manifest", "model", "passed", "outputs": [...]}`.
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
    }

    func run() throws {
        let manifest = try GoldenManifest(path: self.manifest)
        let loaded = try model.load(options: try engine.engineOptions())
        let report = try GoldenCheck.run(manifest: manifest, model: loaded,
                                         tolerance: GoldenTolerance(spread: tolerance, embedding: embeddingTolerance),
                                         batchSize: batch)
        let width = report.results.map(\.name.count).max() ?? 0
        for r in report.results {
            let name = r.name.padding(toLength: width, withPad: " ", startingAt: 0)
            output.text("\(name)  \(r.shape)  max abs err \(formatScientific(r.maxAbsError))  "
                       + "err/spread \(formatScientific(r.spreadRelativeError))  limit \(formatScientific(r.limit))  "
                       + (r.withinTolerance ? "ok" : "FAIL"))
        }
        output.text(report.summary)
        output.emit(.object([
            ("manifest", .string(self.manifest)), ("model", .string(model.name)), ("passed", .bool(report.allWithinTolerance)),
            ("max_abs_error", .float(report.maxAbsError)),
            ("outputs", .array(report.results.map { r in
                .object([("layer", .string(r.name)), ("shape", .array(r.shape.map(JSON.int))),
                         ("max_abs_error", .float(r.maxAbsError)), ("spread_relative_error", .float(r.spreadRelativeError)),
                         ("limit", .float(r.limit)), ("passed", .bool(r.withinTolerance))])
            })),
        ]))
        if !report.allWithinTolerance { throw ExitCode(1) }
    }
}
