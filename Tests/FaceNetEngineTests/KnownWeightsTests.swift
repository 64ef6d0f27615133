import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// The manifest of known weights against the files themselves and the fetch script.
final class KnownWeightsTests: XCTestCase {
    private let weights = Paths.packageRoot.appendingPathComponent("Weights")

    /// The tensors of `file` read against `topology`.
    private func tensors(_ file: String, topology: String) throws -> [String: [String: Tensor]] {
        let specs = try KerasJSONReader.read(path: topology).weightSpecs()
        return try KerasWeightsReader.load(path: file, specs: specs).tensors
    }

    private func assertMatches(_ known: KnownWeights, _ tensors: [String: [String: Tensor]], _ file: String,
                               line: UInt = #line) {
        XCTAssertEqual(WeightsDigest.structure(of: tensors), known.structure, "\(file): structure", line: line)
        XCTAssertEqual(WeightsDigest.digest(of: tensors), known.tensorDigest, "\(file): tensor digest", line: line)
    }

    func testMTCNNDigestsRecomputedFromTheFiles() throws {
        for known in [KnownWeights.mtcnnPNet, .mtcnnRNet, .mtcnnONet] {
            let file = weights.appendingPathComponent(known.file).path
            let topology = (file as NSString).deletingPathExtension + ".json"
            assertMatches(known, try tensors(file, topology: topology), file)
        }
    }

    /// `Weights/facenet512_casia.h5` (fetch-weights.sh) and `../shared`'s copy, whichever exist.
    func testCasiaDigestRecomputedFromTheFiles() throws {
        let candidates = [weights.appendingPathComponent("facenet512_casia.h5").path,
                          Paths.shared.appendingPathComponent("models/facenet512_casia.h5").path]
        let present = candidates.filter { FileManager.default.fileExists(atPath: $0) }
        guard !present.isEmpty else {
            throw XCTSkip("no CASIA weights (Weights/facenet512_casia.h5: Scripts/fetch-weights.sh; or ../shared)")
        }
        let topology = weights.appendingPathComponent("facenet512.json").path
        for file in present { assertMatches(.casia512, try tensors(file, topology: topology), file) }
    }

    func testWheelPinAgreesWithTheFetchScript() throws {
        let script = try String(contentsOf: Paths.packageRoot.appendingPathComponent("Scripts/fetch-weights.sh"), encoding: .utf8)
        func value(_ name: String) -> String? {
            script.split(separator: "\n").first { $0.hasPrefix("\(name)=\"") }
                .map { $0.dropFirst(name.count + 2).prefix { $0 != "\"" } }.map(String.init)
        }
        XCTAssertEqual(value("WHEEL_NAME"), KnownWeights.casia512.archive)
        XCTAssertEqual(value("WHEEL_SHA256"), KnownWeights.casia512.archiveSHA256)
        XCTAssertEqual(KnownWeights.casia512.archiveSHA256?.count, 64)
    }

    func testEntriesAreDistinctHexDigests() {
        let all = KnownWeights.all
        XCTAssertEqual(Set(all.map(\.structure)).count, all.count)
        XCTAssertEqual(Set(all.map(\.tensorDigest)).count, all.count)
        let hex = Set("0123456789abcdef")
        for known in all {
            XCTAssertTrue(known.structure.count == 64 && known.structure.allSatisfy(hex.contains), known.name)
            XCTAssertTrue(known.tensorDigest.count == 64 && known.tensorDigest.allSatisfy(hex.contains), known.name)
        }
    }

    func testWeightsReadmeShowsTheManifest() throws {
        let readme = try String(contentsOf: weights.appendingPathComponent("README.md"), encoding: .utf8)
        for known in KnownWeights.all {
            XCTAssertTrue(readme.contains(known.name), "Weights/README.md lacks \(known.name)")
            XCTAssertTrue(readme.contains(known.tensorDigest), "Weights/README.md lacks \(known.name)'s digest")
            XCTAssertTrue(readme.contains(known.structure), "Weights/README.md lacks \(known.name)'s structure")
        }
    }
}
