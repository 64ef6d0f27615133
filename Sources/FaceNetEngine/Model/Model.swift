import Foundation
import FaceNetKernels

/// A Keras functional model ready to run: topology plus weights, checked and repacked.
/// Immutable and `Sendable`: share one across threads; each thread runs it through its
/// own `InferenceSession` (which owns the activation buffers).
public struct Model: Sendable {
    public let topology: ModelTopology
    /// Where the weights came from, and in which layout.
    public let weightsSource: String
    public let weightsLayout: KerasWeightsLayout
    /// What the check against the manifest of known weights found (`Model.load` only).
    public private(set) var weightsCheck: WeightsCheck = .notChecked
    /// The options the weights were packed with (`gemm`, `winograd`), and the defaults for
    /// the rest of what its sessions do (`InferenceSession` takes them unless given others).
    public let options: EngineOptions
    package let ops: [BoundOp]
    /// Pointwise convs that share their input and fit one GEMM panel together.
    let siblingGroups: [SiblingGroup]
    let symbolicShapes: [String: SymbolicShape]

    /// Binds a topology to weights already read and checked against it. Pass the weights
    /// with `consume` when nothing else needs them: each layer's tensors are then freed as
    /// soon as they are repacked, so the weights are never held twice. `options.gemm` and
    /// `options.winograd` decide how the weights are packed; the rest become the defaults of
    /// this model's sessions.
    public init(topology: ModelTopology, weights: consuming LoadedWeights, options: EngineOptions = .default) throws {
        try options.validate()
        let shapes = try topology.symbolicShapes()
        let path = weights.path, layout = weights.layout
        var tensors = weights.tensors
        weights = LoadedWeights(path: path, layout: layout, tensors: [:])
        // Each layer's weights move into its slot; the layers are bound (repacked, Winograd-
        // transformed) in parallel, each slot's tensors freed as soon as its op is made.
        let layers = topology.layers
        let slots = BindingSlots(layers.map { tensors.removeValue(forKey: $0.name) ?? [:] })
        let workers = min(layers.count, options.resolvedThreads)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < layers.count {
                let layer = layers[index]
                slots.bind(index) {
                    try BoundOp(layer: layer, weights: $0, inputShapes: layer.inputs.map { shapes[$0] ?? [] }, source: path,
                                gemm: options.gemm, winograd: options.winograd)
                }
                index += workers
            }
        }
        self.topology = topology
        self.options = options
        self.ops = try slots.ops()
        self.siblingGroups = try SiblingGroup.find(layers: layers, ops: self.ops)
        self.symbolicShapes = shapes
        self.weightsSource = path
        self.weightsLayout = layout
        self.parameterCount = try topology.weightSpecs().reduce(0) { total, layer in
            total + layer.weights.reduce(0) { $0 + $1.shape.reduce(1, *) }
        }
    }

    /// Loads a model from a weights file and an optional topology JSON. Without a topology,
    /// the weights file must be a Keras-2 full-model file, whose `model_config` holds it.
    /// `isolation: .childProcess` reads an untrusted weights file in a helper process (see
    /// `WeightsIsolation`). `verification` recognises known weights by their layers and
    /// shapes and checks their tensor digest (see `WeightsVerification`, `weightsCheck`).
    /// `options`: how the weights are packed and the model's sessions run (`EngineOptions`).
    public static func load(weightsPath: String, topologyPath: String? = nil,
                            isolation: WeightsIsolation = .inProcess,
                            verification: WeightsVerification = .warn,
                            options: EngineOptions = .default) throws -> Model {
        try options.validate()
        let topology: ModelTopology
        if let topologyPath {
            topology = try KerasJSONReader.read(path: topologyPath)
        } else {
            guard let json = try KerasWeightsReader.modelConfigJSON(path: weightsPath, isolation: isolation) else {
                throw FaceNetError.invalidWeights(path: weightsPath, layer: nil,
                    reason: "the file holds weights only (no 'model_config' attribute); pass the topology JSON too")
            }
            topology = try KerasJSONReader.parse(Data(json.utf8), source: "\(weightsPath) (model_config)")
        }
        return try load(weightsPath: weightsPath, topology: topology, isolation: isolation, verification: verification,
                        options: options)
    }

    /// Loads a model from a weights file and a topology already read (e.g. a preset's
    /// built-in one, `Preset.topology()`). The rest as `load(weightsPath:topologyPath:…)`.
    public static func load(weightsPath: String, topology: ModelTopology,
                            isolation: WeightsIsolation = .inProcess,
                            verification: WeightsVerification = .warn,
                            options: EngineOptions = .default) throws -> Model {
        try options.validate()
        let before = verification.policy == .off ? nil : FileIdentity(path: weightsPath)
        let weights = try KerasWeightsReader.load(path: weightsPath, specs: try topology.weightSpecs(), isolation: isolation)
        let check = try WeightsChecker.check(weights, before: before, verification: verification)
        var model = try Model(topology: topology, weights: consume weights, options: options)
        model.weightsCheck = check
        return model
    }

    /// Loads one of the models compiled into the library (`BundledModelFile`: MTCNN's
    /// nets), as `load(weightsPath:topologyPath:…)` does from files.
    package static func load(bundledWeights weightsFile: BundledModelFile, topology topologyFile: BundledModelFile,
                             verification: WeightsVerification = .warn,
                             options: EngineOptions = .default) throws -> Model {
        try options.validate()
        let topology = try topologyFile.topology()
        let weights = try KerasWeightsReader.load(bundled: weightsFile, specs: try topology.weightSpecs())
        let check = try WeightsChecker.check(weights, before: nil, verification: verification)
        var model = try Model(topology: topology, weights: consume weights, options: options)
        model.weightsCheck = check
        return model
    }

    /// Per-sample output shape of a layer (`nil` where it depends on the input size).
    public func outputShape(of layer: String) throws -> SymbolicShape {
        guard let shape = symbolicShapes[layer] else { throw FaceNetError.unknownLayer(name: layer) }
        return shape
    }

    /// Number of weights, as Keras counts parameters (BatchNormalization statistics included).
    public let parameterCount: Int

    /// Runs the model once and returns the outputs of the named layers (default: the
    /// model's outputs). For repeated calls, make an `InferenceSession` and reuse it.
    public func predict(_ input: Tensor, outputs: [String]? = nil) throws -> [String: Tensor] {
        guard topology.inputNames.count == 1, let inputName = topology.inputNames.first else {
            throw FaceNetError.invalidArgument("the model has \(topology.inputNames.count) inputs; use predict(inputs:)")
        }
        return try predict(inputs: [inputName: input], outputs: outputs)
    }

    /// Runs the model on named inputs.
    public func predict(inputs: [String: Tensor], outputs: [String]? = nil) throws -> [String: Tensor] {
        let names = outputs ?? topology.outputNames
        let session = try InferenceSession(model: self, inputShapes: inputs.mapValues(\.shape), outputs: names)
        return try session.run(inputs)
    }
}

/// Per layer: its loaded weights until bound, then the op or the error. Each index is
/// touched by one thread only (`Model.init` deals indices out), so no lock is needed.
private final class BindingSlots: @unchecked Sendable {
    private let weights: UnsafeMutablePointer<[String: Tensor]>
    private let results: UnsafeMutablePointer<Result<BoundOp, Error>?>
    private let count: Int

    package init(_ loaded: [[String: Tensor]]) {
        count = loaded.count
        weights = .allocate(capacity: max(count, 1))
        weights.initialize(from: loaded, count: count)
        results = .allocate(capacity: max(count, 1))
        results.initialize(repeating: nil, count: max(count, 1))
    }

    deinit {
        weights.deinitialize(count: count)
        weights.deallocate()
        results.deinitialize(count: max(count, 1))
        results.deallocate()
    }

    func bind(_ index: Int, _ make: ([String: Tensor]) throws -> BoundOp) {
        let layerWeights = weights[index]
        weights[index] = [:]
        results[index] = Result { try make(layerWeights) }
    }

    /// The ops in layer order, or the first layer's error.
    package func ops() throws -> [BoundOp] {
        try (0..<count).map { index in
            guard let result = results[index] else {
                throw FaceNetError.invalidArgument("layer \(index) was not bound")
            }
            return try result.get()
        }
    }
}
