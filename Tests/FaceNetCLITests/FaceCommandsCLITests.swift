import Foundation
import XCTest

/// `embed`, `verify` and `calibrate` on the tiny fixture model with `--detector skip`.
/// The oracle is `Fixtures/pipeline/manifest.json`: Pillow + tf_keras embeddings of two
/// committed photos through this model at the engine's default preprocessing.
final class FaceCommandsCLITests: CLITestCase {
    struct PipelineCase {
        let path: String
        let embedding: [Float]
        let embeddingL2: [Float]
    }

    private func pipelineCases() throws -> [PipelineCase] {
        let manifest = try readJSON(CLIPaths.fixture("pipeline/manifest.json"))
        let cases = try XCTUnwrap(manifest["cases"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 2)
        return try cases.map { c in
            PipelineCase(path: CLIPaths.package(try XCTUnwrap(c["file"] as? String)),
                         embedding: try XCTUnwrap(floats(c["embedding"])),
                         embeddingL2: try XCTUnwrap(floats(c["embedding_l2"])))
        }
    }

    // MARK: progress

    /// Progress goes to stderr only: a plain line per update with `--progress-interval 0`
    /// when stderr is not a terminal (count, percent, rate, time left or taken), nothing
    /// under `--quiet`, and stdout the same either way.
    func testEmbedProgressOnStderrAndQuiet() throws {
        let model = try tinyFaceModelFlags()
        let paths = try pipelineCases().map(\.path)
        let files = paths + paths + [paths[0]]  // 5 images, one per batch
        let plain = try facenet(["embed", "--batch", "1", "--progress-interval", "0"] + model + files)
        assertSucceeded(plain)
        let lines = plain.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 5, plain.transcript)
        for (n, line) in lines.enumerated() {
            XCTAssertTrue(line.hasPrefix("embedded \(n + 1)/5 (\(100 * (n + 1) / 5)%), "), line)
            XCTAssertTrue(line.contains(" img/s"), line)
            XCTAssertTrue(line.hasSuffix(n < 4 ? " left" : " s"), line)
        }
        let quiet = try facenet(["embed", "--batch", "1", "--quiet"] + model + files)
        assertSucceeded(quiet)
        XCTAssertEqual(quiet.stderr, "", quiet.transcript)
        XCTAssertEqual(quiet.stdout, plain.stdout)
        assertUsageError(try facenet(["embed", "--progress-interval", "-1"] + model + files), mentions: ["--progress-interval"])
    }

    // MARK: embed

    func testEmbedJSONMatchesKeras() throws {
        let model = try tinyFaceModelFlags()
        let cases = try pipelineCases()
        for l2 in [false, true] {
            let result = try facenet(["embed", "--json"] + (l2 ? ["--l2"] : []) + model + cases.map(\.path))
            assertSucceeded(result)
            let lines = try jsonLines(result)
            XCTAssertEqual(lines.map { $0["file"] as? String }, cases.map(\.path), "one line per image, in order")
            for (c, line) in zip(cases, lines) {
                let embedding = try XCTUnwrap(floats(line["embedding"]), "\(line)")
                let expected = l2 ? c.embeddingL2 : c.embedding
                XCTAssertLessThanOrEqual(relativeError(embedding, expected), 1e-5, "\(c.path) l2=\(l2): \(embedding) vs Keras \(expected)")
            }
        }
    }

    /// Text lines (`file<TAB>numbers`) written whole to `--output`; nothing on stdout.
    func testEmbedTextToOutputFile() throws {
        let model = try tinyFaceModelFlags()
        let cases = try pipelineCases()
        let output = scratchPath("embeddings.txt")
        let result = try facenet(["embed", "--l2", "--output", output] + model + cases.map(\.path))
        assertSucceeded(result)
        XCTAssertEqual(result.stdout, "")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, cases.count)
        for (c, line) in zip(cases, lines) {
            let fields = line.split(separator: "\t")
            XCTAssertEqual(fields.count, 2, String(line))
            XCTAssertEqual(fields.first.map(String.init), c.path)
            let values = (fields.last ?? "").split(separator: " ").compactMap { Float($0) }
            XCTAssertLessThanOrEqual(relativeError(values, c.embeddingL2), 1e-5, String(line))
        }
    }

    /// Bad files fail one by one: the good image is still embedded, each bad one is named
    /// on stderr and as a JSON error line, and the exit status is 1.
    func testEmbedMissingFileAndNotAnImage() throws {
        let model = try tinyFaceModelFlags()
        let good = CLIPaths.package("Docs/samples/img5.jpg")
        let missing = scratchPath("no-such-photo.jpg"), text = CLIPaths.fixture("images/text.jpg")
        let result = try facenet(["embed", "--json"] + model + [missing, good, text])
        assertFailed(result, status: ExitStatus.failure,
                     mentions: [missing, "no such file", text, "not an image", "2 of 3 images failed"])
        let lines = try jsonLines(result)
        XCTAssertEqual(lines.map { $0["file"] as? String }, [missing, good, text])
        XCTAssertEqual(lines.map { $0["error"] != nil }, [true, false, true], "\(lines)")
        XCTAssertEqual(floats(lines[1]["embedding"])?.count, 16)
    }

    /// Each failed file is named once on its stderr line (the line was `f: f: no face found`,
    /// the error's own path after the file's), and no face found says how to skip detection.
    func testEmbedNamesEachFailedFileOnce() throws {
        let model = try tinyFaceModelFlags() + ["--detector", "mtcnn"]  // the last --detector wins
        let missing = scratchPath("no-such-photo.jpg"), text = CLIPaths.fixture("images/text.jpg")
        let noFace = CLIPaths.fixture("images/jpeg_baseline_420.jpg")  // 48×32 colour gradient
        let result = try facenet(["embed"] + model + [missing, text, noFace])
        assertFailed(result, status: ExitStatus.failure,
                     mentions: ["no such file", "not an image", "no face found", "`--detector skip`", "3 of 3 images failed"])
        for path in [missing, text, noFace] {
            XCTAssertEqual(result.stderr.components(separatedBy: path).count - 1, 1, "\(path) once:\n\(result.transcript)")
        }
    }

    func testEmbedBadFlagValues() throws {
        let model = try tinyFaceModelFlags()
        let image = CLIPaths.package("Docs/samples/img5.jpg")
        assertUsageError(try facenet(["embed", "--batch", "0"] + model + [image]), mentions: ["--batch must be positive"])
        assertUsageError(try facenet(["embed", "--resize", "sideways"] + model + [image]),
                         mentions: ["'sideways'", "--resize", "bilinear-aa"])
        assertUsageError(try facenet(["embed", "--detector", "skip", "--align", "eyes"] + model + [image]),
                         mentions: ["--align needs a detector"])
        let empty = try scratchDirectory("no-images")
        assertUsageError(try facenet(["embed"] + model + [empty.path]),
                         mentions: ["no images (.jpg, .jpeg, .png, .webp) found", empty.path])
    }

    func testEmbedUnknownModel() throws {
        let result = try facenet(["embed", "--model", "facenet9000", CLIPaths.package("Docs/samples/img5.jpg")])
        assertUsageError(result, mentions: ["'facenet9000'", "--model", "facenet512-casia", "facenet128"])
    }

    /// A preset whose weights are nowhere says where it looked and how to get them.
    func testEmbedPresetWithoutWeightsSaysHowToGetThem() throws {
        try skipIfPackageWeightsExist("facenet_weights.h5")
        let result = try facenet(["embed", "--model", "facenet128", CLIPaths.package("Docs/samples/img5.jpg")])
        assertFailed(result, status: ExitStatus.failure,
                     mentions: ["facenet_weights.h5", scratch.appendingPathComponent("home/.facenet/weights").path,
                                "https://github.com/serengil/deepface_models/releases/download/v1.0/facenet_weights.h5",
                                "Keras 2 `save_weights`"])
        XCTAssertEqual(result.stdout, "")
    }

    // MARK: verify

    /// The distance is the euclidean distance of Keras's l2-normalised embeddings; the
    /// verdict follows `distance ≤ threshold` on either side of it; an image against itself
    /// is at distance 0.
    func testVerifyDistanceMatchesKerasEmbeddings() throws {
        let model = try tinyFaceModelFlags()
        let cases = try pipelineCases()
        let (a, b) = (cases[0], cases[1])
        let expected = Double(zip(a.embeddingL2, b.embeddingL2).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot())
        XCTAssertGreaterThan(expected, 0.01, "the two fixture photos should differ")
        for threshold in [expected * 0.9, expected * 1.1] {
            let result = try facenet(["verify", "--json", "--threshold", "\(threshold)"] + model + [a.path, b.path])
            assertSucceeded(result)
            let object = try XCTUnwrap(try jsonLines(result).first)
            XCTAssertEqual(object["first"] as? String, a.path)
            XCTAssertEqual(object["second"] as? String, b.path)
            XCTAssertEqual(object["metric"] as? String, "euclidean_l2")
            let distance = try XCTUnwrap(number(object["distance"]))
            XCTAssertEqual(distance, expected, accuracy: 1e-4, "verify's distance vs Keras's embeddings")
            XCTAssertEqual(try XCTUnwrap(number(object["threshold"])), threshold, accuracy: 1e-12)
            XCTAssertEqual(object["verified"] as? Bool, distance <= threshold, "\(object)")
        }
        let same = try facenet(["verify", "--threshold", "0.001"] + model + [a.path, a.path])
        assertSucceeded(same)
        XCTAssertTrue(same.stdout.hasPrefix("same person: euclidean_l2 distance 0.0000 ≤ threshold 0.0010"), same.stdout)
    }

    /// Weights that no weight set names have no default threshold.
    func testVerifyWithoutThresholdSaysWhatToGive() throws {
        let model = try tinyFaceModelFlags()
        let image = CLIPaths.package("Docs/samples/img5.jpg")
        let result = try facenet(["verify"] + model + [image, image])
        assertFailed(result, status: ExitStatus.failure, mentions: ["no threshold known", "--threshold X", "--weight-set deepface-facenet128|"])
    }

    func testVerifyMissingFileAndNotAnImage() throws {
        let model = try tinyFaceModelFlags() + ["--threshold", "1"]
        let image = CLIPaths.package("Docs/samples/img5.jpg")
        let missing = scratchPath("missing.png"), text = CLIPaths.fixture("images/text.jpg")
        assertFailed(try facenet(["verify"] + model + [image, missing]), status: ExitStatus.failure,
                     mentions: [missing, "no such file"])
        assertFailed(try facenet(["verify"] + model + [text, image]), status: ExitStatus.failure,
                     mentions: [text, "not an image"])
    }

    func testVerifyBadFlagValues() throws {
        let model = try tinyFaceModelFlags()
        let image = CLIPaths.package("Docs/samples/img5.jpg")
        assertUsageError(try facenet(["verify", "--metric", "manhattan"] + model + [image, image]),
                         mentions: ["'manhattan'", "--metric", "euclidean_l2", "cosine"])
        assertUsageError(try facenet(["verify", "--threshold", "small"] + model + [image, image]),
                         mentions: ["'small'", "--threshold"])
        assertUsageError(try facenet(["verify", "--weight-set", "casia"] + model + [image, image]),
                         mentions: ["'casia'", "--weight-set", "facenet512-casia"])
        assertUsageError(try facenet(["verify", "--model", "nope", image, image]), mentions: ["'nope'", "--model"])
    }

    // MARK: calibrate

    func testCalibrateSeparatesIdenticalFromDifferentPairs() throws {
        let model = try tinyFaceModelFlags()
        let (csv, directory) = try makePairs()
        let result = try facenet(["calibrate", "--folds", "2", "--balanced-folds"] + model + [csv, directory.path])
        assertSucceeded(result)
        let lines = result.stdoutLines
        XCTAssertEqual(lines.first, "pairs: 6 of 6 usable (2 same person), 2-fold cross-validation (balanced folds)")
        for metric in ["cosine", "euclidean", "euclidean_l2", "angular"] {
            let line = try XCTUnwrap(lines.first { $0.hasPrefix(metric + " ") }, "no line for \(metric):\n\(result.stdout)")
            XCTAssertTrue(line.contains("accuracy 100.00%") && line.contains("2-fold CV accuracy 100.00%"), line)
        }
        XCTAssertFalse(result.stderr.contains("note:"), "balanced folds need no note: \(result.stderr)")
        // The file is ordered by label: consecutive folds get a note saying so.
        let consecutive = try facenet(["calibrate", "--folds", "2"] + model + [csv, directory.path])
        assertSucceeded(consecutive)
        XCTAssertTrue(consecutive.stderr.contains("--balanced-folds"), consecutive.transcript)
    }

    func testCalibrateMissingFilesAndUnknownImage() throws {
        let model = try tinyFaceModelFlags()
        let (csv, directory) = try makePairs()
        let missing = scratchPath("nope.csv")
        assertFailed(try facenet(["calibrate"] + model + [missing, directory.path]), status: ExitStatus.failure, mentions: [missing])
        // A pair naming a photo the directory lacks: reported, the rest still calibrated, exit 1.
        let rows = try String(contentsOfFile: csv, encoding: .utf8) + "zz.jpg,a1.jpg,No\r\n"
        let withUnknown = scratchPath("unknown.csv")
        try Data(rows.utf8).write(to: URL(fileURLWithPath: withUnknown))
        let result = try facenet(["calibrate", "--folds", "2"] + model + [withUnknown, directory.path])
        assertFailed(result, status: ExitStatus.failure, mentions: ["zz.jpg: cannot read: no image with this stem in \(directory.path)"])
        XCTAssertTrue(result.stdout.hasPrefix("pairs: 6 of 7 usable"), result.stdout)
    }

    func testCalibrateBadDecisionAndFolds() throws {
        let model = try tinyFaceModelFlags()
        let (pairs, directory) = try makePairs()
        let csv = scratchPath("maybe.csv")
        try Data("a1.jpg,a2.jpg,Yes\nb1.jpg,b2.jpg,Maybe\n".utf8).write(to: URL(fileURLWithPath: csv))
        assertFailed(try facenet(["calibrate"] + model + [csv, directory.path]), status: ExitStatus.failure,
                     mentions: [csv, "line 2", "'Maybe'", "Yes or No"])
        // Default 10 folds on 6 pairs.
        assertFailed(try facenet(["calibrate"] + model + [pairs, directory.path]), status: ExitStatus.failure,
                     mentions: ["at least 10 pairs for 10 folds", "got 6"])
        assertUsageError(try facenet(["calibrate", "--folds", "two"] + model + [pairs, directory.path]), mentions: ["'two'", "--folds"])
        // `--folds 1` fails (status 1), but its message is wrong; see the report.
        let one = try facenet(["calibrate", "--folds", "1"] + model + [pairs, directory.path])
        XCTAssertFalse(one.signalled)
        XCTAssertNotEqual(one.status, ExitStatus.success, one.transcript)
    }
}
