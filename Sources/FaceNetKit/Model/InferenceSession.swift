/// A model prepared for one input shape and one set of requested outputs. It plans the
/// layers to run, their buffers (reused by lifetime) and the conv scratch once; `run`
/// then allocates nothing but the returned tensors. Not thread-safe: one per thread.
public final class InferenceSession {
    public let model: Model
    /// Requested layer names, in the order given.
    public let outputNames: [String]
    /// Full shapes (batch first) of the model inputs this session was planned for.
    public let inputShapes: [String: [Int]]
    /// Full shapes of the requested outputs.
    public let outputShapes: [String: [Int]]

    private struct Step {
        let layerIndex: Int
        let inputs: [UnsafePointer<Float>]
        let output: UnsafeMutablePointer<Float>
        let inputShapes: [[Int]]
        let outputShape: [Int]
    }

    private let steps: [Step]
    private let buffers: [UnsafeMutablePointer<Float>]
    private let scratch: UnsafeMutablePointer<Float>?
    private let inputBuffers: [String: UnsafeMutablePointer<Float>]
    private let outputBuffers: [String: UnsafeMutablePointer<Float>]

    /// Plans a session. `inputShapes` maps each model input name to its full NHWC shape.
    public init(model: Model, inputShapes: [String: [Int]], outputs: [String]) throws {
        let topology = model.topology
        self.model = model
        self.outputNames = outputs
        guard !outputs.isEmpty else { throw FaceNetError.invalidArgument("no output layer requested") }
        for name in outputs where topology.layer(named: name) == nil { throw FaceNetError.unknownLayer(name: name) }

        // Only what the requested outputs depend on runs.
        var needed = Set<String>()
        var stack = outputs
        while let name = stack.popLast() {
            guard needed.insert(name).inserted, let layer = topology.layer(named: name) else { continue }
            stack.append(contentsOf: layer.inputs)
        }
        let planned = topology.layers.enumerated().filter { needed.contains($0.element.name) }

        // Concrete shapes, with the batch dimension.
        var shapes: [String: [Int]] = [:]
        var batch: Int?
        for (_, layer) in planned {
            if case .input(let declared) = layer.kind {
                guard let given = inputShapes[layer.name] else {
                    throw FaceNetError.inputShapeMismatch(layer: layer.name, expected: "(batch, " + describe(declared).dropFirst(), found: [])
                }
                let fits = given.count == declared.count + 1 && given.first.map({ $0 >= 1 }) == true
                    && zip(given.dropFirst(), declared).allSatisfy { g, d in g >= 1 && (d == nil || d == g) }
                guard fits, batch == nil || batch == given[0] else {
                    throw FaceNetError.inputShapeMismatch(layer: layer.name, expected: "(batch, " + describe(declared).dropFirst(), found: given)
                }
                batch = given[0]
                shapes[layer.name] = given
            } else {
                let ins = layer.inputs.map { Array(shapes[$0]?.dropFirst() ?? []) }
                let out = try layer.outputShape(for: ins.map { $0.map(Optional.some) })
                shapes[layer.name] = [batch ?? 1] + out.map { $0 ?? 0 }
            }
        }
        self.inputShapes = inputShapes
        self.outputShapes = Dictionary(uniqueKeysWithValues: outputs.map { ($0, shapes[$0] ?? []) })

        // Buffers by lifetime.
        var stepOf: [String: Int] = [:]
        for (i, (_, layer)) in planned.enumerated() { stepOf[layer.name] = i }
        let counts = planned.map { shapes[$0.element.name]?.reduce(1, *) ?? 0 }
        let reads = planned.map { $0.element.inputs.compactMap { stepOf[$0] } }
        let aliases = planned.map { model.ops[$0.offset].isIdentity }
        let plan = MemoryPlan(counts: counts, inputs: reads, aliases: aliases,
                              keep: Set(outputs.compactMap { stepOf[$0] }))
        let buffers = plan.capacities.map { capacity in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(capacity, 1))
            p.initialize(repeating: 0, count: max(capacity, 1))
            return p
        }
        var scratchCount = 0
        var steps: [Step] = []
        var inputBuffers: [String: UnsafeMutablePointer<Float>] = [:]
        var outputBuffers: [String: UnsafeMutablePointer<Float>] = [:]
        for (i, (layerIndex, layer)) in planned.enumerated() {
            let output = buffers[plan.slotOfStep[i]]
            let ins = layer.inputs.compactMap { stepOf[$0] }
            let step = Step(layerIndex: layerIndex, inputs: ins.map { UnsafePointer(buffers[plan.slotOfStep[$0]]) },
                            output: output, inputShapes: layer.inputs.map { shapes[$0] ?? [] },
                            outputShape: shapes[layer.name] ?? [])
            if case .conv2D(let config, _, _) = model.ops[layerIndex], let s = step.inputShapes.first, s.count == 4 {
                let g = Conv2DGeometry(config: config, batch: s[0], height: s[1], width: s[2], channels: s[3])
                scratchCount = max(scratchCount, Conv2DKernel.scratchCount(g))
            }
            if case .input = layer.kind { inputBuffers[layer.name] = output }
            steps.append(step)
        }
        for name in outputs { outputBuffers[name] = buffers[plan.slotOfStep[stepOf[name] ?? 0]] }
        self.buffers = buffers
        self.steps = steps
        self.inputBuffers = inputBuffers
        self.outputBuffers = outputBuffers
        scratch = scratchCount > 0 ? .allocate(capacity: scratchCount) : nil
    }

    deinit {
        for b in buffers { b.deallocate() }
        scratch?.deallocate()
    }

    /// Runs the planned layers on inputs of exactly the planned shapes; returns the
    /// requested outputs by name.
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        for (name, expected) in inputShapes {
            guard let tensor = inputs[name] else {
                throw FaceNetError.inputShapeMismatch(layer: name, expected: "\(expected)", found: [])
            }
            guard tensor.shape == expected else {
                throw FaceNetError.inputShapeMismatch(layer: name, expected: "\(expected)", found: tensor.shape)
            }
            if let buffer = inputBuffers[name] {
                tensor.scalars.withUnsafeBufferPointer { src in
                    if let base = src.baseAddress { buffer.update(from: base, count: src.count) }
                }
            }
        }
        forward()
        var result: [String: Tensor] = [:]
        for name in outputNames {
            guard let buffer = outputBuffers[name], let shape = outputShapes[name] else { continue }
            result[name] = try Tensor(shape: shape, scalars: Array(UnsafeBufferPointer(start: buffer, count: shape.reduce(1, *))))
        }
        return result
    }

    /// Executes every step on the session's buffers.
    private func forward() {
        for step in steps {
            execute(step)
        }
    }

    private func execute(_ step: Step) {
        let out = step.output
        let count = step.outputShape.reduce(1, *)
        switch model.ops[step.layerIndex] {
        case .input, .identity:
            break
        case .conv2D(let config, let kernel, let bias):
            let s = step.inputShapes[0]
            let g = Conv2DGeometry(config: config, batch: s[0], height: s[1], width: s[2], channels: s[3])
            kernel.withUnsafeBufferPointer { k in
                guard let k = k.baseAddress else { return }
                withOptionalPointer(bias) { b in
                    Conv2DKernel.run(g, input: step.inputs[0], kernel: k, bias: b,
                                     activation: config.activation, output: out, scratch: scratch)
                }
            }
        case .batchNormalization(let folded):
            folded.apply(input: step.inputs[0], output: out, count: count)
        case .activation(let function):
            if UnsafePointer(out) != step.inputs[0] { out.update(from: step.inputs[0], count: count) }
            ActivationKernel.apply(function, to: out, count: count, lastDimension: step.outputShape.last ?? 1)
        case .maxPooling2D(let config), .averagePooling2D(let config):
            let s = step.inputShapes[0]
            let g = Pool2DGeometry(config: config, batch: s[0], height: s[1], width: s[2], channels: s[3])
            var average = false
            if case .averagePooling2D = model.ops[step.layerIndex] { average = true }
            PoolingKernel.run(g, average: average, input: step.inputs[0], output: out)
        case .globalAveragePooling2D:
            let s = step.inputShapes[0]
            PoolingKernel.globalAverage(batch: s[0], pixels: s[1] * s[2], channels: s[3], input: step.inputs[0], output: out)
        case .concatenate(let axis):
            let outer = step.outputShape[..<(axis + 1)].reduce(1, *)
            let blocks = step.inputShapes.map { $0[(axis + 1)...].reduce(1, *) }
            ConcatenateKernel.run(inputs: step.inputs, blocks: blocks, outer: outer, output: out)
        case .add:
            ElementwiseKernel.add(step.inputs, count: count, output: out)
        case .dense(let config, let kernel, let bias):
            let s = step.inputShapes[0]
            kernel.withUnsafeBufferPointer { k in
                guard let k = k.baseAddress else { return }
                withOptionalPointer(bias) { b in
                    DenseKernel.run(batch: s[0], inFeatures: s[1], units: config.units, input: step.inputs[0],
                                    kernel: k, bias: b, activation: config.activation, output: out)
                }
            }
        case .scale(let factor):
            ElementwiseKernel.scale(step.inputs[0], by: factor, count: count, output: out)
        }
    }
}

extension BoundOp {
    var isIdentity: Bool {
        if case .identity = self { return true }
        return false
    }
}

/// Calls `body` with a pointer to the array's storage, or nil for a nil array.
@inline(__always)
func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}
