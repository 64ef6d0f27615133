import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a model's layers with output shapes, parameters and FLOPs.")

    @Option(help: "Keras functional-model JSON.")
    var topology: String?

    @Option(help: "Keras HDF5 weights; checked against the topology when given.")
    var weights: String?

    @Option(help: "Per-sample input shape H,W,C for models that accept any size (for FLOPs).")
    var inputShape: String?

    @Flag(help: "Print only the totals.")
    var summary = false

    @Flag(help: "Also print the weights' structure fingerprint and tensor digest (hashes every tensor).")
    var digest = false

    @OptionGroup var check: WeightsCheckOptions

    func run() throws {
        let topology: ModelTopology
        var model: Model?
        if let weights {
            let m = try Model.load(weightsPath: weights, topologyPath: self.topology, verification: check.verification)
            model = m
            topology = m.topology
        } else if let path = self.topology {
            topology = try KerasJSONReader.read(path: path)
        } else {
            throw ValidationError("give --topology, --weights, or both")
        }
        let info = try ModelSummary(topology: topology, sampleShape: try inputShape.map(parseShape))
        if !summary {
            for row in info.rows {
                print("\(row.name)  \(row.className)  \(row.outputShape)  params \(row.parameters)  flops \(row.flops)  <- \(row.inputs.joined(separator: ", "))")
            }
        }
        print("model '\(topology.name)' (\(topology.dialect.rawValue) JSON): \(topology.layers.count) layers, "
              + "inputs \(topology.inputNames), outputs \(topology.outputNames)")
        print("parameters: \(info.parameters)")
        print("FLOPs per sample: \(info.flops) (\(String(format: "%.3f", Double(info.flops) / 1e9)) GFLOP, 2 per multiply-add, Conv2D and Dense)")
        if let model {
            print("weights: \(model.weightsSource) (\(model.weightsLayout.rawValue)), all \(model.parameterCount) checked against the topology")
            print(model.weightsCheck.summary)
        }
        if digest, let weights {
            let tensors = try KerasWeightsReader.load(path: weights, specs: try topology.weightSpecs()).tensors
            print("structure fingerprint: \(WeightsDigest.structure(of: tensors))")
            print("tensor digest: \(WeightsDigest.digest(of: tensors))")
        }
    }
}
