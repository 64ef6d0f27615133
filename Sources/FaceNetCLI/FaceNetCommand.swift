import ArgumentParser
import FaceNetKit
import FaceNetTools

@main
struct FaceNetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facenet",
        abstract: "FaceNet inference in pure Swift: Keras JSON + HDF5 weights, no ML runtime.",
        subcommands: [EmbedCommand.self, VerifyCommand.self, CalibrateCommand.self, DetectCommand.self,
                      GoldenCommand.self, RunCommand.self, InspectCommand.self, BenchCommand.self, BenchDetectCommand.self,
                      ImportTFCommand.self, WeightsCommand.self, ValidateWeightsCommand.self])
}

/// The model source the engine commands take: a preset, or a weights file and the topology
/// JSON (unless the weights file is a Keras-2 full-model file that carries it).
struct ModelFiles: ParsableArguments {
    @Option(help: "Model preset (\(Preset.allCases.map(\.rawValue).joined(separator: ", "))), instead of --weights.")
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
        guard (model == nil) != (weights == nil) else { throw ValidationError("give --model or --weights (one of them)") }
        if model != nil, topology != nil { throw ValidationError("--topology goes with --weights, not --model") }
    }

    /// Loads the model with `options` (`EngineFlags.engineOptions()`); a weights mismatch
    /// under `--verify-weights warn` is a warning on stderr.
    func load(options: EngineOptions = .default) throws -> Model {
        let loaded: Model
        if let model {
            loaded = try model.loadModel(isolation: isolation, verification: check.verification, options: options)
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
