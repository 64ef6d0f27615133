import Dispatch
import FaceNetKernels
import Foundation

/// JSON lines of embeddings, as `facenet embed --json` writes them and `gallery import` /
/// `find --embeddings` read them: one object per line with `embedding` (an array of
/// numbers) and optionally `identity` and `file` (strings); other fields are skipped. The
/// whole file is checked before anything is used: a bad line is an error naming its number.
///
/// A scanner of its own, not `JSONSerialization`: 100,000 lines of 512 numbers parse in
/// seconds, not minutes (Docs/search.md). It follows RFC 8259's grammar (a number is
/// checked before `strtod` converts it, so `nan`, `inf` and hex are refused).
package enum EmbeddingLines {
    package struct Line: Sendable, Equatable {
        package var identity: String?
        package var file: String?
        package var embedding: [Float]
    }

    /// Reads `path`; every embedding must have `dimension` finite values, not all zero;
    /// `requireIdentity`: every line needs a non-empty `identity`.
    package static func read(_ path: String, dimension: Int, requireIdentity: Bool, threads: Int = 2) throws -> [Line] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw FaceNetError.noSuchFile(path, advice: "give a JSON lines file, one {\"identity\", \"embedding\"} object per line")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        let lines = try parse(data, dimension: dimension, requireIdentity: requireIdentity, threads: threads, source: path)
        guard !lines.isEmpty else { throw FaceNetError.invalidArgument("\(path): no JSON lines in it") }
        return lines
    }

    /// Parses `data` in `threads` chunks cut at newlines; the first bad line (by number)
    /// is the error. `source` names the file in messages.
    package static func parse(_ data: Data, dimension: Int, requireIdentity: Bool, threads: Int = 2,
                              source: String) throws -> [Line] {
        let bytes = [UInt8](data)
        // Chunk starts: line starts near equal shares of the bytes.
        var starts = [0]
        for part in 1..<max(1, threads) {
            var cut = bytes.count * part / threads
            while cut < bytes.count, bytes[cut - 1] != UInt8(ascii: "\n") { cut += 1 }
            if cut > starts[starts.count - 1], cut < bytes.count { starts.append(cut) }
        }
        let bounds = zip(starts, starts.dropFirst() + [bytes.count]).map { $0..<$1 }
        // Each chunk's first line number.
        var lineNumbers = [1]
        for range in bounds.dropLast() { lineNumbers.append(lineNumbers[lineNumbers.count - 1] + bytes[range].lazy.filter { $0 == 10 }.count) }
        let firstLine = lineNumbers
        let results = LockedValue([Result<[Line], FaceNetError>?](repeating: nil, count: bounds.count))
        DispatchQueue.concurrentPerform(iterations: bounds.count) { chunk in
            let result: Result<[Line], FaceNetError>
            do {
                result = .success(try parseChunk(bytes, bounds[chunk], firstLine: firstLine[chunk], dimension: dimension,
                                                 requireIdentity: requireIdentity, source: source))
            } catch let error as FaceNetError {
                result = .failure(error)
            } catch {
                result = .failure(.invalidArgument("\(source): \(error)"))
            }
            results.withLock { $0[chunk] = result }
        }
        var lines: [Line] = []
        for result in results.withLock({ $0 }) {
            guard let result else { throw internalFault("EmbeddingLines: a chunk was not parsed") }
            lines += try result.get()  // chunks are in order: the first failure is the first bad line
        }
        return lines
    }

    private static func parseChunk(_ bytes: [UInt8], _ range: Range<Int>, firstLine: Int, dimension: Int, requireIdentity: Bool,
                                   source: String) throws -> [Line] {
        var lines: [Line] = []
        var number = firstLine
        var start = range.lowerBound
        var scratch = [UInt8]()
        while start < range.upperBound {
            var end = start
            while end < range.upperBound, bytes[end] != 10 { end += 1 }
            defer {
                start = end + 1
                number += 1
            }
            guard bytes[start..<end].contains(where: { $0 != 32 && $0 != 9 && $0 != 13 }) else { continue }
            // A copy ending in NUL, so strtod stops inside it.
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: bytes[start..<end])
            scratch.append(0)
            var parser = LineParser(bytes: scratch, dimension: dimension)
            do {
                let line = try parser.parseLine()
                if requireIdentity, line.identity?.isEmpty ?? true { throw LineParser.Failure("no \"identity\" string") }
                lines.append(line)
            } catch let failure as LineParser.Failure {
                throw FaceNetError.invalidArgument("\(source):\(number): \(failure.reason)")
            }
        }
        return lines
    }
}

/// One line's scanner. `bytes` ends with a NUL that is not part of the line.
private struct LineParser {
    struct Failure: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    let bytes: [UInt8]
    let dimension: Int
    var i = 0

    init(bytes: [UInt8], dimension: Int) {
        self.bytes = bytes
        self.dimension = dimension
    }

    private var end: Int { bytes.count - 1 }

    mutating func parseLine() throws -> EmbeddingLines.Line {
        skipSpace()
        guard peek == UInt8(ascii: "{") else { throw Failure("not a JSON object") }
        i += 1
        var identity: String?, file: String?, embedding: [Float]?
        skipSpace()
        if peek == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipSpace()
                let key = try parseString()
                skipSpace()
                try expect(":")
                skipSpace()
                switch key {
                case "embedding": embedding = try parseEmbedding()
                case "identity": identity = try parseStringOrNull()
                case "file": file = try parseStringOrNull()
                default: try skipValue(depth: 0)
                }
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                try expect("}")
                break
            }
        }
        skipSpace()
        guard i == end else { throw Failure("not a JSON object (text after its end)") }
        guard let embedding else { throw Failure("no \"embedding\" array") }
        return EmbeddingLines.Line(identity: identity, file: file, embedding: embedding)
    }

    private var peek: UInt8 { bytes[i] }  // the NUL at `end` stops every scan

    private mutating func skipSpace() {
        while i < end, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 13 { i += 1 }
    }

    private mutating func expect(_ character: Unicode.Scalar) throws {
        guard i < end, peek == UInt8(ascii: character) else { throw Failure("not a JSON object (expected '\(character)')") }
        i += 1
    }

    private mutating func parseEmbedding() throws -> [Float] {
        guard peek == UInt8(ascii: "[") else { throw Failure("no \"embedding\" array") }
        i += 1
        var values: [Float] = []
        values.reserveCapacity(dimension)
        skipSpace()
        if peek == UInt8(ascii: "]") {
            i += 1
        } else {
            while true {
                skipSpace()
                values.append(try parseNumber())
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                guard peek == UInt8(ascii: "]") else { throw Failure("the embedding holds a non-number") }
                i += 1
                break
            }
        }
        guard values.count == dimension else {
            throw Failure("the embedding has \(values.count) values; the gallery holds \(dimension)-d embeddings")
        }
        guard values.allSatisfy(\.isFinite), values.contains(where: { $0 != 0 }) else {
            throw Failure("the embedding holds a value out of float range, or only zeros")
        }
        return values
    }

    /// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, checked while
    /// its digits are gathered, then converted: by `DecimalFloat.fastFloat` when it can give
    /// `Float(strtod(text))` exactly (most embedding values), else by `strtod` (which stops
    /// where the grammar did).
    private mutating func parseNumber() throws -> Float {
        let start = i
        var decimal = DecimalFloat()
        if peek == UInt8(ascii: "-") {
            decimal.negative = true
            i += 1
        }
        guard i < end, (48...57).contains(peek) else { throw Failure("the embedding holds a non-number") }
        if peek == 48 {
            i += 1
        } else {
            while i < end, (48...57).contains(bytes[i]) {
                decimal.addIntegerDigit(bytes[i] &- 48)
                i += 1
            }
        }
        if peek == UInt8(ascii: ".") {
            i += 1
            let from = i
            while i < end, (48...57).contains(bytes[i]) {
                decimal.addFractionDigit(bytes[i] &- 48)
                i += 1
            }
            guard i > from else { throw Failure("the embedding holds a malformed number") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            i += 1
            var negativeExponent = false
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") {
                negativeExponent = peek == UInt8(ascii: "-")
                i += 1
            }
            let from = i
            var exponent = 0
            while i < end, (48...57).contains(bytes[i]) {
                exponent = min(exponent * 10 + Int(bytes[i] &- 48), 100_000)
                i += 1
            }
            guard i > from else { throw Failure("the embedding holds a malformed number") }
            decimal.exponent += negativeExponent ? -exponent : exponent
        }
        if let fast = decimal.fastFloat { return fast }
        let length = i - start
        let value = bytes.withUnsafeBufferPointer { buffer -> Double in
            guard let base = buffer.baseAddress else { return .nan }
            return UnsafeRawPointer(base + start).withMemoryRebound(to: CChar.self, capacity: length + 1) { strtod($0, nil) }
        }
        return Float(value)
    }

    private mutating func parseStringOrNull() throws -> String? {
        if bytes[i...].starts(with: Array("null".utf8)) {
            i += 4
            return nil
        }
        return try parseString()
    }

    private mutating func parseString() throws -> String {
        guard i < end, peek == UInt8(ascii: "\"") else { throw Failure("not a JSON object (expected a string)") }
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < end else { throw Failure("not a JSON object (a string does not end)") }
            let byte = bytes[i]
            i += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: out, as: UTF8.self) else { throw Failure("a string is not valid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                guard i < end else { throw Failure("not a JSON object (a string does not end)") }
                let escape = bytes[i]
                i += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard bytes[i...].starts(with: Array("\\u".utf8)) else { throw Failure("a string holds a lone surrogate") }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw Failure("a string holds a lone surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw Failure("a string holds a lone surrogate") }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw Failure("a string holds an unknown escape")
                }
            default:
                guard byte >= 0x20 else { throw Failure("a string holds a control character") }
                out.append(byte)
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= end else { throw Failure("a string holds a short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[i]
            i += 1
            let digit: UInt8
            switch byte {
            case 48...57: digit = byte - 48
            case 65...70: digit = byte - 55
            case 97...102: digit = byte - 87
            default: throw Failure("a string holds a bad \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Skips any JSON value (fields other than the three read), nested at most 64 deep.
    private mutating func skipValue(depth: Int) throws {
        guard depth < 64 else { throw Failure("not a JSON object (nested too deep)") }
        skipSpace()
        guard i < end else { throw Failure("not a JSON object (a value is missing)") }
        switch peek {
        case UInt8(ascii: "\""): _ = try parseString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = peek == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = close == UInt8(ascii: "}")
            i += 1
            skipSpace()
            if peek == close { i += 1; return }
            while true {
                skipSpace()
                if isObject {
                    _ = try parseString()
                    skipSpace()
                    try expect(":")
                }
                try skipValue(depth: depth + 1)
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                guard peek == close else { throw Failure("not a JSON object (a list does not end)") }
                i += 1
                return
            }
        case UInt8(ascii: "-"), 48...57: _ = try parseNumber()
        default:
            for word in ["true", "false", "null"] where bytes[i...].starts(with: Array(word.utf8)) {
                i += word.utf8.count
                return
            }
            throw Failure("not a JSON object (an unknown value)")
        }
    }
}

/// A decimal number's digits as they are read: up to 19 significant digits in a UInt64 and
/// a power of ten.
struct DecimalFloat {
    var negative = false
    var significand: UInt64 = 0
    var significantDigits = 0
    var exponent = 0
    /// More than 19 significant digits: only `strtod` converts it exactly.
    var tooLong = false

    mutating func addIntegerDigit(_ digit: UInt8) {
        if significantDigits < 19 {
            significand = significand &* 10 &+ UInt64(digit)
            if significand != 0 { significantDigits += 1 }
        } else {
            tooLong = true
        }
    }

    mutating func addFractionDigit(_ digit: UInt8) {
        addIntegerDigit(digit)
        exponent -= 1
    }

    /// Exact powers of ten in Double (10^22 is the largest).
    private static let powers: [Double] = (0...22).map { k in (0..<k).reduce(1.0) { acc, _ in acc * 10 } }

    /// `Float(strtod(text))`, computed without `strtod`, or nil when that cannot be promised.
    ///
    /// `Double(significand)` and one multiplication or division by an exact power of ten
    /// round twice, so the Double is within 2 ulps of the exact value (`strtod`'s Double is
    /// within ½). Both round to the same Float unless the exact value lies near a Float
    /// rounding midpoint: the 29 bits a Float drops are then near 2^28, and this declines
    /// (`strtod` decides). Away from a midpoint every Double within a few ulps of the value
    /// rounds to one Float, so the answer equals strtod's.
    var fastFloat: Float? {
        if tooLong { return nil }
        if significand == 0 { return negative ? -0.0 : 0.0 }
        guard (-22...22).contains(exponent) else { return nil }
        var value = Double(significand)
        value = exponent < 0 ? value / Self.powers[-exponent] : value * Self.powers[exponent]
        let dropped = value.bitPattern & 0x1FFF_FFFF  // the 29 fraction bits below a Float's 23
        let midpoint: UInt64 = 1 << 28
        if (dropped > midpoint ? dropped - midpoint : midpoint - dropped) <= 16 { return nil }
        // Outside the normal Float range the dropped bits differ: leave those to strtod too.
        guard value >= Double(Float.leastNormalMagnitude), value <= Double(Float.greatestFiniteMagnitude) else { return nil }
        return negative ? -Float(value) : Float(value)
    }
}
