import ArgumentParser
import FaceNetKit
import Foundation

extension JSON {
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
