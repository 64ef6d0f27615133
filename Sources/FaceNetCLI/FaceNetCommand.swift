import ArgumentParser
import FaceNetKit
import FaceNetTools

@main
struct FaceNetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facenet",
        abstract: "FaceNet inference in pure Swift: Keras JSON + HDF5 weights, no ML runtime.",
        discussion: "Every subcommand takes --json: stdout then carries only JSON, one object per line (Docs/cli.md).",
        subcommands: [EmbedCommand.self, VerifyCommand.self, CalibrateCommand.self, DetectCommand.self,
                      GoldenCommand.self, RunCommand.self, InspectCommand.self, BenchCommand.self, BenchDetectCommand.self,
                      ImportTFCommand.self, WeightsCommand.self] + gallerySubcommands + [ValidateWeightsCommand.self])

    #if FACENET_GALLERY
    static let gallerySubcommands: [ParsableCommand.Type] = [GalleryCommand.self, FindCommand.self, BenchSearchCommand.self,
                                                             ServeCommand.self]
    #else
    static let gallerySubcommands: [ParsableCommand.Type] = []
    #endif

    /// ArgumentParser's `main`, plus the JSON contract for errors: under `--json` a failure
    /// that ends the command is also the line `{"error": {"code", "message"}}` (with `"file"`
    /// when it is about one) on stdout. Per-file failures were reported by the command
    /// itself, which then throws `ExitCode`. A `ValidationError` thrown while running shows
    /// the subcommand's usage, not the root's.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let json = arguments.prefix { $0 != "--" }.contains("--json")
        var command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            finish(with: error, json: json, running: nil)
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            finish(with: error, json: json, running: type(of: command))
        }
    }

    private static func finish(with error: Error, json: Bool, running command: ParsableCommand.Type?) -> Never {
        if error is ExitCode || error is CleanExit { exit(withError: error) }
        if json { print(JSON.failure(error, usage: command == nil).text) }
        if let command, error is ValidationError {
            let path = commandPath(to: command).joined(separator: " ")
            printError("Error: \(message(for: error))\nUsage: \(usageString(for: command))\n  See '\(path) --help' for more information.")
            exit(withError: ExitCode.validationFailure)
        }
        exit(withError: error)
    }

    /// `["facenet", "weights", "fetch"]` for `WeightsFetchCommand`.
    static func commandPath(to command: ParsableCommand.Type) -> [String] {
        func search(_ type: ParsableCommand.Type, _ path: [String]) -> [String]? {
            let here = path + [type.configuration.commandName ?? "facenet"]
            if type == command { return here }
            for sub in type.configuration.subcommands {
                if let found = search(sub, here) { return found }
            }
            return nil
        }
        return search(self, []) ?? ["facenet"]
    }
}

/// The model source the engine commands take: a preset, or a weights file and the topology
/// JSON (unless the weights file is a Keras-2 full-model file that carries it).
struct ModelFiles: ParsableArguments {
    @Option(help: "Model preset: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")). Default facenet512-casia unless --weights is given.")
    var model: Preset?

    @Option(name: .long, help: "Keras HDF5 weights (save_weights, full model, or Keras 3 .weights.h5).")
    var weights: String?

    @Option(name: .long, help: "Keras functional-model JSON (not needed for a full-model .h5).")
    var topology: String?

    @Flag(help: "Read the weights file in a child process (untrusted files: a crash inside libhdf5 becomes an error).")
    var isolateWeights = false

    @OptionGroup var check: WeightsCheckOptions

    /// How the weights file is opened (`--isolate-weights`).
    var isolation: WeightsIsolation { isolateWeights ? .childProcess(.currentExecutable()) : .inProcess }

    func validate() throws {
        if model != nil, weights != nil { throw ValidationError("give --model or --weights, not both") }
        if weights == nil, topology != nil { throw ValidationError("--topology goes with --weights (a preset brings its own)") }
    }

    /// The preset in use: `--model`, else facenet512-casia unless `--weights` is given.
    var preset: Preset? { weights == nil ? (model ?? .facenet512Casia) : model }

    /// The model's name in output: the preset, or the weights file.
    var name: String { preset?.rawValue ?? weights ?? "" }

    /// Loads the model with `options` (`EngineFlags.engineOptions()`); a weights mismatch
    /// under `--verify-weights warn` is a warning on stderr.
    func load(options: EngineOptions = .default) throws -> Model {
        let loaded: Model
        if let preset {
            loaded = try preset.loadModel(isolation: isolation, verification: check.verification, options: options)
        } else {
            loaded = try Model.load(weightsPath: weights ?? "", topologyPath: topology, isolation: isolation,
                                    verification: check.verification, options: options)
        }
        check.warnAboutMismatches([loaded])
        return loaded
    }
}

/// Parses "1,160,160,3".
func parseShape(_ text: String) throws -> [Int] {
    let dims = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? 0) > 0 }) else {
        throw ValidationError("shape '\(text)' is not a comma-separated list of positive integers")
    }
    return dims.compactMap { $0 }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
