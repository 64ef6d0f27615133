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
        if json {
            print("{\"first\": \(jsonString(first)), \"second\": \(jsonString(second)), \"metric\": \(jsonString(metric.rawValue)), "
                  + "\"distance\": \(result.distance), \"threshold\": \(result.threshold), \"verified\": \(result.verified)}")
        } else {
            let verdict = result.verified ? "same person" : "different people"
            print("\(verdict): \(metric.rawValue) distance \(String(format: "%.4f", result.distance)) "
                  + "\(result.verified ? "≤" : ">") threshold \(String(format: "%.4f", result.threshold))"
                  + (facenet.weightSet.map { " (\($0.rawValue))" } ?? ""))
        }
    }
}
