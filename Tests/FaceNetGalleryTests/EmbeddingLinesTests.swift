import FaceNetKernels
import Foundation
import XCTest
@testable import FaceNetGallery

/// The JSON lines scanner against its reference, Foundation's `JSONSerialization`.
final class EmbeddingLinesTests: XCTestCase {
    private func parse(_ text: String, dimension: Int = 3, requireIdentity: Bool = false, threads: Int = 2) throws -> [EmbeddingLines.Line] {
        try EmbeddingLines.parse(Data(text.utf8), dimension: dimension, requireIdentity: requireIdentity, threads: threads, source: "x.jsonl")
    }

    /// The reference: `JSONSerialization`, then the same fields.
    private func reference(_ line: String) throws -> EmbeddingLines.Line {
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let values = try XCTUnwrap(object["embedding"] as? [NSNumber])
        return EmbeddingLines.Line(identity: object["identity"] as? String, file: object["file"] as? String,
                                   embedding: values.map { Float($0.doubleValue) })
    }

    func testValidLinesReadAsJSONSerializationReadsThem() throws {
        let lines = [
            #"{"identity": "alice", "file": "a/1.jpg", "embedding": [0.1, -2.5e-3, 3]}"#,
            #"  {"embedding":[1,2,3],"identity":"b\u00e9\"q\\\/","extra":{"nested":[1,{"x":null}],"t":true},"file":null}  "#,
            #"{"file": "\ud83d\ude00.png", "embedding": [ -0 , 0.000001 , 1E+2 ], "confidence": 0.99, "box": [1, 2, 3, 4]}"#,
            #"{"identity":"tab\tin","embedding":[123456789012345678901234567890,1e-40,-1.5]}"#,
        ]
        let parsed = try parse(lines.joined(separator: "\n") + "\n\n")
        XCTAssertEqual(parsed.count, lines.count)
        for (line, got) in zip(lines, parsed) {
            let want = try reference(line)
            XCTAssertEqual(got.identity, want.identity, line)
            XCTAssertEqual(got.file, want.file, line)
            XCTAssertEqual(got.embedding, want.embedding, line)
        }
    }

    /// Chunks in parallel give the lines in order, and the first bad line's number.
    func testChunksKeepOrderAndLineNumbers() throws {
        let good = (0..<1_000).map { #"{"identity": "p\#($0)", "embedding": [\#($0), 1, 2]}"# }
        for threads in [1, 2, 3, 7] {
            let parsed = try parse(good.joined(separator: "\n"), threads: threads)
            XCTAssertEqual(parsed.map(\.identity), good.indices.map { "p\($0)" }, "threads \(threads)")
            var bad = good
            bad[900] = #"{"identity": "p", "embedding": [1, 2]}"#
            bad[950] = "garbage"
            XCTAssertThrowsError(try parse(bad.joined(separator: "\n"), threads: threads)) { error in
                XCTAssertEqual((error as? FaceNetError)?.description,
                               "x.jsonl:901: the embedding has 2 values; the gallery holds 3-d embeddings", "threads \(threads)")
            }
        }
    }

    /// What JSON does not allow, or the gallery cannot use: an error naming the line.
    func testBadLinesAreNamed() {
        let cases: [(String, String)] = [
            ("[1, 2, 3]", "not a JSON object"),
            (#"{"identity": "a"}"#, "no \"embedding\" array"),
            (#"{"embedding": [1, 2, NaN]}"#, "non-number"),
            (#"{"embedding": [1, 2, Infinity]}"#, "non-number"),
            (#"{"embedding": [1, 2, 0x10]}"#, "non-number"),
            (#"{"embedding": [1, 2, +1]}"#, "non-number"),
            (#"{"embedding": [1, 2, 1.]}"#, "malformed number"),
            (#"{"embedding": [1, 2, 1e]}"#, "malformed number"),
            (#"{"embedding": [1, 2, "3"]}"#, "non-number"),
            (#"{"embedding": [1, 2, true]}"#, "non-number"),
            (#"{"embedding": [0, 0, 0]}"#, "only zeros"),
            (#"{"embedding": [1, 2, 1e99]}"#, "out of float range"),
            (#"{"embedding": [1, 2, 3]} x"#, "text after its end"),
            (#"{"embedding": [1, 2, 3], "identity": "a"#, "does not end"),
            (#"{"embedding": [1, 2, 3], "identity": "\q"}"#, "unknown escape"),
            (#"{"embedding": [1, 2, 3], "identity": "\ud800"}"#, "lone surrogate"),
            (#"{"embedding": [1, 2, 3], "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#, "nested too deep"),
            (#"{"embedding": [1, 2, 3]}"#, ""),  // valid: no error (checked below)
        ]
        for (line, mention) in cases {
            do {
                let parsed = try parse("{\"embedding\": [1, 1, 1]}\n" + line, requireIdentity: false)
                XCTAssertTrue(mention.isEmpty, "\(line) was accepted: \(parsed)")
            } catch let error as FaceNetError {
                XCTAssertFalse(mention.isEmpty, "\(line): \(error)")
                XCTAssertTrue(error.description.hasPrefix("x.jsonl:2: ") && error.description.contains(mention), "\(line): \(error)")
            } catch {
                XCTFail("\(error)")
            }
        }
        XCTAssertThrowsError(try parse(#"{"embedding": [1, 2, 3]}"#, requireIdentity: true)) { error in
            XCTAssertTrue("\(error)".contains("x.jsonl:1: no \"identity\" string"), "\(error)")
        }
    }
}
