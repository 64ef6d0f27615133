import Foundation
import FaceNetKernels

/// Where libhdf5 reads a weights file.
///
/// libhdf5 parses the file's internal structures (object headers, B-trees, heaps) in C, and
/// a malformed file can crash it (Debian 12's 1.10.8 does on fuzzed inputs: see
/// Docs/reliability.md). The Swift checks before it (signature, superblock, ranks, sizes)
/// cannot reach those structures, and a crash cannot be caught in-process. For files from
/// someone you do not trust, `.childProcess` keeps libhdf5 away from the untrusted bytes in
/// this process: a helper process loads and checks the weights and rewrites them as a
/// clean `save_weights` file (our own `HDF5Writer`), which is what this process then reads.
public enum WeightsIsolation: Sendable, Equatable {
    /// libhdf5 reads the file in this process (trusted files; the default, no overhead).
    case inProcess
    /// A helper process reads the file; its crash or hang becomes `FaceNetError.invalidWeights`.
    case childProcess(WeightsHelper)
}

/// A program that implements the helper side of `WeightsIsolation.childProcess`: run with
/// `arguments` followed by the protocol arguments, it must call
/// `IsolatedWeightsLoader.runHelper(_:)` with those. The `facenet` tool does this in its
/// hidden `validate-weights` subcommand.
public struct WeightsHelper: Sendable, Equatable {
    public var executable: URL
    /// Arguments before the protocol's own (the subcommand).
    public var arguments: [String]
    /// Seconds the helper may take before it is killed (a hang is an error too).
    public var timeout: Double

    public init(executable: URL, arguments: [String] = ["validate-weights"], timeout: Double = 300) {
        self.executable = executable
        self.arguments = arguments
        self.timeout = timeout
    }

    /// The running program as its own helper (for the `facenet` tool itself).
    public static func currentExecutable(timeout: Double = 300) -> WeightsHelper {
        WeightsHelper(executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(), timeout: timeout)
    }
}

/// Both sides of the child-process loader. The parent never hands the untrusted file to
/// libhdf5; the helper does, and answers with a result file (JSON: the layout, the
/// `model_config` or the typed error) and, for a load, a rewritten weights file.
public enum IsolatedWeightsLoader {
    /// What the helper reports back.
    package struct Result: Codable {
        package var layout: KerasWeightsLayout?
        var modelConfig: String?
        package var error: FaceNetError?
    }

    /// `KerasWeightsReader.load` with libhdf5 reading `path` only in the helper process.
    package static func load(path: String, specs: [LayerWeightSpec], helper: WeightsHelper) throws -> LoadedWeights {
        let scratch = try ScratchDirectory()
        let specsPath = scratch.file("specs.json"), cleanPath = scratch.file("weights.h5")
        try write(JSONEncoder().encode(specs), to: specsPath)
        let result = try run(helper, ["--specs", specsPath, "--output", cleanPath], path: path, scratch: scratch)
        guard let layout = result.layout else { throw helperFailure(path, "its result names no layout") }
        // The rewritten file is our own writer's output for exactly these specs.
        let clean = try KerasWeightsReader.load(path: cleanPath, specs: specs)
        return LoadedWeights(path: path, layout: layout, tensors: clean.tensors)
    }

    /// `KerasWeightsReader.modelConfigJSON` with libhdf5 reading `path` only in the helper.
    static func modelConfigJSON(path: String, helper: WeightsHelper) throws -> String? {
        let scratch = try ScratchDirectory()
        return try run(helper, ["--model-config"], path: path, scratch: scratch).modelConfig
    }

    // MARK: - Parent side

    private static func run(_ helper: WeightsHelper, _ request: [String], path: String,
                            scratch: ScratchDirectory) throws -> Result {
        let resultPath = scratch.file("result.json")
        let process = Process()
        process.executableURL = helper.executable
        process.arguments = helper.arguments + request + ["--result", resultPath, "--", path]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try process.run()
        } catch {
            throw FaceNetError.invalidArgument("cannot start the weights helper \(helper.executable.path): \(error)")
        }
        if finished.wait(timeout: .now() + helper.timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
            throw FaceNetError.invalidWeights(
                path: path, layer: nil,
                reason: "reading it did not finish within \(helper.timeout) s (the child process reading it was stopped)")
        }
        if process.terminationReason == .uncaughtSignal {
            let signal = process.terminationStatus
            throw FaceNetError.invalidWeights(
                path: path, layer: nil,
                reason: "libhdf5 crashed on this file (signal \(signal)\(signalName(signal))) in the child process "
                    + "that read it; the file is malformed")
        }
        guard let data = FileManager.default.contents(atPath: resultPath),
              let result = try? JSONDecoder().decode(Result.self, from: data) else {
            throw helperFailure(path, "it exited with status \(process.terminationStatus) and no result")
        }
        if let error = result.error { throw error }
        return result
    }

    private static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGSEGV: return ", SIGSEGV"
        case SIGABRT: return ", SIGABRT"
        case SIGBUS: return ", SIGBUS"
        case SIGFPE: return ", SIGFPE"
        case SIGILL: return ", SIGILL"
        case SIGKILL: return ", SIGKILL: out of memory?"
        default: return ""
        }
    }

    private static func helperFailure(_ path: String, _ reason: String) -> FaceNetError {
        .invalidWeights(path: path, layer: nil, reason: "the weights helper failed: \(reason)")
    }

    private static func write(_ data: Data, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw FaceNetError.invalidArgument("cannot write \(path)")
        }
    }

    // MARK: - Helper side

    /// The helper's work, for a program's `validate-weights` entry point: `arguments` are
    /// the protocol arguments (`--specs S --output O` or `--model-config`, then
    /// `--result R -- FILE`). Reads FILE with libhdf5 — this is where a crash may happen —
    /// and writes the result (and the rewritten weights). Returns the exit status: 0 when
    /// the result was written (even a typed error), 2 on a malformed request.
    public static func runHelper(_ arguments: [String]) -> Int32 {
        guard let request = HelperRequest(arguments) else { return 2 }
        var result = Result()
        do {
            if let specsPath = request.specsPath, let outputPath = request.outputPath {
                let specsData = try Data(contentsOf: URL(fileURLWithPath: specsPath))
                let specs = try JSONDecoder().decode([LayerWeightSpec].self, from: specsData)
                let loaded = try KerasWeightsReader.load(path: request.file, specs: specs)
                try HDF5Writer.writeKerasWeights(loaded.tensors, specs: specs, to: outputPath)
                result.layout = loaded.layout
            } else {
                result.modelConfig = try KerasWeightsReader.modelConfigJSON(path: request.file)
            }
        } catch let error as FaceNetError {
            result.error = error
        } catch {
            result.error = .invalidArgument("weights helper: \(error)")
        }
        guard let data = try? JSONEncoder().encode(result),
              FileManager.default.createFile(atPath: request.resultPath, contents: data) else { return 2 }
        return 0
    }

    /// The helper's arguments, parsed.
    private struct HelperRequest {
        var specsPath: String?
        package var outputPath: String?
        var resultPath = ""
        package var file = ""

        package init?(_ arguments: [String]) {
            var rest = arguments[...]
            var modelConfig = false
            while let argument = rest.popFirst() {
                switch argument {
                case "--specs": specsPath = rest.popFirst()
                case "--output": outputPath = rest.popFirst()
                case "--result": resultPath = rest.popFirst() ?? ""
                case "--model-config": modelConfig = true
                case "--": file = rest.popFirst() ?? ""
                default: return nil
                }
            }
            guard !resultPath.isEmpty, !file.isEmpty, modelConfig != (specsPath != nil && outputPath != nil) else { return nil }
        }
    }
}

/// A private (0700) temporary directory, removed with its contents when released.
private final class ScratchDirectory {
    let url: URL

    package init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("facenet-weights-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw FaceNetError.invalidArgument("cannot create a temporary directory \(url.path): \(error)")
        }
    }

    package func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}
