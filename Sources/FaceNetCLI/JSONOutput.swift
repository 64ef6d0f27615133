import ArgumentParser
import FaceNetKit
import Foundation

/// A JSON value whose object keys keep the order they are written in, so every line reads
/// `file` first and long arrays last (Docs/cli.md). Foundation's `JSONEncoder` orders keys
/// by hash or alphabetically, not as documented.
enum JSON {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case float(Float)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    /// A float array (an embedding): each number as Swift prints it, the shortest text that
    /// reads back to the same `Float`.
    static func floats(_ values: [Float]) -> JSON { .array(values.map(JSON.float)) }

    /// A string or null.
    static func string(_ value: String?) -> JSON { value.map(JSON.string) ?? .null }

    /// `{"code", "message"}` of an error: `FaceNetError.code`, `usage` for a command-line
    /// mistake (`usage`: the error came from parsing the arguments), `error` for anything else.
    static func error(_ error: Error, usage: Bool = false) -> JSON {
        let code: String
        switch error {
        case let error as FaceNetError: code = error.code
        case is ValidationError: code = "usage"
        default: code = usage ? "usage" : "error"
        }
        return .object([("code", .string(code)), ("message", .string(FaceNetCommand.message(for: error)))])
    }

    /// `{"file", "error": {"code", "message"}}`: a failure about one file (`file` from the
    /// error when nil), or `{"error": …}` when no file is concerned.
    static func failure(_ error: Error, file: String? = nil, usage: Bool = false) -> JSON {
        let named = file ?? (error as? FaceNetError)?.path
        return .object((named.map { [("file", JSON.string($0))] } ?? []) + [("error", JSON.error(error, usage: usage))])
    }

    /// One line of compact JSON.
    var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        // JSON has no NaN or infinity: a non-finite number is written as null.
        case .double(let value): out += value.isFinite ? "\(value)" : "null"
        case .float(let value): out += value.isFinite ? "\(value)" : "null"
        case .string(let value): out += jsonString(value)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                item.write(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out += ", " }
                out += jsonString(key) + ": "
                value.write(to: &out)
            }
            out += "}"
        }
    }
}

/// `--json`, taken by every subcommand, and where each kind of output goes: with `--json`
/// stdout carries only JSON lines and human text goes to stderr; without it, human text
/// goes to stdout.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Machine-readable output: only JSON on stdout, one object per line (Docs/cli.md); human text goes to stderr.")
    var json = false

    /// A human-readable report line (timings, what was used): stdout, or stderr under
    /// `--json`.
    func say(_ text: String) {
        if json { printError(text) } else { print(text) }
    }

    /// A human-readable result line: stdout, and nothing under `--json`, whose JSON
    /// carries the same result.
    func text(_ line: String) {
        if !json { print(line) }
    }

    /// A JSON line on stdout (only under `--json`).
    func emit(_ value: JSON) {
        if json { print(value.text) }
    }

    /// A failure about one file: its message on stderr, and under `--json` the line
    /// `{"file", "error": {"code", "message"}}` on stdout.
    func fail(file: String, _ error: Error) {
        printError(fileErrorLine(file, error))
        emit(.failure(error, file: file))
    }
}

/// A face as `detect --json`, `embed --max-faces` and `verify --json` write it:
/// `{"box": [x, y, w, h], "confidence", "landmarks": {"left_eye": [x, y], …}}` + `extra`.
func faceJSON(_ face: DetectedFace?, extra: [(String, JSON)] = []) -> JSON {
    guard let face else { return .object([("box", .null)] + extra) }
    let l = face.landmarks
    func point(_ p: FacePoint) -> JSON { .array([.int(Int(p.x.rounded(.toNearestOrEven))), .int(Int(p.y.rounded(.toNearestOrEven)))]) }
    let box = face.box.roundedXYWH.map(JSON.int)
    let landmarks: JSON = .object([("left_eye", point(l.leftEye)), ("right_eye", point(l.rightEye)), ("nose", point(l.nose)),
                                   ("mouth_left", point(l.mouthLeft)), ("mouth_right", point(l.mouthRight))])
    return .object([("box", .array(box)), ("confidence", .float(face.confidence)), ("landmarks", landmarks)] + extra)
}

/// `{"status": "verified" | "mismatch" | "unknown" | "not_checked", "known", "summary"}`.
func weightsCheckJSON(_ check: WeightsCheck) -> JSON {
    let status: String, known: String?
    switch check {
    case .notChecked: (status, known) = ("not_checked", nil)
    case .unknown: (status, known) = ("unknown", nil)
    case .verified(let weights, _): (status, known) = ("verified", weights.name)
    case .mismatch(let weights, _, _): (status, known) = ("mismatch", weights.name)
    }
    return .object([("status", .string(status)), ("known", .string(known)), ("summary", .string(check.summary))])
}
