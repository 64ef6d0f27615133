import FaceNetKernels
import FaceNetKit
import Foundation
import FaceNetTestSupport
import XCTest
@testable import FaceNetGallery

/// A folder of photos as a gallery (`FaceGallery.open(folder:model:)`, `synchronize`): only
/// what changed is embedded, by content hash, and unchanged photos keep their rows.
final class FolderGalleryTests: XCTestCase {
    private var folder = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("folder-gallery-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let created = folder
        addTeardownBlock { try? FileManager.default.removeItem(at: created) }
    }

    /// Copies `source` to `name` inside the folder (its parent folders made).
    private func put(_ source: String, as name: String) throws {
        let target = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.copyItem(atPath: source, toPath: target.path)
    }

    private func modified(_ name: String) throws -> Date {
        try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)[.modificationDate] as? Date)
    }

    private func setModified(_ name: String, _ date: Date) throws {
        try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: folder.appendingPathComponent(name).path)
    }

    /// Builds, then: no change embeds nothing and keeps every row; a new photo is the only
    /// one embedded; bytes changed under the old name and time are re-embedded; a deleted
    /// photo's faces go; a bad file is reported at every call; queries name the right person.
    func testOnlyWhatChangedIsEmbedded() async throws {
        let crops = try Paths.shared("faces/crops")  // skips when ../shared is absent
        func crop(_ n: Int) -> String { (crops as NSString).appendingPathComponent("img\(n).png") }
        // The tiny network on the 160×160 crops, no detector: a few milliseconds a photo.
        let facenet = try FaceNet(model: try TinyFaceNetModel.load(size: 160), preprocessing: PreprocessOptions())
        let model = try GalleryModel(facenet: facenet, model: "tiny")
        try put(crop(1), as: "alice/1.png")
        try put(crop(2), as: "alice/2.png")
        try put(crop(3), as: "bob/1.png")
        try put(crop(4), as: "carol.png")
        let past = Date(timeIntervalSince1970: 1_600_000_000)  // whole seconds: every file system keeps them
        try setModified("bob/1.png", past)
        let gallery = try await FaceGallery.open(folder: folder.path, model: model)
        func sync() async throws -> FolderSynchronization {
            try await gallery.synchronize(folder: folder.path, with: facenet, model: "tiny")
        }

        var done = try await sync()
        XCTAssertEqual(done.added, ["alice/1.png", "alice/2.png", "bob/1.png", "carol.png"])
        XCTAssertEqual(done.embedded, 4)
        let built = try await gallery.faces()
        XCTAssertEqual(built.map(\.identity), ["alice", "alice", "bob", "carol"], "folder name; a photo at the top: its stem")
        XCTAssertEqual(built.map(\.file), ["alice/1.png", "alice/2.png", "bob/1.png", "carol.png"], "relative to the folder")
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(FaceGallery.folderGalleryName).path))

        // A newer time on unchanged bytes is no change either.
        try setModified("carol.png", Date().addingTimeInterval(60))
        done = try await sync()
        XCTAssertEqual(done.embedded, 0)
        XCTAssertEqual(done.unchanged, 4)
        let kept = try await gallery.faces()
        XCTAssertEqual(kept, built, "unchanged photos keep their rows and ids")

        try put(crop(5), as: "dave/1.png")
        done = try await sync()
        XCTAssertEqual(done.added, ["dave/1.png"])
        XCTAssertEqual(done.embedded, 1)
        XCTAssertEqual(done.unchanged, 4)

        // Other bytes under the same name and the same modification time: the hash tells.
        try put(crop(6), as: "bob/1.png")
        try setModified("bob/1.png", past)
        XCTAssertEqual(try modified("bob/1.png"), past)
        let beforeChange = try await gallery.faces()
        done = try await sync()
        XCTAssertEqual(done.reembedded, ["bob/1.png"])
        XCTAssertEqual(done.added, [])
        XCTAssertEqual(done.embedded, 1)
        let afterChange = try await gallery.faces()
        let oldBob = try XCTUnwrap(beforeChange.first { $0.file == "bob/1.png" })
        let newBob = try XCTUnwrap(afterChange.first { $0.file == "bob/1.png" })
        XCTAssertGreaterThan(newBob.id, oldBob.id, "re-embedded: a new row")
        XCTAssertEqual(afterChange.filter { $0.file != "bob/1.png" }, beforeChange.filter { $0.file != "bob/1.png" })

        try FileManager.default.removeItem(at: folder.appendingPathComponent("alice/2.png"))
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("erin"), withIntermediateDirectories: true)
        try Data("not an image".utf8).write(to: folder.appendingPathComponent("erin/broken.jpg"))
        done = try await sync()
        XCTAssertEqual(done.removed, ["alice/2.png"])
        XCTAssertEqual(done.failed.map(\.file), [folder.appendingPathComponent("erin/broken.jpg").path])
        XCTAssertEqual(done.embedded, 1, "only the bad file was tried")
        let stored = try await gallery.faces()
        XCTAssertEqual(stored.map(\.file), ["alice/1.png", "carol.png", "dave/1.png", "bob/1.png"])
        done = try await sync()
        XCTAssertEqual(done.failed.count, 1, "reported again, not forgotten")
        XCTAssertEqual(done.unchanged, 4)

        for (query, who) in [(crop(6), "bob"), (crop(1), "alice"), (crop(4), "carol")] {
            let found = try await gallery.search(photo: query, with: facenet, model: "tiny", k: 1)
            let best = try XCTUnwrap(found.faces.first?.matches.first)
            XCTAssertEqual(best.identity, who, query)
            // The distance comes from a float inner product: √(2 − 2s) turns one ulp below
            // s = 1 (1 − 6e-8) into 3.5e-4, so the same face is "0" only to about 1e-3.
            XCTAssertEqual(best.distance, 0, accuracy: 1e-3, query)
        }
        try await gallery.close()
    }

    /// `add(photos:)` prepares the next photo while embedding this one: outcomes still come
    /// in the photos' order, a bad photo in the middle is skipped and reported, and what is
    /// stored equals `embedFaces` one photo at a time.
    func testPhotosPreparedAheadStayInOrder() async throws {
        let crops = try Paths.shared("faces/crops")  // skips when ../shared is absent
        let facenet = try FaceNet(model: try TinyFaceNetModel.load(size: 160), preprocessing: PreprocessOptions())
        let bad = folder.appendingPathComponent("bad.png").path
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: bad))
        let files = [1, 2, 3].map { (crops as NSString).appendingPathComponent("img\($0).png") }
        let photos = [(files[0], "a"), (files[1], "b"), (bad, "x"), (files[2], "c")].map { (file: $0.0, identity: $0.1) }
        let gallery = try await FaceGallery.create(folder.appendingPathComponent("g.sqlite").path,
                                                   model: try GalleryModel(facenet: facenet, model: "tiny"))
        let outcomes = try await gallery.add(photos: photos, with: facenet, model: "tiny")
        XCTAssertEqual(outcomes.map(\.file), photos.map(\.file))
        XCTAssertEqual(outcomes.map { (try? $0.result.get()) != nil }, [true, true, false, true])
        let stored = try await gallery.faces()
        XCTAssertEqual(stored.map(\.identity), ["a", "b", "c"])
        for (face, file) in zip(stored, files) {
            let alone = try await facenet.embedFaces(file: file, l2Normalize: true)
            let expected = try XCTUnwrap(alone.first?.embedding)
            XCTAssertEqual(face.embedding.count, expected.count)
            XCTAssertLessThan(zip(face.embedding, expected).map { abs($0 - $1) }.max() ?? 1, 1e-6, file)
        }
        try await gallery.close()
    }

    /// A folder gallery made with one model refuses another, naming both and the file to
    /// delete; a missing folder is named.
    func testAnotherModelIsRefusedWithWhatToDo() async throws {
        let made = GalleryModel(model: "one", dimension: 8, preprocessing: "none", weightSet: nil)
        try await FaceGallery.open(folder: folder.path, model: made).close()
        let other = GalleryModel(model: "two", dimension: 16, preprocessing: "none", weightSet: nil)
        do {
            _ = try await FaceGallery.open(folder: folder.path, model: other)
            XCTFail("another model was accepted")
        } catch {
            let message = String(describing: error)
            for part in ["one (8-d", "two (16-d", "delete " + folder.appendingPathComponent(FaceGallery.folderGalleryName).path] {
                XCTAssertTrue(message.contains(part), "\(part) not in: \(message)")
            }
        }
        let reopened = try await FaceGallery.open(folder: folder.path, model: made)
        XCTAssertEqual(reopened.model, made)
        try await reopened.close()
        let missing = folder.appendingPathComponent("none").path
        do {
            _ = try await FaceGallery.open(folder: missing, model: made)
            XCTFail("a missing folder was accepted")
        } catch {
            XCTAssertTrue(String(describing: error).contains(missing), "\(error)")
        }
    }
}
