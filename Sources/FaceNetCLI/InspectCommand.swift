import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a model's layers with output shapes, parameters and FLOPs.")

    @Option(help: "Model preset: \(Preset.allCases.map(\.rawValue).joined(separator: ", ")). Default facenet512-casia unless --topology or --weights is given; its weights are loaded and checked when installed.")
    var model: Preset?

    @Option(help: "Keras functional-model JSON (instead of --model).")
    var topology: String?

    @Option(help: "Keras HDF5 weights (instead of --model); checked against the topology.")
    var weights: String?

    @Option(help: "Per-sample input shape H,W,C for models that accept any size (for FLOPs).")
    var inputShape: String?

    @Flag(help: "Print only the totals.")
    var summary = false

    @Flag(help: "Also print the weights' structure fingerprint and tensor digest (hashes every tensor).")
    var digest = false

    @OptionGroup var check: WeightsCheckOptions

    /// `--json`: one object, `{"model", "layers": [...], "parameters", "flops", "weights", …}`.
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if model != nil, topology != nil || weights != nil {
            throw ValidationError("give --model, or --topology and/or --weights, not both (a preset brings its own files)")
        }
        if let inputShape { _ = try parseShape(inputShape) }
    }

    func run() throws {
        let topology: ModelTopology
        var loaded: Model?
        let name: String
        if let weights {
            let m = try Model.load(weightsPath: weights, topologyPath: self.topology, verification: check.verification)
            (loaded, topology, name) = (m, m.topology, weights)
        } else if let path = self.topology {
            (topology, name) = (try KerasJSONReader.read(path: path), path)
        } else {
            let preset = model ?? .facenet512Casia
            (topology, name) = (try preset.topology(), preset.rawValue)
            if (try? preset.locateWeights()) != nil {
                loaded = try preset.loadModel(verification: check.verification)
            } else {
                printError("note: no \(preset.weightsFile) installed: the topology only (`facenet weights list` shows where weights are looked for)")
            }
        }
        if let loaded { check.warnAboutMismatches([loaded]) }
        let info = try ModelSummary(topology: topology, sampleShape: try inputShape.map(parseShape))
        if !summary {
            for row in info.rows {
                output.text("\(row.name)  \(row.className)  \(row.outputShape)  params \(row.parameters)  flops \(row.flops)  <- \(row.inputs.joined(separator: ", "))")
            }
        }
        output.text("model '\(topology.name)' (\(topology.dialect.rawValue) JSON): \(topology.layers.count) layers, "
                   + "inputs \(topology.inputNames), outputs \(topology.outputNames)")
        output.text("parameters: \(info.parameters)")
        output.text("FLOPs per sample: \(info.flops) (\(String(format: "%.3f", Double(info.flops) / 1e9)) GFLOP, 2 per multiply-add, Conv2D and Dense)")
        var fields: [(String, JSON)] = [
            ("model", .string(name)), ("name", .string(topology.name)), ("dialect", .string(topology.dialect.rawValue)),
            ("layer_count", .int(topology.layers.count)), ("inputs", .array(topology.inputNames.map(JSON.string))),
            ("outputs", .array(topology.outputNames.map(JSON.string))), ("parameters", .int(info.parameters)),
            ("flops", .int(info.flops)),
        ]
        if let loaded {
            output.text("weights: \(loaded.weightsSource) (\(loaded.weightsLayout.rawValue)), all \(loaded.parameterCount) checked against the topology")
            output.text(loaded.weightsCheck.summary)
            fields.append(("weights", .object([("path", .string(loaded.weightsSource)), ("layout", .string(loaded.weightsLayout.rawValue)),
                                               ("parameters", .int(loaded.parameterCount)), ("check", weightsCheckJSON(loaded.weightsCheck))])))
        } else {
            fields.append(("weights", .null))
        }
        if digest {
            guard let loaded else {
                throw FaceNetError.invalidArgument("--digest hashes weights: give --weights, or a --model whose weights are installed")
            }
            let tensors = try KerasWeightsReader.load(path: loaded.weightsSource, specs: try topology.weightSpecs()).tensors
            let structure = WeightsDigest.structure(of: tensors), tensorDigest = WeightsDigest.digest(of: tensors)
            output.text("structure fingerprint: \(structure)")
            output.text("tensor digest: \(tensorDigest)")
            fields += [("structure_fingerprint", .string(structure)), ("tensor_digest", .string(tensorDigest))]
        }
        if !summary {
            fields.append(("layers", .array(info.rows.map { row in
                .object([("name", .string(row.name)), ("class", .string(row.className)),
                         ("output_shape", .array(row.outputShape.map(JSON.int))), ("parameters", .int(row.parameters)),
                         ("flops", .int(row.flops)), ("inputs", .array(row.inputs.map(JSON.string)))])
            })))
        }
        output.emit(.object(fields))
    }
}
