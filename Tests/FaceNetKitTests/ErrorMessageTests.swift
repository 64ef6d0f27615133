import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
import FaceNetTestSupport

/// `FaceNetError`'s messages: the same text through `description` and
/// `localizedDescription`, and the common mistakes (a missing file, a preset without its
/// weights, a photo without a face) say what to do next.
final class ErrorMessageTests: XCTestCase {
    /// One value of every case.
    private static let everyCase: [FaceNetError] = [
        .unreadableFile(path: "w.h5", reason: "no such file"),
        .unwritableFile(path: "out/a.png", reason: "no such directory"),
        .invalidTopology(path: "t.json", layer: "conv", reason: "no kernel_size"),
        .unsupportedLayer(path: "t.json", layer: "dw", className: "DepthwiseConv2D", reason: "no kernel"),
        .invalidWeights(path: "w.h5", layer: nil, reason: "truncated"),
        .missingWeight(path: "w.h5", layer: "conv", weight: "kernel", expectedShape: [3, 3, 3, 8]),
        .unexpectedWeights(path: "w.h5", layers: ["extra"]),
        .weightShapeMismatch(path: "w.h5", layer: "conv", weight: "kernel", expected: [3, 3, 3, 8], found: [3, 3, 3, 4]),
        .weightsMismatch(path: "w.h5", known: "FaceNet-512 CASIA", expected: "aa", found: "bb"),
        .inputShapeMismatch(layer: "input", expected: "(160, 160, 3)", found: [1, 10, 10, 3]),
        .inputTooSmall(input: "input", found: [1, 5, 5, 3], minimum: [11, 11], reason: "conv needs 3×3"),
        .unknownLayer(name: "nope"),
        .invalidManifest(path: "m.json", reason: "no outputs"),
        .invalidImage(path: "a.jpg", reason: "corrupt"),
        .imageTooLarge(path: "a.jpg", width: 60000, height: 60000, limit: "100 MP"),
        .invalidGraph(path: "g.pb", reason: "no constants"),
        .invalidArgument("batch size must be positive"),
        .noFaceFound(path: "a.jpg"),
        .invalidGallery(location: "g.sqlite", reason: "not a SQLite file"),
        .galleryMismatch(location: "g.sqlite", gallery: "facenet512-casia (512-d)", given: "facenet128 (128-d)"),
        .storeUnavailable(location: "postgres://u@127.0.0.1:1/db", reason: "connection refused"),
        .internalError("plan: buffer overlap"),
    ]

    /// The case's name; exhaustive, so a new case fails to compile here until it is added.
    private static func name(_ error: FaceNetError) -> String {
        switch error {
        case .unreadableFile: return "unreadableFile"
        case .unwritableFile: return "unwritableFile"
        case .invalidTopology: return "invalidTopology"
        case .unsupportedLayer: return "unsupportedLayer"
        case .invalidWeights: return "invalidWeights"
        case .missingWeight: return "missingWeight"
        case .unexpectedWeights: return "unexpectedWeights"
        case .weightShapeMismatch: return "weightShapeMismatch"
        case .weightsMismatch: return "weightsMismatch"
        case .inputShapeMismatch: return "inputShapeMismatch"
        case .inputTooSmall: return "inputTooSmall"
        case .unknownLayer: return "unknownLayer"
        case .invalidManifest: return "invalidManifest"
        case .invalidImage: return "invalidImage"
        case .imageTooLarge: return "imageTooLarge"
        case .invalidGraph: return "invalidGraph"
        case .invalidArgument: return "invalidArgument"
        case .noFaceFound: return "noFaceFound"
        case .invalidGallery: return "invalidGallery"
        case .galleryMismatch: return "galleryMismatch"
        case .storeUnavailable: return "storeUnavailable"
        case .internalError: return "internalError"
        }
    }

    /// Before: `localizedDescription` was Foundation's "The operation could not be
    /// completed. (FaceNetKit.FaceNetError error 16.)".
    func testLocalizedDescriptionIsTheMessageForEveryCase() {
        XCTAssertEqual(Set(Self.everyCase.map(Self.name)).count, 22, "one value of each case")
        for error in Self.everyCase {
            let message = error.description
            XCTAssertFalse(message.isEmpty, Self.name(error))
            XCTAssertEqual(error.errorDescription, message, Self.name(error))
            XCTAssertEqual((error as Error).localizedDescription, message, Self.name(error))
            XCTAssertEqual(String(describing: error as Error), message, Self.name(error))
            XCTAssertFalse((error as Error).localizedDescription.contains("could not be completed"), Self.name(error))
        }
    }

    /// `code` is the case's name in snake case (what the CLI's JSON errors carry), one per
    /// case; `path` is the file each file-related case names, and the message names it too.
    func testCodeIsTheSnakeCaseNameAndPathTheFile() {
        for error in Self.everyCase {
            let snake = Self.name(error).reduce(into: "") { out, c in out += c.isUppercase ? "_" + c.lowercased() : String(c) }
            XCTAssertEqual(error.code, snake, Self.name(error))
            if let path = error.path {
                XCTAssertTrue(error.description.hasPrefix(path + ":"), "\(Self.name(error)): \(error.description)")
            }
        }
        let withoutFile: Set<String> = ["inputShapeMismatch", "inputTooSmall", "unknownLayer", "invalidArgument", "internalError"]
        XCTAssertEqual(Set(Self.everyCase.filter { $0.path == nil }.map(Self.name)), withoutFile)
    }

    func testNoFaceFoundSaysHowToSkipDetection() {
        XCTAssertEqual(FaceNetError.noFaceFound(path: "crops/a.jpg").localizedDescription,
                       "crops/a.jpg: no face found; if the images are face crops already, skip detection "
                           + "(`--detector skip`, or `extraction: .skip` in Swift)")
    }

    /// A relative path that does not exist: the message names the working directory it was
    /// taken from, and what to check; an absolute one does not need the directory.
    func testMissingFilesSayWhereTheyWereLookedForAndWhatToDo() throws {
        let cwd = FileManager.default.currentDirectoryPath
        XCTAssertThrowsError(try FaceNet(topologyPath: Paths.fixture("tiny/topology_keras22.json"),
                                         weightsPath: "no-such-dir/weights.h5", extraction: .skip)) { error in
            XCTAssertEqual(error as? FaceNetError, .unreadableFile(
                path: "no-such-dir/weights.h5",
                reason: "no such file (relative to the working directory \(cwd)); check the weights path "
                    + "(`--weights`, `weightsPath:`); the facenet512-casia preset's weights come from "
                    + "`facenet weights fetch`"))
            XCTAssertTrue(error.localizedDescription.hasPrefix("no-such-dir/weights.h5: cannot read: no such file"),
                          error.localizedDescription)
        }
        XCTAssertThrowsError(try FaceNet(topologyPath: "/no/such/topology.json", weightsPath: "w.h5", extraction: .skip)) { error in
            XCTAssertEqual(error as? FaceNetError, .unreadableFile(
                path: "/no/such/topology.json", reason: "no such file; check the topology path (`--topology`, `topologyPath:`)"))
        }
        XCTAssertThrowsError(try ImageDecoder.decode(path: "/no/such/photo.jpg")) { error in
            XCTAssertEqual(error.localizedDescription, "/no/such/photo.jpg: cannot read: no such file; check the image path")
        }
    }

    /// Before: "download deepface's facenet_weights.h5 and put it in one of the directories".
    func testDeepfacePresetsSayWhereTheirWeightsComeFromAndWhichLayoutsFit() throws {
        let releases = "https://github.com/serengil/deepface_models/releases/download/v1.0/"
        for (preset, file) in [(Preset.facenet128, "facenet_weights.h5"), (.facenet512, "facenet512_weights.h5")] {
            XCTAssertEqual(preset.weightsFile, file)
            let hint = preset.weightsHint
            for fragment in [releases + file, "named \(file)", "$FACENET_WEIGHTS_DIR", "~/.facenet/weights",
                             "Keras 2 `save_weights`", "Keras 2 full-model .h5", "Keras 3 .weights.h5"] {
                XCTAssertTrue(hint.contains(fragment), "\(preset): '\(fragment)' not in: \(hint)")
            }
        }
        XCTAssertTrue(Preset.facenet512Casia.weightsHint.contains("`facenet weights fetch`"))
        // The hint is part of the error when the file is nowhere.
        let empty = try temporaryDirectory()
        let env = ["FACENET_WEIGHTS_DIR": empty.path, "HOME": "/nonexistent-home"]
        XCTAssertThrowsError(try Preset.facenet128.locateWeights(environment: env)) { error in
            XCTAssertTrue(error.localizedDescription.contains(Preset.facenet128.weightsHint), error.localizedDescription)
            XCTAssertTrue(error.localizedDescription.contains(empty.path), error.localizedDescription)
        }
    }
}
