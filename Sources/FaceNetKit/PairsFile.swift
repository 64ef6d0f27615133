import Foundation
import FaceNetKernels
import FaceNetEngine
import FaceNetVision

/// A labelled-pairs CSV as deepface ships it: a header, then `file_x,file_y,Decision`
/// rows with `Yes` (same person) or `No`; CRLF or LF line endings.
public struct PairsFile: Sendable {
    public struct Pair: Sendable, Equatable {
        public let first: String
        public let second: String
        public let samePerson: Bool
    }

    public let path: String
    public let pairs: [Pair]

    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw FaceNetError.noSuchFile(path, advice: "give a pairs CSV with a header and rows file_x,file_y,Decision (Yes/No)")
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw FaceNetError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        var pairs: [Pair] = []
        for (number, raw) in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).enumerated() {
            let cols = raw.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if number == 0, cols.last?.lowercased() == "decision" { continue }
            guard cols.count == 3 else {
                throw FaceNetError.invalidArgument("\(path): line \(number + 1) has \(cols.count) columns; expected file_x,file_y,Decision")
            }
            let label: Bool
            switch cols[2].lowercased() {
            case "yes", "1", "true", "same": label = true
            case "no", "0", "false", "different": label = false
            default:
                throw FaceNetError.invalidArgument("\(path): line \(number + 1): decision '\(cols[2])' is not Yes or No")
            }
            pairs.append(Pair(first: cols[0], second: cols[1], samePerson: label))
        }
        guard !pairs.isEmpty else { throw FaceNetError.invalidArgument("\(path): no pairs") }
        self.path = path
        self.pairs = pairs
    }

    /// A file name without its directory and extension: pairs name photos (`img1.jpg`)
    /// and are matched to any image with the same stem (`img1.png`).
    public static func stem(_ name: String) -> String {
        ((name as NSString).lastPathComponent as NSString).deletingPathExtension
    }
}
