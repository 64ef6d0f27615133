// FaceNet-512 end to end and its main layer shapes one by one, for `swift package benchmark`
// (ordo-one/benchmark). Everything goes through FaceNetKit's public API: `Model`,
// `InferenceSession`, `Tensor`, `KerasJSONReader`, `LoadedWeights`, `ModelSummary`.
// See Benchmarks/README.md for what is measured and how to run it.

import Benchmark
import FaceNetKit
import Foundation

// MARK: - What is timed

/// One FaceNet layer shape, timed alone as a one-layer Keras functional model with random
/// weights. Convolutions are FaceNet's conv unit, Conv2D (no bias) → BatchNormalization
/// (no scale) → ReLU, which the engine runs as one step (the BN and ReLU go into the GEMM
/// epilogue), as it does inside the full model.
struct LayerCase {
    enum Kind {
        case conv(kernel: (Int, Int), stride: Int, padding: String, filters: Int)
        case maxPool(size: Int, stride: Int, padding: String)
        case dense(units: Int)
    }

    /// Benchmark name: the step as `facenet bench --layers` names it, and where FaceNet has it.
    let name: String
    /// Per-sample input shape (HWC, or features for Dense).
    let input: [Int]
    let kind: Kind
}

let layerCases: [LayerCase] = [
    LayerCase(name: "conv 3x3/2 160x160x3->32 (stem Conv2d_1a)", input: [160, 160, 3],
              kind: .conv(kernel: (3, 3), stride: 2, padding: "valid", filters: 32)),
    LayerCase(name: "conv 3x3/1 79x79x32->32 (stem Conv2d_2a, Winograd)", input: [79, 79, 32],
              kind: .conv(kernel: (3, 3), stride: 1, padding: "valid", filters: 32)),
    LayerCase(name: "conv 3x3/1 77x77x32->64 (stem Conv2d_2b, Winograd)", input: [77, 77, 32],
              kind: .conv(kernel: (3, 3), stride: 1, padding: "same", filters: 64)),
    LayerCase(name: "maxpool 3x3/2 77x77x64 (stem MaxPool_3a)", input: [77, 77, 64],
              kind: .maxPool(size: 3, stride: 2, padding: "valid")),
    LayerCase(name: "conv 3x3/1 38x38x80->192 (stem Conv2d_4a, Winograd)", input: [38, 38, 80],
              kind: .conv(kernel: (3, 3), stride: 1, padding: "valid", filters: 192)),
    LayerCase(name: "conv 1x1/1 17x17x256->32 (Block35 1x1)", input: [17, 17, 256],
              kind: .conv(kernel: (1, 1), stride: 1, padding: "same", filters: 32)),
    LayerCase(name: "conv 3x3/1 17x17x192->192 (Mixed_6a, Winograd at 17x17)", input: [17, 17, 192],
              kind: .conv(kernel: (3, 3), stride: 1, padding: "same", filters: 192)),
    LayerCase(name: "conv 3x3/2 17x17x256->384 (Mixed_6a, im2col)", input: [17, 17, 256],
              kind: .conv(kernel: (3, 3), stride: 2, padding: "valid", filters: 384)),
    LayerCase(name: "conv 1x1/1 8x8x896->128 (Block17 1x1)", input: [8, 8, 896],
              kind: .conv(kernel: (1, 1), stride: 1, padding: "same", filters: 128)),
    LayerCase(name: "conv 1x7/1 8x8x128->128 (Block17 1x7, Winograd F(2,7))", input: [8, 8, 128],
              kind: .conv(kernel: (1, 7), stride: 1, padding: "same", filters: 128)),
    LayerCase(name: "conv 1x1/1 3x3x1792->192 (Block8 1x1)", input: [3, 3, 1792],
              kind: .conv(kernel: (1, 1), stride: 1, padding: "same", filters: 192)),
    LayerCase(name: "conv 1x3/1 3x3x192->192 (Block8 1x3)", input: [3, 3, 192],
              kind: .conv(kernel: (1, 3), stride: 1, padding: "same", filters: 192)),
    LayerCase(name: "dense 1792->512 (Bottleneck)", input: [1792], kind: .dense(units: 512)),
]

let batches = [1, 8]

// MARK: - Metrics

/// Images (samples) per second of each timed pass. Benchmark's own `throughput` counts
/// passes per second, which at batch 8 is an eighth of this.
let imagesPerSecond = BenchmarkMetric.custom("images/s", polarity: .prefersLarger, useScalingFactor: false)
/// Multiply-adds × 2 of the Conv2D / Dense layers (`ModelSummary.flops`) per second, in
/// MFLOP/s: the table holds integers only, so GFLOP/s would lose its decimals.
let megaflopsPerSecond = BenchmarkMetric.custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false)

// MARK: - Models

/// Deterministic random numbers (SplitMix64): every run times the same weights and inputs.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func uniform(_ count: Int, _ range: ClosedRange<Float>, _ rng: inout SplitMix64) -> [Float] {
    (0..<count).map { _ in Float.random(in: range, using: &rng) }
}

/// Random weights for every weight the topology asks for: kernels He-uniform (fan-in from
/// Keras's HWIO / (in, out) shape, so activations keep their scale through ReLU), BatchNorm
/// variances and scales near 1, means, offsets and biases near 0.
func randomWeights(for topology: ModelTopology, seed: UInt64) throws -> LoadedWeights {
    var rng = SplitMix64(seed: seed)
    var tensors: [String: [String: Tensor]] = [:]
    for layer in try topology.weightSpecs() {
        var named: [String: Tensor] = [:]
        for weight in layer.weights {
            let count = weight.shape.reduce(1, *)
            let values: [Float]
            switch weight.name {
            case "kernel":
                let fanIn = max(1, weight.shape.dropLast().reduce(1, *))
                let bound = Float((6.0 / Double(fanIn)).squareRoot())
                values = uniform(count, -bound...bound, &rng)
            case "gamma", "moving_variance":
                values = uniform(count, 0.8...1.2, &rng)
            default:  // beta, moving_mean, bias
                values = uniform(count, -0.1...0.1, &rng)
            }
            named[weight.name] = try Tensor(shape: weight.shape, scalars: values)
        }
        tensors[layer.layerName] = named
    }
    return LoadedWeights(path: "random weights (seed \(seed))", layout: .saveWeights, tensors: tensors)
}

/// The one-layer Keras functional model (Keras 2.2 JSON, as `Weights/facenet512.json`).
func topology(of layerCase: LayerCase) throws -> ModelTopology {
    var layers: [[String: Any]] = [[
        "name": "input", "class_name": "InputLayer", "inbound_nodes": [Any](),
        "config": ["name": "input", "batch_input_shape": [NSNull()] + layerCase.input.map { $0 as Any }, "dtype": "float32"],
    ]]
    var last = "input"
    func add(_ name: String, _ className: String, _ config: [String: Any]) {
        var config = config
        config["name"] = name
        layers.append(["name": name, "class_name": className, "config": config,
                       "inbound_nodes": [[[last, 0, 0, [String: Any]()]]]])
        last = name
    }
    switch layerCase.kind {
    case .conv(let kernel, let stride, let padding, let filters):
        add("conv", "Conv2D", ["filters": filters, "kernel_size": [kernel.0, kernel.1], "strides": [stride, stride],
                               "padding": padding, "use_bias": false, "activation": "linear",
                               "dilation_rate": [1, 1], "data_format": "channels_last"])
        add("conv_BatchNorm", "BatchNormalization", ["axis": 3, "epsilon": 0.001, "center": true, "scale": false])
        add("conv_Activation", "Activation", ["activation": "relu"])
    case .maxPool(let size, let stride, let padding):
        add("pool", "MaxPooling2D", ["pool_size": [size, size], "strides": [stride, stride], "padding": padding,
                                     "data_format": "channels_last"])
    case .dense(let units):
        add("dense", "Dense", ["units": units, "use_bias": false, "activation": "linear"])
    }
    let model: [String: Any] = [
        "class_name": "Model",
        "config": ["name": "one_layer", "layers": layers, "input_layers": [["input", 0, 0]], "output_layers": [[last, 0, 0]]],
    ]
    return try KerasJSONReader.parse(try JSONSerialization.data(withJSONObject: model), source: "benchmark '\(layerCase.name)'")
}

/// This repository's root (Benchmarks/FaceNetBenchmarks/ → ../..).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The real CASIA FaceNet-512 files, unless `FACENET_BENCH_WEIGHTS=random`: where the
/// `facenet512-casia` preset finds them (`$FACENET_WEIGHTS_DIR`, `~/.facenet/weights`,
/// the root package's `Weights/`), else `../shared/models/` beside the repository (as
/// `Benchmarks/engine.sh`).
func casiaFiles() -> (topology: String, weights: String)? {
    if ProcessInfo.processInfo.environment["FACENET_BENCH_WEIGHTS"] == "random" { return nil }
    if let files = try? Preset.facenet512Casia.locateFiles() { return files }
    let topology = repositoryRoot.appendingPathComponent("Weights/facenet512.json").path
    let weights = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/models/facenet512_casia.h5").path
    let files = FileManager.default
    return files.isReadableFile(atPath: topology) && files.isReadableFile(atPath: weights) ? (topology, weights) : nil
}

/// FaceNet-512 with the real weights when present, else `Weights/facenet512.json` (the same
/// topology) with random weights: the same shapes and FLOPs, so the same time per image.
func faceNet512() throws -> Model {
    if let files = casiaFiles() {
        return try Model.load(weightsPath: files.weights, topologyPath: files.topology, verification: .off)
    }
    let topology = try KerasJSONReader.read(path: repositoryRoot.appendingPathComponent("Weights/facenet512.json").path)
    return try Model(topology: topology, weights: try randomWeights(for: topology, seed: 512))
}

// MARK: - Running

/// A session on one model at one batch size, its input, and the passes it timed.
final class Runner {
    let label: String
    let session: InferenceSession
    let inputs: [String: Tensor]
    var outputs: [String: Tensor] = [:]
    let batch: Int
    /// FLOPs of one pass (all images), from `ModelSummary`; 0 when the layer has none (pooling).
    let flopsPerPass: Int
    var nanoseconds: [UInt64] = []

    init(label: String, model: Model, batch: Int, seed: UInt64) throws {
        self.label = label
        self.batch = batch
        let inputName = model.topology.inputNames[0]
        let sample = try model.outputShape(of: inputName).map { $0 ?? 0 }
        let shape = [batch] + sample
        var rng = SplitMix64(seed: seed)
        let input = try Tensor(shape: shape, scalars: uniform(shape.reduce(1, *), -1...1, &rng))
        inputs = [inputName: input]
        session = try InferenceSession(model: model, inputShapes: [inputName: shape], outputs: model.topology.outputNames)
        flopsPerPass = try ModelSummary(topology: model.topology, sampleShape: sample).flops * batch
        try session.run(inputs, into: &outputs)  // first touch of every buffer, worker threads started
        for (name, tensor) in outputs where !tensor.scalars.allSatisfy(\.isFinite) {
            throw FaceNetError.invalidArgument("\(label): output \(name) is not finite")
        }
    }

    /// One timed pass, with its images/s and MFLOP/s for the benchmark's custom metrics.
    func pass(_ benchmark: Benchmark) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        try session.run(inputs, into: &outputs)
        let elapsed = max(1, DispatchTime.now().uptimeNanoseconds - start)
        benchmark.measurement(imagesPerSecond, Int((Double(batch) * 1e9 / Double(elapsed)).rounded()))
        if flopsPerPass > 0 {
            benchmark.measurement(megaflopsPerSecond, Int((Double(flopsPerPass) * 1e3 / Double(elapsed)).rounded()))
        }
        if benchmark.currentIteration >= benchmark.configuration.warmupIterations { nanoseconds.append(elapsed) }
    }

    /// The median pass with decimals, on stderr (the table's custom metrics are integers).
    func report() {
        guard !nanoseconds.isEmpty else { return }
        let median = Double(nanoseconds.sorted()[nanoseconds.count / 2])
        var line = "FaceNetBenchmarks: \(label): median \(String(format: "%.3f", median / 1e6)) ms/pass, "
            + "\(String(format: "%.3f", median / 1e6 / Double(batch))) ms/image, "
            + "\(String(format: "%.1f", Double(batch) * 1e9 / median)) images/s"
        if flopsPerPass > 0 { line += ", \(String(format: "%.1f", Double(flopsPerPass) / median)) GFLOP/s" }
        line += " over \(nanoseconds.count) passes; \(session.stepKinds.count) step(s): "
            + session.stepKinds.prefix(3).joined(separator: "; ") + (session.stepKinds.count > 3 ? "; …" : "")
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Holds a benchmark's runner from its setup to its teardown.
final class RunnerBox: @unchecked Sendable {
    var runner: Runner?
}

func register(_ name: String, tags: [String: String], configuration: Benchmark.Configuration,
              makeRunner: @escaping @Sendable () throws -> Runner) {
    var configuration = configuration
    configuration.tags = tags
    let box = RunnerBox()
    Benchmark(name, configuration: configuration) { benchmark, runner in
        try runner.pass(benchmark)
    } setup: {
        let runner = try makeRunner()
        box.runner = runner
        return runner
    } teardown: {
        box.runner?.report()
        box.runner = nil
    }
}

// MARK: - The benchmarks

let benchmarks: @Sendable () -> Void = {
    // About 75 s for the whole suite on 2 cores (Benchmarks/README.md): each benchmark runs in
    // its own process, for at most its duration or its iterations, whichever comes first.
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, imagesPerSecond, megaflopsPerSecond]
    // Rates as plain integers: the table's automatic K/M scaling would drop their last digits.
    Benchmark.defaultConfiguration.units = [.throughput: .count, imagesPerSecond: .count, megaflopsPerSecond: .count]

    let weights = casiaFiles() == nil ? "random" : "casia"
    for batch in batches {
        register("e2e FaceNet-512 160x160x3", tags: ["batch": "\(batch)", "weights": weights],
                 configuration: .init(metrics: metrics, timeUnits: .milliseconds, warmupIterations: 2,
                                      maxDuration: .seconds(batch == 1 ? 5 : 8), maxIterations: batch == 1 ? 150 : 40)) {
            try Runner(label: "e2e FaceNet-512 batch \(batch) (\(weights) weights)", model: try faceNet512(),
                       batch: batch, seed: 20_240_611)
        }
    }

    for (index, layerCase) in layerCases.enumerated() {
        let layerMetrics = metrics.filter {
            if case .maxPool = layerCase.kind { return $0 != megaflopsPerSecond }
            return true
        }
        for batch in batches {
            register("layer \(layerCase.name)", tags: ["batch": "\(batch)"],
                     configuration: .init(metrics: layerMetrics, timeUnits: .microseconds, warmupIterations: 5,
                                          maxDuration: .milliseconds(1500), maxIterations: 2000)) {
                let topology = try topology(of: layerCase)
                let model = try Model(topology: topology, weights: try randomWeights(for: topology, seed: UInt64(index + 1)))
                return try Runner(label: "layer \(layerCase.name) batch \(batch)", model: model, batch: batch,
                                  seed: UInt64(100 + index))
            }
        }
    }
}
