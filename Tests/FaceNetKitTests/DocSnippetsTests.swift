import Foundation
import XCTest
import FaceNetKit
import FaceNetTools
import FaceNetTestSupport

/// Runs the DocC articles' snippets (DocSnippets.swift) in a scratch directory holding the
/// files they name. The golden snippet uses the committed tiny fixtures and always runs; the
/// others need the CASIA preset's weights (`bash Scripts/fetch-weights.sh`, which CI runs
/// through Scripts/test.sh) and skip without them. They check that the snippets run; what
/// the numbers should be is the business of the other tests.
final class DocSnippetsTests: XCTestCase {
    override func setUp() {
        super.setUp()
        Paths.useCloneWeightsDirectoryUnlessSet()
    }

    /// The preset's weights file, or a skip naming what is missing.
    private func presetWeights() throws -> String {
        do {
            return try Preset.facenet512Casia.locateWeights()
        } catch {
            throw XCTSkip("the facenet512-casia weights are absent: \(error)")
        }
    }

    /// A scratch directory with the articles' files: a.jpg and b.jpg (two photos of one
    /// person), group.jpg (four faces), face_crop.jpg (a photo standing in for a crop: `.skip`
    /// embeds the whole image), photos/ with pairs.csv naming its files,
    /// and the preset's weights and topology under their own names. `body` runs inside it
    /// (the snippets use relative paths); the working directory is restored afterwards.
    private func inScratchDirectory<R>(_ body: () throws -> R) throws -> R {
        let weights = try presetWeights()
        let scratch = try temporaryDirectory()
        let fm = FileManager.default
        func link(_ name: String, to target: String) throws {
            try fm.createSymbolicLink(at: scratch.appendingPathComponent(name), withDestinationURL: URL(fileURLWithPath: target))
        }
        let samples = Paths.packageRoot.appendingPathComponent("Docs/samples")
        try link("a.jpg", to: samples.appendingPathComponent("img5.jpg").path)
        try link("b.jpg", to: samples.appendingPathComponent("img6.jpg").path)
        try link("face_crop.jpg", to: samples.appendingPathComponent("img16.jpg").path)
        try link("group.jpg", to: Paths.fixture("mtcnn_stages/group.jpg"))
        try link("photos", to: samples.path)
        try link("facenet512_casia.h5", to: weights)
        try link("facenet512.json", to: Paths.packageRoot.appendingPathComponent("Weights/facenet512.json").path)
        // img5 and img6 show one person, img16 another; 10 pairs for 10 folds.
        let rows = [("img5.jpg", "img6.jpg", "Yes"), ("img5.jpg", "img16.jpg", "No"), ("img6.jpg", "img16.jpg", "No")]
        let csv = "file_x,file_y,Decision\n" + (0..<10).map { i in
            let row = rows[i % rows.count]
            return "\(row.0),\(row.1),\(row.2)\n"
        }.joined()
        try csv.write(to: scratch.appendingPathComponent("pairs.csv"), atomically: true, encoding: .utf8)
        return try inDirectory(scratch.path, body)
    }

    private func inDirectory<R>(_ path: String, _ body: () throws -> R) throws -> R {
        let fm = FileManager.default
        let previous = fm.currentDirectoryPath
        guard fm.changeCurrentDirectoryPath(path) else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
        defer { _ = fm.changeCurrentDirectoryPath(previous) }
        return try body()
    }

    func testGoldenSnippetPassesOnTheTinyFixtures() throws {
        let report = try inDirectory(Paths.fixture("tiny")) { try snippetGoldenCheck() }
        XCTAssertEqual(report.results.count, 14)
        XCTAssertTrue(report.allWithinTolerance, report.summary)
    }

    func testLocateWeightsSnippet() throws {
        _ = try presetWeights()
        try inScratchDirectory { snippetLocateWeights() }
    }

    func testOverviewAndFirstEmbeddingSnippets() throws {
        try inScratchDirectory {
            try snippetOverview()
            try snippetFirstEmbedding()
        }
    }

    func testVerifyAndEmbedSnippets() throws {
        try inScratchDirectory { try snippetVerifyAndEmbed() }
    }

    /// The async snippet awaited from this synchronous test (it changes the working
    /// directory for the whole process, as the others do): group.jpg has four faces.
    func testAsyncSnippet() throws {
        let faces = LockedValue<Result<Int, Error>?>(nil)
        try inScratchDirectory {
            let facenet = try FaceNet(preset: .facenet512Casia)
            let finished = DispatchSemaphore(value: 0)
            Task {
                do {
                    let count = try await snippetAsync(facenet)
                    faces.withLock { $0 = .success(count) }
                } catch {
                    faces.withLock { $0 = .failure(error) }
                }
                finished.signal()
            }
            finished.wait()
        }
        XCTAssertEqual(try faces.withLock { $0 }?.get(), 4)
    }

    func testFaceSnippets() throws {
        try inScratchDirectory { try snippetFaces() }
    }

    func testCalibrationSnippet() throws {
        try inScratchDirectory { try snippetCalibrate(try FaceNet(preset: .facenet512Casia)) }
    }

    func testProfileSnippet() throws {
        let seconds = try inScratchDirectory { try snippetProfile() }
        XCTAssertFalse(seconds.isEmpty)
        XCTAssertTrue(seconds.allSatisfy { $0 >= 0 && $0.isFinite })
    }
}
