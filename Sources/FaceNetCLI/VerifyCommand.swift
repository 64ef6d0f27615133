import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Decide whether two face images show the same person (distance ≤ threshold).")

    @Argument(help: "First image.")
    var first: String

    @Argument(help: "Second image.")
    var second: String

    @OptionGroup var face: FaceOptions

    @Option(help: "Distance: \(DistanceMetric.allCases.map(\.rawValue).joined(separator: ", ")).")
    var metric: DistanceMetric = .euclideanL2

    @Option(help: "Threshold (default: the weight set's value for the metric).")
    var threshold: Double?

    @OptionGroup var output: OutputOptions

    func run() throws {
        let facenet = try face.load()
        let clock = ContinuousClock()
        let start = clock.now
        let result = try facenet.verify(first, second, metric: metric, threshold: threshold)
        let elapsed = clock.now - start
        // A photo with several faces: say which one was compared (deepface is silent here).
        var warnings: [String] = []
        for (file, found) in zip([first, second], result.facesFound) where found > 1 {
            warnings.append("\(file): \(found) faces found; compared face \(face.face) (0 is the largest; --face N picks another)")
        }
        for warning in warnings { printError("warning: " + warning) }
        if output.json {
            let faces = zip([first, second], zip(result.faces, result.facesFound)).map { file, entry in
                faceJSON(entry.0, extra: [("file", .string(file)), ("faces_found", .int(entry.1))])
            }
            output.emit(.object([
                ("first", .string(first)), ("second", .string(second)), ("metric", .string(metric.rawValue)),
                ("distance", .double(result.distance)), ("threshold", .double(result.threshold)), ("verified", .bool(result.verified)),
                ("model", .string(face.modelFiles.name)), ("seconds", .double(elapsed.seconds)),
                ("faces", .array(faces)), ("warnings", .array(warnings.map(JSON.string))),
            ]))
        } else {
            let verdict = result.verified ? "same person" : "different people"
            print("\(verdict): \(metric.rawValue) distance \(String(format: "%.4f", result.distance)) "
                  + "\(result.verified ? "≤" : ">") threshold \(String(format: "%.4f", result.threshold))"
                  + (facenet.weightSet.map { " (\($0.rawValue))" } ?? ""))
        }
    }
}
