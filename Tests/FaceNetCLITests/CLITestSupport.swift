import Foundation
import XCTest

/// What one run of the `facenet` tool did.
struct CLIResult {
    let arguments: [String]
    let status: Int32
    /// Killed by a signal (a crash or a trap), not an exit.
    let signalled: Bool
    let stdout: String
    let stderr: String

    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }

    /// The command and what it printed, for failure messages.
    var transcript: String {
        "facenet \(arguments.joined(separator: " "))\n→ \(signalled ? "signal" : "exit") \(status)\n"
            + "stdout: \(stdout.prefix(2000))\nstderr: \(stderr.prefix(2000))"
    }
}

/// The tool's exit codes: ArgumentParser's for usage errors (a bad flag or value, a
/// `ValidationError`), 1 for errors found while running (a missing or bad file) and for a
/// run where some images failed.
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 64
}

/// Whether `facenet` was built with the gallery commands: not under FACENET_ENGINE_ONLY=1
/// (the sanitizer runs, Scripts/sanitizers.sh, which export it for the build and the tests).
let galleryBuilt = ProcessInfo.processInfo.environment["FACENET_ENGINE_ONLY"] != "1"

/// Files the tests use: the package's own committed fixtures and sample photos only.
enum CLIPaths {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")

    static func fixture(_ relative: String) -> String { fixtures.appendingPathComponent(relative).path }
    static func package(_ relative: String) -> String { packageRoot.appendingPathComponent(relative).path }
}

/// The `facenet` executable under test.
enum FacenetBinary {
    struct NotFound: Error, CustomStringConvertible {
        let description: String
    }

    /// `$FACENET_CLI_BINARY` when set (it must then be an executable file); otherwise the
    /// `facenet` built beside the test bundle (the build's product directory, e.g.
    /// `.build/x86_64-unknown-linux-gnu/debug/`), then `.build/debug/facenet` and
    /// `.build/release/facenet` of this package.
    static let located: Result<URL, NotFound> = locate()

    static func url() throws -> URL { try located.get() }

    private static func locate() -> Result<URL, NotFound> {
        let fileManager = FileManager.default
        if let override = ProcessInfo.processInfo.environment["FACENET_CLI_BINARY"], !override.isEmpty {
            guard fileManager.isExecutableFile(atPath: override) else {
                return .failure(NotFound(description: "FACENET_CLI_BINARY=\(override) is not an executable file"))
            }
            return .success(URL(fileURLWithPath: override))
        }
        let bundle = Bundle(for: CLITestCase.self).bundleURL
        let directories = [
            bundle.deletingLastPathComponent(),  // macOS: Products/…/X.xctest → Products/…
            Bundle.main.bundleURL,  // Linux: the directory of the .xctest executable
            Bundle.main.bundleURL.deletingLastPathComponent(),
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent(),
            CLIPaths.packageRoot.appendingPathComponent(".build/debug"),
            CLIPaths.packageRoot.appendingPathComponent(".build/release"),
        ]
        var looked: [String] = []
        for directory in directories {
            let candidate = directory.appendingPathComponent("facenet").standardizedFileURL
            if looked.contains(candidate.path) { continue }
            looked.append(candidate.path)
            var isDirectory: ObjCBool = false
            if fileManager.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               fileManager.isExecutableFile(atPath: candidate.path) {
                return .success(candidate)
            }
        }
        return .failure(NotFound(description: """
            the facenet executable was not found (looked at \(looked.joined(separator: ", "))). \
            Build it with the same configuration as the tests first (`swift build --build-tests` builds both; \
            Scripts/test.sh does), or set FACENET_CLI_BINARY to its path.
            """))
    }
}

/// Runs `facenet` as a subprocess. Each test gets a scratch directory (removed afterwards)
/// that is also the tool's working directory, its `HOME` (so no `~/.facenet/weights` of the
/// user's is found) and its `FACENET_CACHE_DIR`; `FACENET_WEIGHTS_DIR` is unset.
class CLITestCase: XCTestCase {
    private(set) var scratch = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        try super.setUpWithError()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("facenet-cli-\(type(of: self))-\(UUID().uuidString)")
        for sub in ["home", "cache", "work"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        scratch = directory
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
    }

    /// A path inside the scratch directory (not created).
    func scratchPath(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    /// A new directory inside the scratch directory.
    func scratchDirectory(_ name: String) throws -> URL {
        let url = scratch.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs `facenet arguments…`; kills it and fails after `timeout` seconds. `environment`:
    /// variables set (or, with nil, unset) on top of the test's.
    func facenet(_ arguments: [String], timeout: TimeInterval = 30, workingDirectory: URL? = nil,
                 environment extra: [String: String?] = [:],
                 file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let executable = try FacenetBinary.url()
        let out = scratch.appendingPathComponent("stdout-\(UUID().uuidString)")
        let err = scratch.appendingPathComponent("stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = workingDirectory ?? scratch.appendingPathComponent("work")
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = scratch.appendingPathComponent("home").path
        environment["FACENET_CACHE_DIR"] = scratch.appendingPathComponent("cache").path
        // Presets find the clone's Weights/ only through the variable, as the scripts set it.
        environment["FACENET_WEIGHTS_DIR"] = CLIPaths.package("Weights")
        for (name, value) in extra { environment[name] = value }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outHandle
        process.standardError = errHandle
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            if finished.wait(timeout: .now() + 5) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                _ = finished.wait(timeout: .now() + 5)
            }
            try? outHandle.close()
            try? errHandle.close()
            let message = "facenet \(arguments.joined(separator: " ")) did not finish within \(timeout) s; killed"
            XCTFail(message, file: file, line: line)
            throw NSError(domain: "FaceNetCLITests", code: 1, userInfo: [NSLocalizedDescriptionKey: message])
        }
        try outHandle.close()
        try errHandle.close()
        return CLIResult(arguments: arguments, status: process.terminationStatus,
                         signalled: process.terminationReason == .uncaughtSignal,
                         stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
                         stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
    }

    // MARK: Assertions

    /// Exit 0, no error printed.
    func assertSucceeded(_ result: CLIResult, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(result.signalled, "crashed:\n\(result.transcript)", file: file, line: line)
        XCTAssertEqual(result.status, ExitStatus.success, "\n\(result.transcript)", file: file, line: line)
        XCTAssertFalse(result.stderr.contains("Error:"), "error printed:\n\(result.transcript)", file: file, line: line)
    }

    /// Exited (no crash) with `status`, and stderr contains every one of `mentions`.
    func assertFailed(_ result: CLIResult, status: Int32, mentions: [String],
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(result.signalled, "crashed:\n\(result.transcript)", file: file, line: line)
        XCTAssertEqual(result.status, status, "exit status:\n\(result.transcript)", file: file, line: line)
        for text in mentions {
            XCTAssertTrue(result.stderr.contains(text), "stderr does not mention '\(text)':\n\(result.transcript)",
                          file: file, line: line)
        }
    }

    /// A usage error: exit 64, stderr names `mentions` and points to `--help`.
    func assertUsageError(_ result: CLIResult, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        assertFailed(result, status: ExitStatus.usage, mentions: mentions + ["Error:", "--help"], file: file, line: line)
    }

    // MARK: Data

    /// Each stdout line parsed as a JSON object.
    func jsonLines(_ result: CLIResult, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        try result.stdoutLines.map { text in
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
            return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(text)", file: file, line: line)
        }
    }

    /// A raw little-endian float32 file.
    func readFloats(_ path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { raw in
            (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    /// A JSON file as a dictionary.
    func readJSON(_ path: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: path)))
        return try XCTUnwrap(object as? [String: Any], "\(path) is not a JSON object")
    }

    /// The tiny FaceNet-shaped fixture model (`Fixtures/tiny`, 16-d embeddings) with its
    /// input layer set to 160×160×3, the size `embed`/`verify` feed a model; every layer
    /// before the global average pool takes any size (as `PipelineOracleTests` does, and
    /// `Scripts/make_pipeline_fixture.py` in Keras). Returns the flags that select it.
    func tinyFaceModelFlags() throws -> [String] {
        var root = try readJSON(CLIPaths.fixture("tiny/topology_tfkeras.json"))
        var config = try XCTUnwrap(root["config"] as? [String: Any])
        var layers = try XCTUnwrap(config["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.first?["class_name"] as? String, "InputLayer")
        var input = layers[0]
        var inputConfig = try XCTUnwrap(input["config"] as? [String: Any])
        inputConfig["batch_input_shape"] = [NSNull(), 160, 160, 3] as [Any]
        input["config"] = inputConfig
        layers[0] = input
        config["layers"] = layers
        root["config"] = config
        let path = scratchPath("tiny160.json")
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: path))
        return ["--weights", CLIPaths.fixture("tiny/weights_tfkeras.h5"), "--topology", path, "--detector", "skip"]
    }

    /// Pairs CSV over a directory where each "same person" pair is two copies of one photo
    /// (distance 0) and each "different" pair two different photos: every metric separates
    /// them perfectly, in the whole set and in each fold.
    func makePairs() throws -> (csv: String, directory: URL) {
        let directory = try scratchDirectory("faces")
        let sources = ["a1.jpg": "Docs/samples/img5.jpg", "a2.jpg": "Docs/samples/img5.jpg",
                       "b1.png": "Tests/Fixtures/pipeline/img16_face.png",
                       "b2.png": "Tests/Fixtures/pipeline/img16_face.png", "c1.jpg": "Docs/samples/img6.jpg"]
        for (name, source) in sources {
            try FileManager.default.copyItem(atPath: CLIPaths.package(source), toPath: directory.appendingPathComponent(name).path)
        }
        // deepface's format: header, CRLF; names match images by stem (b1.jpg ↔ b1.png).
        let rows = ["file_x,file_y,Decision", "a1.jpg,a2.jpg,Yes", "b1.jpg,b2.jpg,Yes", "a1.jpg,b1.jpg,No",
                    "a2.jpg,b2.jpg,No", "c1.jpg,a1.jpg,No", "c1.jpg,b2.jpg,No"]
        let csv = scratchPath("pairs.csv")
        try Data((rows.joined(separator: "\r\n") + "\r\n").utf8).write(to: URL(fileURLWithPath: csv))
        return (csv, directory)
    }

    /// `--weights`/`--topology` of the tiny model as committed (input 122×108×3).
    var tinyModelFlags: [String] {
        ["--weights", CLIPaths.fixture("tiny/weights_tfkeras.h5"), "--topology", CLIPaths.fixture("tiny/topology_tfkeras.json")]
    }

    /// Skips when the package's `Weights/` holds `name`: a preset would then find real
    /// weights, and the test means their absence.
    func skipIfPackageWeightsExist(_ name: String) throws {
        if FileManager.default.fileExists(atPath: CLIPaths.package("Weights/" + name)) {
            throw XCTSkip("Weights/\(name) exists, so the preset finds it; this test needs it absent")
        }
    }
}

/// max |a − b| / max(1, max |b|); ∞ when the counts differ or a value is not finite.
func relativeError(_ got: [Float], _ expected: [Float]) -> Float {
    guard got.count == expected.count, !got.isEmpty, (got + expected).allSatisfy(\.isFinite) else { return .infinity }
    let scale = max(1, expected.map(abs).max() ?? 0)
    return zip(got, expected).map { abs($0 - $1) }.max().map { $0 / scale } ?? .infinity
}

/// A JSON number (JSONSerialization gives NSNumber, or Int/Double once bridged).
func number(_ value: Any?) -> Double? {
    switch value {
    case let n as NSNumber: return n.doubleValue
    case let d as Double: return d
    case let i as Int: return Double(i)
    default: return nil
    }
}

/// A JSON array of numbers as floats; nil when anything in it is not a number.
func floats(_ value: Any?) -> [Float]? {
    guard let array = value as? [Any] else { return nil }
    var result: [Float] = []
    for item in array {
        guard let x = number(item) else { return nil }
        result.append(Float(x))
    }
    return result
}
