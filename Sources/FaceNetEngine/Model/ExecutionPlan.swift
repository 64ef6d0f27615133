import FaceNetKernels

/// Where a layer's output lives: a value (one buffer), and for a channel slice of a
/// concatenation the channel offset; `stride` is the floats between consecutive pixels.
package struct Location: Equatable {
    package var value: Int
    package var offset: Int
    package var stride: Int
}

/// One unit of work after fusion. Shapes are full (batch first).
package enum PlannedStep {
    /// Conv2D with its fused successors; `residual` is copied into the output before an
    /// accumulating GEMM.
    case conv(op: Int, geometry: Conv2DGeometry, input: Location, output: Location, epilogue: Epilogue, residual: Location?)
    /// A `SiblingGroup` (model.siblingGroups[group]): one GEMM for the pointwise convs that
    /// read `input`; member i, with its fused successors, lands in `outputs[i]`.
    case siblings(group: Int, geometry: Conv2DGeometry, input: Location, outputs: [Location], epilogues: [Epilogue])
    case dense(op: Int, batch: Int, inFeatures: Int, units: Int, input: Location, output: Location, epilogue: Epilogue)
    case pool(geometry: Pool2DGeometry, average: Bool, input: Location, output: Location)
    /// Copies into a concatenation the inputs that were not written there in place.
    case concatenate(inputs: [Location], inputShapes: [[Int]], output: Location, outputShape: [Int], sampleAxis: Int)
    /// Any other layer, unfused, on contiguous buffers.
    case layer(op: Int, inputs: [Location], inputShapes: [[Int]], output: Location, outputShape: [Int])
}

/// Turns the layers a request needs into fused steps over planned values.
///
/// Fusion, when on: Conv2D/Dense → [BatchNormalization] → [Activation] → [per-channel PReLU]
/// become one GEMM with an epilogue; a residual up-projection Conv2D → Lambda(scale) → Add → [Activation]
/// becomes one accumulating GEMM onto the shortcut; a branch's last conv or pooling writes
/// straight into its channel slice of the Concatenate that reads it; pointwise convs that
/// share their input and fit one GEMM panel together (`SiblingGroup`) run as one GEMM. A layer is only folded
/// into another when nothing else reads it and it was not requested, so every requested
/// layer is still computed exactly and stays fetchable.
package struct ExecutionPlan {
    /// A Conv2D or Dense with what folds after it: its epilogue, the last layer folded (whose
    /// name the output takes), the shortcut it accumulates onto, the layers it absorbs.
    package typealias FusedChain = (epilogue: Epilogue, last: String, residual: Location?, absorbed: [String])

    package struct Value {
        package var count: Int
        var birth: Int
        var death: Int
    }

    private(set) var steps: [PlannedStep] = []
    private(set) var values: [Value] = []
    /// Where each model input and each requested output lives.
    private(set) var locations: [String: Location] = [:]
    /// Floats of im2col / Winograd scratch the largest conv needs (with the session's `tuning`).
    private(set) var scratchCount = 0

    package init(model: Model, layers: [(index: Int, node: LayerNode)], shapes: [String: [Int]],
         requested: Set<String>, fusion: Bool, tuning: ConvolutionTuning) throws {
        var consumers: [String: [Int]] = [:]
        for (position, entry) in layers.enumerated() {
            for input in entry.node.inputs { consumers[input, default: []].append(position) }
        }
        var absorbed = Set<String>()
        var concatValue: [String: Int] = [:]

        func shape(_ name: String) -> [Int] { shapes[name] ?? [] }
        func count(_ name: String) -> Int { shape(name).reduce(1, *) }
        func newValue(_ n: Int) -> Int {
            values.append(Value(count: n, birth: steps.count, death: steps.count))
            return values.count - 1
        }
        func read(_ location: Location) {
            values[location.value].death = max(values[location.value].death, steps.count)
        }
        func location(of name: String) throws -> Location {
            guard let l = locations[name] else {
                throw FaceNetError.invalidTopology(path: model.topology.source, layer: name, reason: "planned before its input")
            }
            return l
        }
        /// The sole reader of `name`, if it may be fused into (nothing else reads `name` and it was not requested).
        func soleReader(_ name: String) -> (index: Int, node: LayerNode)? {
            guard fusion, !requested.contains(name), let readers = consumers[name], readers.count == 1 else { return nil }
            return layers[readers[0]]
        }
        /// A new value for `name`, or its slice of the Concatenate that alone reads it.
        func place(_ name: String) -> Location {
            let channels = shape(name).last ?? 1
            if let reader = soleReader(name), case .concatenate(let axis) = reader.node.kind,
               sampleAxis(axis, rank: shape(name).count - 1) == shape(name).count - 2,
               reader.node.inputs.filter({ $0 == name }).count == 1, let index = reader.node.inputs.firstIndex(of: name) {
                let total = shape(reader.node.name).last ?? 1
                let value = concatValue[reader.node.name] ?? newValue(count(reader.node.name))
                concatValue[reader.node.name] = value
                let offset = reader.node.inputs[..<index].reduce(0) { $0 + (shape($1).last ?? 0) }
                return Location(value: value, offset: offset, stride: total)
            }
            return Location(value: newValue(count(name)), offset: 0, stride: channels)
        }

        var groupOfOp: [Int: Int] = [:]
        for (group, sibling) in model.siblingGroups.enumerated() {
            for op in sibling.members { groupOfOp[op] = group }
        }
        let positionOfOp = Dictionary(uniqueKeysWithValues: layers.enumerated().map { ($0.element.index, $0.offset) })
        /// A Conv2D or Dense with what can be folded after it: BatchNorm, activation, per-channel
        /// PReLU, or a residual Lambda(scale) → Add. Returns the layers folded in (to absorb).
        func chain(of node: LayerNode, op: BoundOp) -> FusedChain {
            let bias: [Float]?
            var epilogue = Epilogue()
            switch op {
            case .conv2D(let c, _, let b): (bias, epilogue.activation) = (b, c.activation)
            case .dense(let d, _, let b): (bias, epilogue.activation) = (b, d.activation)
            default: bias = nil
            }
            epilogue.shift = bias
            var last = node.name
            var residual: Location?
            var folded: [String] = []
            // Extend the chain while the next layer can be folded into the epilogue.
            chain: while let next = soleReader(last) {
                switch model.ops[next.index] {
                case .layer(let bn as BatchNormFolded) where epilogue.activation == .linear && epilogue.scale == nil && residual == nil
                                                           && epilogue.preluSlopes == nil:
                    epilogue.scale = bn.scale
                    epilogue.shift = zip(bn.shift.indices, bn.shift).map { c, t in t + bn.scale[c] * (bias?[c] ?? 0) }
                case .layer(let a as ActivationLayer) where epilogue.activation == .linear && epilogue.preluSlopes == nil:
                    epilogue.activation = a.function
                case .layer(let slopes as PReLUSlopes) where epilogue.preluSlopes == nil
                                                          && slopes.isPerChannel(channels: shape(node.name).last ?? 0):
                    // Applied after the activation, so nothing that must come first may join later.
                    epilogue.preluSlopes = slopes.alpha
                case .layer(let scale as ScaleLayer) where last == node.name && epilogue.activation == .linear:
                    let s = scale.factor
                    guard case .conv2D = op, let add = soleReader(next.node.name), case .layer(is AddLayer) = model.ops[add.index],
                          add.node.inputs.count == 2, let other = add.node.inputs.first(where: { $0 != next.node.name }),
                          let shortcut = locations[other], shape(other) == shape(node.name) else { break chain }
                    residual = shortcut
                    epilogue.alpha = s
                    epilogue.accumulate = true
                    epilogue.shift = bias.map { $0.map { $0 * s } }
                    folded.append(next.node.name)
                    folded.append(add.node.name)
                    last = add.node.name
                    continue chain
                default:
                    break chain
                }
                folded.append(next.node.name)
                last = next.node.name
            }
            return (epilogue, last, residual, folded)
        }
        /// The members of sibling group `group` with their fused chains, when the request
        /// needs every one of them and none of their chains takes a residual; else nil (each
        /// member is then planned alone).
        func plannableGroup(_ group: Int) -> [(node: LayerNode, chain: FusedChain)]? {
            var members: [(node: LayerNode, chain: FusedChain)] = []
            for op in model.siblingGroups[group].members {
                guard let position = positionOfOp[op], !absorbed.contains(layers[position].node.name) else { return nil }
                let fused = chain(of: layers[position].node, op: model.ops[op])
                guard fused.residual == nil else { return nil }
                members.append((layers[position].node, fused))
            }
            return members
        }

        for (index, node) in layers {
            guard !absorbed.contains(node.name) else { continue }  // already folded into an earlier step
            let op = model.ops[index]
            switch op {
            case .input:
                locations[node.name] = Location(value: newValue(count(node.name)), offset: 0, stride: shape(node.name).last ?? 1)
                values[values.count - 1].birth = -1
            case .identity:
                locations[node.name] = try location(of: node.inputs[0])
            case .reshape:
                // A view: the input's floats under the new shape. Inputs of unfused layers are whole
                // buffers (only a concatenation's sole producers write into slices).
                var view = try location(of: node.inputs[0])
                view.stride = shape(node.name).last ?? 1
                locations[node.name] = view
            case .conv2D, .dense:
                if fusion, let group = groupOfOp[index], case .conv2D(var c, _, _) = op, let members = plannableGroup(group) {
                    // The whole group runs here, at its first member: all read the same, already computed input.
                    let input = try location(of: node.inputs[0])
                    read(input)
                    var outputs: [Location] = []
                    for (member, fused) in members {
                        absorbed.formUnion(fused.absorbed)
                        absorbed.insert(member.name)
                        let output = place(fused.last)
                        outputs.append(output)
                        locations[fused.last] = output
                    }
                    let s = shape(node.inputs[0])
                    c.filters = model.siblingGroups[group].filters
                    let g = Conv2DGeometry(config: c, batch: s[0], height: s[1], width: s[2], channels: s[3])
                    scratchCount = max(scratchCount, SiblingGroup.chunkRows * c.filters)
                    steps.append(.siblings(group: group, geometry: g, input: input, outputs: outputs,
                                           epilogues: members.map { $0.chain.epilogue }))
                    continue
                }
                let fused = chain(of: node, op: op)
                absorbed.formUnion(fused.absorbed)
                let (epilogue, last, residual) = (fused.epilogue, fused.last, fused.residual)
                let input = try location(of: node.inputs[0])
                let output = place(last)
                let s = shape(node.inputs[0])
                if let residual { read(residual) }
                read(input)
                switch op {
                case .conv2D(let c, let weights, _):
                    let g = Conv2DGeometry(config: c, batch: s[0], height: s[1], width: s[2], channels: s[3])
                    scratchCount = max(scratchCount, Conv2DKernel.scratchCount(g, weights: weights, tuning: tuning))
                    steps.append(.conv(op: index, geometry: g, input: input, output: output, epilogue: epilogue, residual: residual))
                default:
                    steps.append(.dense(op: index, batch: s[0], inFeatures: s[1], units: shape(node.name).last ?? 0,
                                        input: input, output: output, epilogue: epilogue))
                }
                locations[last] = output
            case .maxPooling2D(let config), .averagePooling2D(let config):
                let s = shape(node.inputs[0])
                let input = try location(of: node.inputs[0])
                read(input)
                let output = place(node.name)
                var average = false
                if case .averagePooling2D = op { average = true }
                steps.append(.pool(geometry: Pool2DGeometry(config: config, batch: s[0], height: s[1], width: s[2], channels: s[3]),
                                   average: average, input: input, output: output))
                locations[node.name] = output
            case .concatenate(let axis):
                let inputs = try node.inputs.map(location(of:))
                inputs.forEach(read)
                let value = concatValue[node.name] ?? newValue(count(node.name))
                let output = Location(value: value, offset: 0, stride: shape(node.name).last ?? 1)
                steps.append(.concatenate(inputs: inputs, inputShapes: node.inputs.map(shape), output: output,
                                          outputShape: shape(node.name), sampleAxis: axis))
                locations[node.name] = output
            case .layer:
                let inputs = try node.inputs.map(location(of:))
                inputs.forEach(read)
                let output = Location(value: newValue(count(node.name)), offset: 0, stride: shape(node.name).last ?? 1)
                steps.append(.layer(op: index, inputs: inputs, inputShapes: node.inputs.map(shape), output: output,
                                    outputShape: shape(node.name)))
                locations[node.name] = output
            }
        }
        for name in requested {
            guard let l = locations[name] else {
                throw internalFault("ExecutionPlan: requested layer '\(name)' was not given a place")
            }
            values[l.value].death = Int.max
        }
    }
}
