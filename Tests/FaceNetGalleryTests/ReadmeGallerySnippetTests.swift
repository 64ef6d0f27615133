import FaceNetKit
import FaceNetTestSupport
import Foundation
import XCTest
@testable import FaceNetGallery

/// Keeps README.md's FaceNetGallery snippet true: its block must occur in
/// ReadmeGallerySnippet.swift line for line (so the test build compiles it), and it runs on
/// two sample photos and a group photo. Scripts/docs.sh does the same for the DocC articles;
/// this one lives here because only this test target builds FaceNetGallery.
final class ReadmeGallerySnippetTests: XCTestCase {
    /// Lines without their indentation and trailing spaces, blank lines dropped.
    private func normalised(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    /// The README's Swift block that starts with `import FaceNetGallery`.
    private func readmeBlock() throws -> [String] {
        let readme = try String(contentsOf: Paths.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = readme.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "\n```")[0] }
        let block = try XCTUnwrap(blocks.first { $0.hasPrefix("import FaceNetGallery") },
                                  "README.md has no ```swift block starting with `import FaceNetGallery`")
        return normalised(block)
    }

    func testReadmeBlockIsTheCompiledSnippet() throws {
        let block = try readmeBlock()
        let source = try String(contentsOf: Paths.packageRoot.appendingPathComponent(
            "Tests/FaceNetGalleryTests/ReadmeGallerySnippet.swift"), encoding: .utf8)
        let lines = normalised(source)
        let imports = block.filter { $0.hasPrefix("import ") }
        for line in imports {
            XCTAssertTrue(lines.contains(line), "README's `\(line)` is not among ReadmeGallerySnippet.swift's imports")
        }
        let body = block.filter { !$0.hasPrefix("import ") }
        XCTAssertGreaterThan(body.count, 5, "the README block lost its body")
        var found = false
        for start in 0 ..< max(0, lines.count - body.count + 1) where Array(lines[start ..< start + body.count]) == body {
            found = true
        }
        XCTAssertTrue(found, "README.md's FaceNetGallery block is not in ReadmeGallerySnippet.swift line for line:\n"
                      + body.joined(separator: "\n"))
    }

    /// Runs the snippet in a scratch folder: alice1.jpg and bob1.jpg are two people's photos
    /// (img5 and img16 of Docs/samples), group.jpg has four faces. The gallery it leaves holds
    /// one face per person, and alice's photo is found again as alice.
    func testReadmeSnippetRuns() async throws {
        Paths.useCloneWeightsDirectoryUnlessSet()
        do { _ = try Preset.facenet512Casia.locateWeights() } catch {
            throw XCTSkip("the facenet512-casia weights are absent: \(error)")
        }
        let scratch = try temporaryDirectory()
        let samples = Paths.packageRoot.appendingPathComponent("Docs/samples")
        let fm = FileManager.default
        try fm.copyItem(at: samples.appendingPathComponent("img5.jpg"), to: scratch.appendingPathComponent("alice1.jpg"))
        try fm.copyItem(at: samples.appendingPathComponent("img16.jpg"), to: scratch.appendingPathComponent("bob1.jpg"))
        try fm.copyItem(atPath: Paths.fixture("mtcnn_stages/group.jpg"), toPath: scratch.appendingPathComponent("group.jpg").path)
        let previous = fm.currentDirectoryPath
        XCTAssertTrue(fm.changeCurrentDirectoryPath(scratch.path))
        defer { _ = fm.changeCurrentDirectoryPath(previous) }

        let gallery = try await readmeGallerySnippet()
        let stats = try await gallery.statistics()
        XCTAssertEqual(stats.faces, 2)
        XCTAssertEqual(stats.identities, 2)
        let facenet = try FaceNet(preset: .facenet512Casia)
        let again = try await gallery.search(photo: "alice1.jpg", with: facenet, model: "facenet512-casia", k: 1)
        XCTAssertEqual(again.faces.first?.matches.first?.identity, "alice")
        try await gallery.close()
    }
}
