import Foundation
import XCTest

/// `inspect`, `golden`, `run` and `bench` on the tiny fixture model (`Fixtures/tiny`: one
/// model as tf_keras, Keras 2.2 and Keras 3 files; Keras's outputs for a 3-image input and
/// Keras's parameter and FLOP counts in `manifest.json`).
final class ModelCommandsCLITests: CLITestCase {
    private func tinyManifest() throws -> [String: Any] { try readJSON(CLIPaths.fixture("tiny/manifest.json")) }

    private func tensorDigest(_ result: CLIResult) -> String? {
        result.stdoutLines.first { $0.hasPrefix("tensor digest: ") }.map { String($0.dropFirst("tensor digest: ".count)) }
    }

    // MARK: inspect

    /// Parameters and FLOPs as Keras counted them; one row per layer; the same tensor
    /// digest for the same weights in all three file layouts.
    func testInspectCountsWhatKerasCounted() throws {
        let manifest = try tinyManifest()
        let params = try XCTUnwrap(number(manifest["params"]).map(Int.init))
        let flops = try XCTUnwrap(number(manifest["flops_per_image"]).map(Int.init))
        let listing = try facenet(["inspect", "--topology", CLIPaths.fixture("tiny/topology_tfkeras.json")])
        assertSucceeded(listing)
        XCTAssertTrue(listing.stdout.contains("\nparameters: \(params)\n"), listing.stdout)
        XCTAssertTrue(listing.stdout.contains("\nFLOPs per sample: \(flops) "), listing.stdout)
        let rows = listing.stdoutLines.filter { $0.contains("  params ") }
        XCTAssertTrue(listing.stdout.contains("): \(rows.count) layers,"), "a row per layer:\n\(listing.stdout)")
        XCTAssertEqual(rows.compactMap { $0.components(separatedBy: "  params ").last?.split(separator: " ").first.flatMap { Int($0) } }
            .reduce(0, +), params, "the rows' parameters add up to the total")

        var digests: [String] = []
        for (weights, topology) in [("model_full.h5", nil), ("weights_keras22.h5", "topology_keras22.json"),
                                    ("weights_keras3.weights.h5", "topology_keras3.json")] {
            let result = try facenet(["inspect", "--summary", "--digest", "--weights", CLIPaths.fixture("tiny/" + weights)]
                                     + (topology.map { ["--topology", CLIPaths.fixture("tiny/" + $0)] } ?? []))
            assertSucceeded(result)
            XCTAssertTrue(result.stdout.contains("all \(params) checked against the topology"), result.stdout)
            XCTAssertFalse(result.stdout.contains("  params "), "--summary prints no rows")
            digests.append(try XCTUnwrap(tensorDigest(result), result.stdout))
        }
        XCTAssertEqual(Set(digests).count, 1, "one model, three layouts: \(digests)")
        XCTAssertEqual(digests.first?.count, 64)
    }

    func testInspectBadInput() throws {
        assertUsageError(try facenet(["inspect", "--model", "facenet128", "--topology", CLIPaths.fixture("tiny/topology_tfkeras.json")]),
                         mentions: ["give --model, or --topology and/or --weights, not both"])
        let missing = scratchPath("absent.json")
        assertFailed(try facenet(["inspect", "--topology", missing]), status: ExitStatus.failure, mentions: [missing])
        let text = CLIPaths.fixture("images/text.jpg")
        assertFailed(try facenet(["inspect", "--topology", text]), status: ExitStatus.failure, mentions: [text, "not valid JSON"])
        assertFailed(try facenet(["inspect", "--topology", CLIPaths.fixture("tiny/topology_tfkeras.json"), "--weights", text]),
                     status: ExitStatus.failure, mentions: [text, "not an HDF5 file"])
        assertUsageError(try facenet(["inspect", "--topology", CLIPaths.fixture("tiny/topology_tfkeras.json"), "--input-shape", "0,x"]),
                         mentions: ["'0,x'", "positive integers"])
        // P-Net takes any height and width: FLOPs need a shape.
        let pnet = CLIPaths.package("Weights/mtcnn/pnet.json")
        assertFailed(try facenet(["inspect", "--topology", pnet]), status: ExitStatus.failure, mentions: ["open size", "pass the input shape"])
        let sized = try facenet(["inspect", "--summary", "--topology", pnet, "--input-shape", "12,12,3"])
        assertSucceeded(sized)
    }

    // MARK: golden

    func testGoldenPassesTheTinyManifest() throws {
        let outputs = try XCTUnwrap(try tinyManifest()["outputs"] as? [[String: Any]])
        let result = try facenet(["golden", CLIPaths.fixture("tiny/manifest.json")] + tinyModelFlags)
        assertSucceeded(result)
        XCTAssertEqual(result.stdoutLines.filter { $0.hasSuffix("  ok") }.count, outputs.count, result.stdout)
        XCTAssertEqual(result.stdoutLines.last?.hasPrefix("golden: \(outputs.count)/\(outputs.count) outputs within tolerance"), true,
                       result.stdout)
    }

    /// A tolerance nothing meets: every output FAILs and the exit status is 1.
    func testGoldenFailsBeyondTolerance() throws {
        let outputs = try XCTUnwrap(try tinyManifest()["outputs"] as? [[String: Any]])
        let result = try facenet(["golden", CLIPaths.fixture("tiny/manifest.json"), "--tolerance", "0", "--embedding-tolerance", "0"]
                                 + tinyModelFlags)
        XCTAssertFalse(result.signalled)
        XCTAssertEqual(result.status, ExitStatus.failure, result.transcript)
        XCTAssertEqual(result.stdoutLines.filter { $0.hasSuffix("  FAIL") }.count, outputs.count, result.stdout)
        XCTAssertEqual(result.stdoutLines.last?.hasPrefix("golden: 0/\(outputs.count)"), true, result.stdout)
    }

    func testGoldenBadInput() throws {
        let manifest = CLIPaths.fixture("tiny/manifest.json")
        let missing = scratchPath("manifest.json")
        assertFailed(try facenet(["golden", missing] + tinyModelFlags), status: ExitStatus.failure, mentions: [missing])
        assertUsageError(try facenet(["golden", manifest, "--model", "facenet128"] + tinyModelFlags),
                         mentions: ["give --model or --weights, not both", "See 'facenet golden --help'"])
        // No model flag: the default preset (facenet512-casia), whose layers the tiny manifest lacks.
        let defaulted = try facenet(["golden", manifest], environment: ["FACENET_WEIGHTS_DIR": scratchPath("empty")])
        assertFailed(defaulted, status: ExitStatus.failure, mentions: ["preset facenet512-casia", "facenet weights fetch"])
        assertUsageError(try facenet(["golden", manifest, "--model", "tiny"]), mentions: ["'tiny'", "--model", "facenet512-casia"])
        assertUsageError(try facenet(["golden", manifest, "--batch", "0"] + tinyModelFlags), mentions: ["--batch must be positive"])
        let weights = scratchPath("missing.h5")
        assertFailed(try facenet(["golden", manifest, "--weights", weights, "--topology", CLIPaths.fixture("tiny/topology_tfkeras.json")]),
                     status: ExitStatus.failure, mentions: [weights, "no such file"])
        // Another model's files: the manifest's layers are not there.
        let other = ["--weights", CLIPaths.fixture("mtcnn/synthetic/weights_tfkeras.h5"),
                     "--topology", CLIPaths.fixture("mtcnn/synthetic/topology_tfkeras.json")]
        assertFailed(try facenet(["golden", manifest] + other), status: ExitStatus.failure, mentions: ["no layer named"])
    }

    // MARK: run

    /// The requested layer's output, written as raw float32, is Keras's.
    func testRunWritesTheLayerKerasComputed() throws {
        for (layer, reference) in [("AvgPool", "AvgPool.f32"), (nil, "Bottleneck_BatchNorm.f32")] {
            let output = scratchPath("\(layer ?? "default").f32")
            let result = try facenet(["run"] + tinyModelFlags + ["--input", CLIPaths.fixture("tiny/inputs.f32"), "--shape", "3,122,108,3",
                                                                 "--output", output] + (layer.map { ["--layer", $0] } ?? []))
            assertSucceeded(result)
            let name = layer ?? "Bottleneck_BatchNorm"  // the model's output
            XCTAssertTrue(result.stdout.hasPrefix("\(name): shape [3, "), result.stdout)
            let got = try readFloats(output), expected = try readFloats(CLIPaths.fixture("tiny/" + reference))
            XCTAssertEqual(got.count, expected.count, name)
            XCTAssertLessThanOrEqual(relativeError(got, expected), 1e-4, name)
        }
    }

    /// `--gemm`, `--winograd` and `--threads` in every combination still write Keras's output.
    func testRunUnderEngineFlagsWritesWhatKerasComputed() throws {
        let expected = try readFloats(CLIPaths.fixture("tiny/Bottleneck_BatchNorm.f32"))
        for flags in [["--gemm", "openblas", "--winograd", "off", "--threads", "1"], ["--gemm", "auto", "--winograd", "f2", "--threads", "2"],
                      ["--winograd", "f4"], ["--winograd", "on", "--gemm", "openblas"]] {
            let output = scratchPath("out.f32")
            let result = try facenet(["run"] + tinyModelFlags + ["--input", CLIPaths.fixture("tiny/inputs.f32"), "--shape", "3,122,108,3",
                                                                 "--output", output] + flags)
            assertSucceeded(result)
            XCTAssertLessThanOrEqual(relativeError(try readFloats(output), expected), 1e-4, "\(flags)")
        }
    }

    func testRunBadInput() throws {
        let input = CLIPaths.fixture("tiny/inputs.f32")
        let base = ["run"] + tinyModelFlags + ["--input", input]
        let output = scratchPath("out.f32")
        assertFailed(try facenet(base + ["--shape", "3,122,108,3", "--output", output, "--layer", "Bottleneck_Typo"]),
                     status: ExitStatus.failure, mentions: ["--layer Bottleneck_Typo: no layer of that name", "did you mean 'Bottleneck', 'Bottleneck_BatchNorm'?"])
        assertFailed(try facenet(base + ["--shape", "2,122,108,3", "--output", output]), status: ExitStatus.failure,
                     mentions: [input, "[2, 122, 108, 3]", "needs"])
        assertUsageError(try facenet(base + ["--shape", "3,x", "--output", output]), mentions: ["'3,x'", "positive integers"])
        assertUsageError(try facenet(base + ["--shape", "3,122,108,3"]), mentions: ["--output"])
        let missing = scratchPath("input.f32")
        assertFailed(try facenet(["run"] + tinyModelFlags + ["--input", missing, "--shape", "1,2,3", "--output", output]),
                     status: ExitStatus.failure, mentions: [missing])
        assertUsageError(try facenet(["run", "--model", "facenet64", "--input", input, "--shape", "1", "--output", output]),
                         mentions: ["'facenet64'", "--model"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "a failed run wrote its output")
    }

    // MARK: bench

    /// The JSON line reports the batch and threads asked for, and its GFLOP/s and ms per
    /// image agree with Keras's FLOP count.
    func testBenchReportsTheRunItWasAskedFor() throws {
        let flops = try XCTUnwrap(number(try tinyManifest()["flops_per_image"]))
        let result = try facenet(["bench"] + tinyModelFlags + ["--iterations", "2", "--batch", "2", "--threads", "1", "--json"])
        assertSucceeded(result)
        XCTAssertTrue(result.stderr.contains("; batch 2: median "), result.stderr)
        XCTAssertTrue(result.stderr.contains(" over 2)"), result.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((result.stdoutLines.last ?? "").utf8)) as? [String: Any])
        XCTAssertEqual(number(object["batch"]), 2)
        XCTAssertEqual(number(object["threads"]), 1)
        XCTAssertEqual(object["parallelism"] as? String, "engine")
        let msPerImage = try XCTUnwrap(number(object["ms_per_image"])), gflops = try XCTUnwrap(number(object["gflops"]))
        XCTAssertGreaterThan(msPerImage, 0)
        // gflops = flops × batch / median seconds / 1e9 and ms_per_image = median ms / batch.
        XCTAssertEqual(gflops * msPerImage * 1e6, flops, accuracy: flops * 1e-6, "\(object)")
    }

    /// The backend `bench` reports comes from `--gemm`, else from `FACENET_GEMM` (the
    /// benchmark variables are read by the tool, not the library); the flag wins.
    func testBenchTakesTheBackendFromFlagThenEnvironment() throws {
        let base = ["bench"] + tinyModelFlags + ["--iterations", "1", "--threads", "1", "--json"]
        func gemm(_ arguments: [String], _ environment: [String: String?] = ["FACENET_GEMM": nil]) throws -> String? {
            let result = try facenet(arguments, environment: environment)
            assertSucceeded(result)
            let object = try JSONSerialization.jsonObject(with: Data((result.stdoutLines.last ?? "").utf8)) as? [String: Any]
            return object?["gemm"] as? String
        }
        let automatic = try XCTUnwrap(try gemm(base))
        XCTAssertTrue(["panels", "openBLAS"].contains(automatic), automatic)
        XCTAssertEqual(try gemm(base + ["--gemm", "openblas"]), "openBLAS")
        XCTAssertEqual(try gemm(base, ["FACENET_GEMM": "openblas"]), "openBLAS")
        XCTAssertEqual(try gemm(base + ["--gemm", "auto"], ["FACENET_GEMM": "openblas"]), automatic)
    }

    func testEngineFlagsBadValues() throws {
        let base = ["bench"] + tinyModelFlags + ["--iterations", "1"]
        assertUsageError(try facenet(base + ["--gemm", "cuda"]), mentions: ["'cuda'", "--gemm"])
        assertUsageError(try facenet(base + ["--winograd", "f8"]), mentions: ["'f8'", "--winograd"])
        assertUsageError(try facenet(base + ["--threads", "0"]), mentions: ["--threads must be at least 1"])
        assertFailed(try facenet(base, environment: ["FACENET_IM2COL_FLOATS": "-3"]), status: ExitStatus.failure,
                     mentions: ["im2colChunkFloats must not be negative"])
    }

    func testBenchBadInput() throws {
        assertUsageError(try facenet(["bench"] + tinyModelFlags + ["--iterations", "0"]), mentions: ["--batch and --iterations must be positive"])
        assertUsageError(try facenet(["bench"] + tinyModelFlags + ["--batch", "many"]), mentions: ["'many'", "--batch"])
        assertUsageError(try facenet(["bench", "--weights", CLIPaths.package("Weights/mtcnn/pnet.h5"),
                                      "--topology", CLIPaths.package("Weights/mtcnn/pnet.json"), "--size", "1,2,3", "--iterations", "1"]),
                         mentions: ["--size takes height,width"])
        assertUsageError(try facenet(["bench", "--model", "vggface"]), mentions: ["'vggface'", "--model"])
        let missing = scratchPath("w.h5")
        assertFailed(try facenet(["bench", "--weights", missing, "--iterations", "1"]), status: ExitStatus.failure,
                     mentions: [missing, "no such file"])
    }
}
