import ArgumentParser
import FaceNetKit
import FaceNetTools

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

    func run() throws {
        let loaded = try model.load(options: try engine.engineOptions())
        let tensor = try readFloat32File(input, shape: try parseShape(shape))
        let name = layer ?? loaded.topology.outputNames[0]
        let result = try loaded.predict(tensor, outputs: [name])
        guard let y = result[name] else { throw FaceNetError.unknownLayer(name: name) }
        try writeFloat32File(y, to: output)
        print("\(name): shape \(y.shape) written to \(output)")
    }
}
