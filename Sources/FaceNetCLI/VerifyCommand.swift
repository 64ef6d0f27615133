import ArgumentParser
import FaceNetKit
import FaceNetTools

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

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let facenet = try face.load()
        let result = try facenet.verify(first, second, metric: metric, threshold: threshold)
        // A photo with several faces: say which one was compared (deepface is silent here).
        var warnings: [String] = []
        for (file, found) in zip([first, second], result.facesFound) where found > 1 {
            warnings.append("\(file): \(found) faces found; compared face \(face.face) (0 is the largest; --face N picks another)")
        }
        for warning in warnings { printError("warning: " + warning) }
        if json {
            let faces = zip([first, second], zip(result.faces, result.facesFound)).map { file, entry in
                let fields = ", \"file\": \(jsonString(file)), \"faces_found\": \(entry.1)"
                return entry.0.map { DetectCommand.faceJSON($0, fields: fields) } ?? "{\"box\": null\(fields)}"
            }
            print("{\"first\": \(jsonString(first)), \"second\": \(jsonString(second)), \"metric\": \(jsonString(metric.rawValue)), "
                  + "\"distance\": \(result.distance), \"threshold\": \(result.threshold), \"verified\": \(result.verified), "
                  + "\"faces\": [\(faces.joined(separator: ", "))], \"warnings\": [\(warnings.map(jsonString).joined(separator: ", "))]}")
        } else {
            let verdict = result.verified ? "same person" : "different people"
            print("\(verdict): \(metric.rawValue) distance \(String(format: "%.4f", result.distance)) "
                  + "\(result.verified ? "≤" : ">") threshold \(String(format: "%.4f", result.threshold))"
                  + (facenet.weightSet.map { " (\($0.rawValue))" } ?? ""))
        }
    }
}
