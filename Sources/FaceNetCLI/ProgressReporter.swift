import ArgumentParser
import Foundation

/// `--quiet` and the hidden `--progress-interval`, shared by the commands that work through
/// many images (`embed`, `calibrate`, `detect`).
struct ProgressOptions: ParsableArguments {
    @Flag(name: [.short, .long], help: "No progress on stderr (errors are still printed).")
    var quiet = false

    @Option(help: ArgumentHelp("Seconds between plain progress lines when stderr is not a terminal (the first after 2 s).",
                               visibility: .hidden))
    var progressInterval: Double = 5

    func validate() throws {
        guard progressInterval >= 0, progressInterval.isFinite else {
            throw ValidationError("--progress-interval must be a number of seconds ≥ 0")
        }
    }

    /// A reporter for `total` items, e.g. `reporter(total: files.count, what: "embedded", unit: "img")`.
    func reporter(total: Int, what: String, unit: String = "img") -> ProgressReporter {
        ProgressReporter(total: total, what: what, unit: unit, quiet: quiet, terminal: isatty(2) != 0,
                         interval: progressInterval)
    }
}

/// Progress of a long run on stderr: on a terminal a bar redrawn in place with the count,
/// the rate and the time left; otherwise (a log, a pipe) a plain line every `interval`
/// seconds once the run has taken 2 s (or, with interval 0, at every update), so short runs
/// stay silent; nothing when `quiet`. Stdout is never touched.
final class ProgressReporter: @unchecked Sendable {  // updated from one thread at a time
    private let total: Int
    private let what: String
    private let unit: String
    private let quiet: Bool
    private let terminal: Bool
    private let interval: Double
    private let start = DispatchTime.now().uptimeNanoseconds
    private var lastLine: Double?
    private var drewBar = false

    init(total: Int, what: String, unit: String, quiet: Bool, terminal: Bool, interval: Double) {
        (self.total, self.what, self.unit, self.quiet, self.terminal, self.interval) = (total, what, unit, quiet, terminal, interval)
    }

    /// `done` of the items are finished.
    func update(_ done: Int) {
        guard !quiet, total > 0 else { return }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if terminal {
            let width = 24
            let filled = min(width, width * done / total)
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            write("\r[\(bar)] " + Self.status(done: done, total: total, elapsed: elapsed, what: what, unit: unit) + "\u{1B}[K")
            drewBar = true
            if done >= total { finish() }
            return
        }
        let due: Bool
        if let lastLine {
            due = elapsed - lastLine >= interval || (done >= total)
        } else {
            due = interval == 0 || elapsed >= min(2, interval)
        }
        guard due else { return }
        lastLine = elapsed
        write(Self.status(done: done, total: total, elapsed: elapsed, what: what, unit: unit) + "\n")
    }

    /// Wipes the bar so other output can take the line (the next update redraws it).
    func clear() {
        if drewBar { write("\r\u{1B}[K") }
        drewBar = false
    }

    /// Ends the bar's line, keeping it (at the end).
    func finish() {
        if drewBar { write("\n") }
        drewBar = false
    }

    /// `embedded 12/40 (30%), 3.1 img/s, 9 s left` (or `, 4.0 s` when done).
    static func status(done: Int, total: Int, elapsed: Double, what: String, unit: String) -> String {
        let percent = total > 0 ? 100 * done / total : 100
        var line = "\(what) \(done)/\(total) (\(percent)%)"
        guard done > 0, elapsed > 0 else { return line }
        let rate = Double(done) / elapsed
        line += String(format: ", %.1f %@/s", rate, unit)
        if done < total {
            line += ", \(Self.duration(Double(total - done) / rate)) left"
        } else {
            line += ", \(Self.duration(elapsed))"
        }
        return line
    }

    private static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.0f s", seconds.rounded(.up)) }
        let whole = Int(seconds.rounded(.up))
        return whole < 3600 ? "\(whole / 60) min \(whole % 60) s" : "\(whole / 3600) h \(whole % 3600 / 60) min"
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
