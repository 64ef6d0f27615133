import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the model on a raw float32 tensor and write one layer's output as raw float32.")

    @OptionGroup var model: ModelFiles

    @OptionGroup var engine: EngineFlags

    @Option(help: "Input tensor: raw little-endian float32, NHWC.")
    var input: String

    @Option(help: "Input shape, e.g. 1,160,160,3.")
    var shape: String

    @Option(help: "Where to write the output (raw little-endian float32).")
    var output: String

    @Option(help: "Layer whose output to write (default: the model's first output).")
    var layer: String?

    /// `--json`: one object, `{"layer", "shape", "output"}`.
    @OptionGroup var jsonOutput: OutputOptions

    func run() throws {
        let loaded = try model.load(options: try engine.engineOptions())
        let name = layer ?? loaded.topology.outputNames[0]
        guard loaded.topology.layer(named: name) != nil else {
            throw FaceNetError.invalidArgument("--layer \(name): no layer of that name in the model"
                                               + Self.suggestion(for: name, among: loaded.topology.layers.map(\.name)))
        }
        let tensor = try readFloat32File(input, shape: try parseShape(shape))
        let result = try loaded.predict(tensor, outputs: [name])
        guard let y = result[name] else { throw FaceNetError.unknownLayer(name: name) }
        try writeFloat32File(y, to: output)
        jsonOutput.text("\(name): shape \(y.shape) written to \(output)")
        jsonOutput.emit(.object([("layer", .string(name)), ("shape", .array(y.shape.map(JSON.int))), ("output", .string(output))]))
    }

    /// "; did you mean 'Bottleneck'?" for the names closest to `name` (edit distance ≤ 3,
    /// containing it, or sharing its first half), then a pointer to `facenet inspect`.
    static func suggestion(for name: String, among names: [String]) -> String {
        let lowered = name.lowercased()
        func isClose(_ candidate: String, _ distance: Int) -> Bool {
            let shared = zip(lowered, candidate).prefix { $0 == $1 }.count
            return distance <= 3 || candidate.contains(lowered) || shared >= max(4, lowered.count / 2)
        }
        let scored = names.map { ($0, $0.lowercased()) }.map { ($0.0, $0.1, editDistance(lowered, $0.1)) }
        let close = scored.filter { isClose($0.1, $0.2) }.sorted { $0.2 < $1.2 }.prefix(3).map(\.0)
        let list = close.map { "'\($0)'" }.joined(separator: ", ")
        return (close.isEmpty ? "" : "; did you mean \(list)?") + " (`facenet inspect` lists the layers)"
    }

    /// Levenshtein distance.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
