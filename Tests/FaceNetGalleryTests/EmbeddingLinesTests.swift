import FaceNetKernels
import FaceNetTestSupport
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

    /// Numbers of every shape an embedding file holds (17-digit and shortest Double text,
    /// shortest Float text, exponents, signs, leading zeros, integers, 20+ digits, and
    /// decimals within a hair of a Float rounding midpoint) convert to exactly
    /// `Float(strtod(text))`, the conversion the fast path stands in for.
    func testNumbersConvertExactlyAsStrtodThenFloat() throws {
        var random = SeededGenerator(seed: 99)
        func uniform() -> Double { Double(random.next() >> 11) * 0x1p-53 }
        var texts: [String] = []
        for n in 0 ..< 120_000 {
            let magnitude = (uniform() - 0.5) * [0.4, 2, 2e-4, 300, 1e-9][n % 5]
            switch n % 8 {
            case 0: texts.append(String(format: "%.17g", magnitude))
            case 1: texts.append("\(magnitude)")
            case 2: texts.append("\(Float(magnitude))")
            case 3: texts.append(String(format: "%.6e", magnitude))
            case 4: texts.append(String(format: "%.20f", magnitude))
            case 5: texts.append(String(Int64(magnitude * 1e6)))
            case 6:
                // The Double halfway between a Float and the next one, and its neighbours.
                let f = Float(magnitude == 0 ? 0.1 : magnitude)
                let middle = (Double(f) + Double(f.nextUp)) / 2
                let step = [0.0, middle.ulp, -middle.ulp, 3 * middle.ulp][n / 8 % 4]
                texts.append(String(format: "%.17g", middle + step))
            default: texts.append(String(format: "%.9g", magnitude))
            }
        }
        let dimension = 60
        var lines: [String] = []
        for start in stride(from: 0, to: texts.count, by: dimension) {
            lines.append("{\"embedding\": [" + texts[start ..< start + dimension].joined(separator: ", ") + ", 1]}")
        }
        let parsed = try parse(lines.joined(separator: "\n"), dimension: dimension + 1)
        var mismatches: [String] = []
        for (line, start) in zip(parsed, stride(from: 0, to: texts.count, by: dimension)) {
            for (value, text) in zip(line.embedding, texts[start ..< start + dimension]) {
                let expected = Float(strtod(text, nil))
                if value.bitPattern != expected.bitPattern { mismatches.append("\(text): \(value) vs \(expected)") }
            }
        }
        XCTAssertEqual(parsed.count, lines.count)
        XCTAssertTrue(mismatches.isEmpty, "\(mismatches.count) of \(texts.count) differ: \(mismatches.prefix(5))")
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
