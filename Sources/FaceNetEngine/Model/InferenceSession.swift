import Foundation
import FaceNetKernels

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

    /// A planned step with its buffers resolved to pointers.
    private enum Step {
        case conv(weights: ConvWeights, geometry: Conv2DGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                  ldc: Int, epilogue: Epilogue, residual: (UnsafePointer<Float>, Int)?)
        case siblings(group: SiblingGroup, rows: Int, input: UnsafePointer<Float>, outputs: [(UnsafeMutablePointer<Float>, Int)],
                      epilogues: [Epilogue])
        case dense(kernel: GEMMWeights, batch: Int, inFeatures: Int, units: Int, input: UnsafePointer<Float>,
                   output: UnsafeMutablePointer<Float>, epilogue: Epilogue)
        case pool(geometry: Pool2DGeometry, average: Bool, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, stride: Int)
        /// Inputs to copy, with their channel count and destination (nil: already in place).
        case concatenate(inputs: [UnsafePointer<Float>], blocks: [Int], outer: Int, output: UnsafeMutablePointer<Float>,
                         skip: [Bool])
        case layer(op: Int, inputs: [UnsafePointer<Float>], inputShapes: [[Int]], output: UnsafeMutablePointer<Float>,
                   outputShape: [Int])
    }

    private let steps: [Step]
    private let buffers: [UnsafeMutablePointer<Float>]
    /// im2col / Winograd / sibling-group scratch, one per team member (`threads` of them, each
    /// `plan.scratchCount` floats, at least 1): every conv step's need was checked against it
    /// at plan time (`verify`), so the kernels take it as a plain pointer.
    private let scratches: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    /// The session's own threads (nil: one thread, OpenBLAS may thread inside each GEMM).
    private let team: WorkerTeam?
    /// The convolution the team is sharing, read by the workers through a pointer. On the
    /// heap, allocated once, not in the caller's frame: AddressSanitizer's fake stacks
    /// reported the workers' reads of a stack job as use after return (8 of 30 runs of the
    /// threading tests), while ThreadSanitizer saw no race and results stay bit-identical.
    private let job = UnsafeMutablePointer<ParallelConvolution>.allocate(capacity: 1)
    /// Threads that share each large convolution.
    public let threads: Int
    /// What this session runs with: its model's `gemm` and `winograd` (fixed when the weights
    /// were packed), the rest from the options it was planned with, `threads` resolved.
    public let options: EngineOptions
    private let tuning: ConvolutionTuning
    private let minimumParallelFlops: Int
    private let inputBuffers: [String: UnsafeMutablePointer<Float>]
    /// Per requested output, in `outputNames` order: where it lives and its full shape.
    private let outputSlots: [(name: String, buffer: UnsafeMutablePointer<Float>, shape: [Int])]
    /// Floats held by the activation buffers (the memory plan's total).
    public let activationFloats: Int
    /// Layer names per executed step (a fused step is named by its first layer), for profiles.
    public let stepNames: [String]
    /// Per step: a short description of its kind and shape, and its FLOPs (2 per multiply-add).
    public let stepKinds: [String]
    public let stepFlops: [Int]

    /// Plans a session. `inputShapes` maps each model input name to its full NHWC shape.
    /// - Parameters:
    ///   - model: the loaded model to run.
    ///   - inputShapes: per model input, by name, its full NHWC shape (batch first).
    ///   - outputs: the layers, by name, whose outputs `run` returns.
    ///   - fusion: fold BatchNorm/activation/residual chains into GEMM epilogues and write
    ///     concatenated branches in place (off: one step per layer, for testing).
    ///   - threads: the session's own threads for large convolutions (split by output rows,
    ///     or by filters when rows are few); OpenBLAS then runs single-threaded inside them,
    ///     so there is one level of parallelism. 1: no team, OpenBLAS threads as it likes.
    ///     nil: `options.threads` (whose nil is `EngineOptions.defaultThreads`, the active
    ///     processor count).
    ///   - options: chunk sizes, implicit GEMM, the parallel threshold, the team's spinning
    ///     and threads (`EngineOptions`); nil: the model's `options`. Their `gemm` and
    ///     `winograd` are not read here: those are the model's, fixed at load.
    public convenience init(model: Model, inputShapes: [String: [Int]], outputs: [String], fusion: Bool = true,
                            threads: Int? = nil, options: EngineOptions? = nil) throws {
        var resolved = options ?? model.options
        if let threads { resolved.threads = threads }
        try self.init(model: model, inputShapes: inputShapes, outputs: outputs, fusion: fusion, options: resolved)
    }

    /// `minimumParallelFlops`: convolutions below it run on the calling thread (tests set 0);
    /// the rest of the options are the model's.
    package convenience init(model: Model, inputShapes: [String: [Int]], outputs: [String], fusion: Bool, threads: Int?,
                             minimumParallelFlops: Int) throws {
        var options = model.options
        if let threads { options.threads = threads }
        options.parallelFlops = minimumParallelFlops
        try self.init(model: model, inputShapes: inputShapes, outputs: outputs, fusion: fusion, options: options)
    }

    private init(model: Model, inputShapes: [String: [Int]], outputs: [String], fusion: Bool, options requested: EngineOptions) throws {
        var options = requested
        options.gemm = model.options.gemm
        options.winograd = model.options.winograd
        try options.validate()
        let threads = options.resolvedThreads
        options.threads = threads
        self.options = options
        self.tuning = ConvolutionTuning(options)
        self.minimumParallelFlops = options.parallelFlops
        let topology = model.topology
        _ = try BLAS.require()
        self.model = model
        self.outputNames = outputs
        guard !outputs.isEmpty else { throw FaceNetError.invalidArgument("no output layer requested") }
        for name in outputs where topology.layer(named: name) == nil { throw FaceNetError.unknownLayer(name: name) }

        // Only what the requested outputs depend on runs.
        var needed = Set<String>()
        var stack = outputs
        while let name = stack.popLast() {
            guard needed.insert(name).inserted else { continue }  // already visited
            guard let layer = topology.layer(named: name) else {
                throw internalFault("InferenceSession: layer '\(name)', an input of a requested layer, is not in the topology")
            }
            stack.append(contentsOf: layer.inputs)
        }
        let planned = topology.layers.enumerated().filter { needed.contains($0.element.name) }

        // Concrete shapes, with the batch dimension.
        let shapes = try topology.concreteShapes(of: planned.map(\.element), inputShapes: inputShapes)
        self.inputShapes = inputShapes
        self.outputShapes = Dictionary(uniqueKeysWithValues: outputs.map { ($0, shapes[$0] ?? []) })

        let plan = try ExecutionPlan(model: model, layers: planned.map { ($0.offset, $0.element) }, shapes: shapes,
                                     requested: Set(outputs), fusion: fusion, tuning: tuning)
        try Self.verify(plan, model: model, outputs: outputs, tuning: tuning)
        let memory = MemoryPlan(values: plan.values)
        let buffers = try Self.zeroedBuffers(memory.capacities)
        func pointer(_ l: Location) -> UnsafeMutablePointer<Float> { buffers[memory.slotOfValue[l.value]] + l.offset }
        var steps: [Step] = []
        var names: [String] = []
        var kinds: [String] = []
        var flops: [Int] = []
        var outputSlots: [(name: String, buffer: UnsafeMutablePointer<Float>, shape: [Int])] = []
        do {
            for step in plan.steps {
                let (kind, flop) = Self.summarize(step)
                kinds.append(kind)
                flops.append(flop)
                switch step {
                case .conv(let op, let g, let input, let output, let epilogue, let residual):
                    guard case .conv2D(_, let weights, _) = model.ops[op] else { throw Self.wrongKind(op, "Conv2D", model) }
                    steps.append(.conv(weights: weights, geometry: g, input: pointer(input), output: pointer(output), ldc: output.stride,
                                       epilogue: epilogue, residual: residual.map { (UnsafePointer(pointer($0)), $0.stride) }))
                    names.append(topology.layers[op].name)
                case .siblings(let group, let g, let input, let outputs, let epilogues):
                    let sibling = model.siblingGroups[group]
                    steps.append(.siblings(group: sibling, rows: g.rows, input: pointer(input),
                                           outputs: outputs.map { (pointer($0), $0.stride) }, epilogues: epilogues))
                    names.append(topology.layers[sibling.members[0]].name)
                case .dense(let op, let batch, let inFeatures, let units, let input, let output, let epilogue):
                    guard case .dense(_, let kernel, _) = model.ops[op] else { throw Self.wrongKind(op, "Dense", model) }
                    steps.append(.dense(kernel: kernel, batch: batch, inFeatures: inFeatures, units: units, input: pointer(input),
                                        output: pointer(output), epilogue: epilogue))
                    names.append(topology.layers[op].name)
                case .pool(let g, let average, let input, let output):
                    steps.append(.pool(geometry: g, average: average, input: pointer(input), output: pointer(output), stride: output.stride))
                    names.append("pool")
                case .concatenate(let inputs, let inputShapes, let output, let outputShape, let axis):
                    let outer = outputShape[..<(axis + 1)].reduce(1, *)
                    let blocks = inputShapes.map { $0[(axis + 1)...].reduce(1, *) }
                    steps.append(.concatenate(inputs: inputs.map { UnsafePointer(pointer($0)) }, blocks: blocks, outer: outer,
                                              output: pointer(output), skip: inputs.map { $0.value == output.value }))
                    names.append("concatenate")
                case .layer(let op, let inputs, let inputShapes, let output, let outputShape):
                    steps.append(.layer(op: op, inputs: inputs.map { UnsafePointer(pointer($0)) }, inputShapes: inputShapes,
                                        output: pointer(output), outputShape: outputShape))
                    names.append(topology.layers[op].name)
                }
            }
            for name in outputs {
                guard let location = plan.locations[name], let shape = shapes[name] else {
                    throw internalFault("InferenceSession: requested output '\(name)' has no planned buffer or shape")
                }
                outputSlots.append((name, pointer(location), shape))
            }
        } catch {
            for b in buffers { free(b) }
            throw error
        }
        self.buffers = buffers
        self.steps = steps
        self.stepNames = names
        self.stepKinds = kinds
        self.stepFlops = flops
        self.activationFloats = memory.totalFloats
        self.inputBuffers = Dictionary(uniqueKeysWithValues: topology.inputNames.compactMap { name in
            plan.locations[name].map { (name, pointer($0)) }
        })
        self.outputSlots = outputSlots
        self.threads = threads
        if threads > 1 {
            BLASInfo.setThreads(1)
            team = WorkerTeam(size: threads, spinLimit: options.teamSpinLimit)
        } else {
            team = nil
        }
        scratches = .allocate(capacity: threads)
        for member in 0..<threads { (scratches + member).initialize(to: .allocate(capacity: max(plan.scratchCount, 1))) }
    }

    /// What the kernels rely on and the plan must give, checked before anything runs: each
    /// step's op is of the step's kind with its inputs, each convolution's scratch (and a
    /// sibling group's chunk) fits the plan's `scratchCount` with the `tuning` the kernels
    /// will run with, and every requested output has a place. A failure is an
    /// `internalError`, a bug in the planner.
    package static func verify(_ plan: ExecutionPlan, model: Model, outputs: [String], tuning: ConvolutionTuning) throws {
        func scratch(_ needed: Int, _ what: String) throws {
            guard needed <= plan.scratchCount else {
                throw internalFault("InferenceSession: \(what) needs \(needed) floats of scratch, the plan has \(plan.scratchCount)")
            }
        }
        for step in plan.steps {
            switch step {
            case .conv(let op, let g, _, _, _, _):
                guard case .conv2D(_, let weights, _) = model.ops[op] else { throw wrongKind(op, "Conv2D", model) }
                try scratch(Conv2DKernel.scratchCount(g, weights: weights, tuning: tuning),
                            "convolution '\(model.topology.layers[op].name)'")
            case .siblings(let group, _, _, let locations, let epilogues):
                guard group < model.siblingGroups.count, locations.count == model.siblingGroups[group].columns.count,
                      epilogues.count == locations.count else {
                    throw internalFault("InferenceSession: sibling group \(group) planned with \(locations.count) outputs, "
                                        + "\(epilogues.count) epilogues")
                }
                try scratch(SiblingGroup.chunkRows * model.siblingGroups[group].filters, "sibling group \(group)")
            case .dense(let op, _, _, _, _, _, _):
                guard case .dense = model.ops[op] else { throw wrongKind(op, "Dense", model) }
            case .layer(let op, let inputs, let inputShapes, _, _):
                let name = model.topology.layers[op].name
                guard case .layer = model.ops[op] else {
                    throw internalFault("InferenceSession: layer '\(name)' planned as a plain layer step; its kind has a step of its own")
                }
                guard inputs.count == model.topology.layers[op].inputs.count, inputShapes.count == inputs.count else {
                    throw internalFault("InferenceSession: layer '\(name)' planned with \(inputs.count) inputs")
                }
            case .pool, .concatenate:
                break
            }
        }
        for name in outputs where plan.locations[name] == nil {
            throw internalFault("InferenceSession: requested output '\(name)' has no planned buffer")
        }
    }

    /// A planned step whose op is not of the step's kind.
    private static func wrongKind(_ op: Int, _ expected: String, _ model: Model) -> FaceNetError {
        let name = op < model.topology.layers.count ? model.topology.layers[op].name : "#\(op)"
        return internalFault("InferenceSession: the step planned as \(expected) for layer '\(name)' is bound as another kind")
    }

    /// One zeroed buffer per capacity, from `calloc` (freed with `free`): large ones are
    /// fresh pages the kernel zeroes as the first run writes them, so planning a session per
    /// pyramid scale does not pay to clear megabytes that run would overwrite anyway.
    private static func zeroedBuffers(_ capacities: [Int]) throws -> [UnsafeMutablePointer<Float>] {
        var buffers: [UnsafeMutablePointer<Float>] = []
        for capacity in capacities {
            guard let raw = calloc(max(capacity, 1), MemoryLayout<Float>.stride) else {
                for b in buffers { free(b) }
                throw FaceNetError.invalidArgument("cannot allocate \(capacity * MemoryLayout<Float>.stride) bytes of activations")
            }
            buffers.append(raw.bindMemory(to: Float.self, capacity: max(capacity, 1)))
        }
        return buffers
    }

    /// Threads a session uses unless told otherwise: the active processor count (at most 16;
    /// `EngineOptions.defaultThreads`).
    public static var defaultThreads: Int { EngineOptions.defaultThreads }

    deinit {
        for b in buffers { free(b) }
        for member in 0..<threads { scratches[member].deallocate() }
        scratches.deinitialize(count: threads)
        scratches.deallocate()
        job.deallocate()
    }

    /// Runs the planned layers on inputs of exactly the planned shapes; returns the
    /// requested outputs by name.
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        var outputs: [String: Tensor] = [:]
        try run(inputs, into: &outputs)
        return outputs
    }

    /// Runs like `run(_:)`, writing the outputs into `outputs`. Tensors already there with
    /// the right shape are overwritten in place, so repeated calls allocate nothing.
    public func run(_ inputs: [String: Tensor], into outputs: inout [String: Tensor]) throws {
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
        try forward()
        for (name, buffer, shape) in outputSlots {
            let count = shape.reduce(1, *)
            // Taken out of the dictionary so its storage is uniquely owned: written in place.
            var tensor = outputs.removeValue(forKey: name) ?? Tensor(zeros: shape)
            if tensor.shape != shape { tensor = Tensor(zeros: shape) }
            tensor.scalars.withUnsafeMutableBufferPointer { dst in
                if let base = dst.baseAddress { base.update(from: buffer, count: count) }
            }
            outputs[name] = tensor
        }
    }

    /// Executes every step on the session's buffers.
    private func forward() throws {
        for step in steps {
            try execute(step)
        }
    }

    /// Runs once and returns the wall time of every step, in seconds (same order as `stepNames`).
    public func profile(_ inputs: [String: Tensor]) throws -> [Double] {
        _ = try run(inputs)
        var times: [Double] = []
        times.reserveCapacity(steps.count)
        for step in steps {
            let start = DispatchTime.now().uptimeNanoseconds
            try execute(step)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times
    }

    private static func summarize(_ step: PlannedStep) -> (String, Int) {
        switch step {
        case .conv(_, let g, _, _, _, _):
            let shape = "conv \(g.kernelHeight)x\(g.kernelWidth)/\(g.strideHeight) \(g.inHeight)x\(g.inWidth)x\(g.inChannels)->\(g.filters)"
            return (shape, 2 * g.rows * g.filters * g.depth)
        case .siblings(_, let g, _, let outputs, _):
            let shape = "conv 1x1/1 \(g.inHeight)x\(g.inWidth)x\(g.inChannels)->\(g.filters) (\(outputs.count) siblings)"
            return (shape, 2 * g.rows * g.filters * g.depth)
        case .dense(_, let batch, let inFeatures, let units, _, _, _):
            return ("dense \(inFeatures)->\(units)", 2 * batch * inFeatures * units)
        case .pool(let g, let average, _, _):
            return ("\(average ? "avgpool" : "maxpool") \(g.poolHeight)x\(g.poolWidth)/\(g.strideHeight) \(g.inHeight)x\(g.inWidth)x\(g.channels)", 0)
        case .concatenate(_, _, _, let shape, _):
            return ("concatenate \(shape.dropFirst().map(String.init).joined(separator: "x"))", 0)
        case .layer(_, _, _, _, let shape):
            return ("layer \(shape.dropFirst().map(String.init).joined(separator: "x"))", 0)
        }
    }

    private func execute(_ step: Step) throws {
        switch step {
        case .conv(let weights, let g, let input, let output, let ldc, let epilogue, let residual):
            if let team, 2 * g.rows * g.filters * g.depth >= minimumParallelFlops {
                convolveInParallel(team, g, input: input, weights: weights, output: output, ldc: ldc,
                                   epilogue: epilogue, residual: residual)
                return
            }
            if let (shortcut, stride) = residual, UnsafePointer(output) != shortcut {
                copyRows(from: shortcut, stride: stride, to: output, stride: ldc, rows: g.rows, columns: g.filters)
            }
            Conv2DKernel.run(g, input: input, weights: weights, output: output, ldc: ldc,
                             epilogue: epilogue, scratch: scratches[0], tuning: tuning)
        case .siblings(let group, let rows, let input, let outputs, let epilogues):
            group.run(rows: rows, input: input, outputs: outputs, epilogues: epilogues, chunk: scratches[0])
        case .dense(let kernel, let batch, _, let units, let input, let output, let epilogue):
            DenseKernel.run(batch: batch, units: units, input: input, kernel: kernel, output: output, epilogue: epilogue)
        case .pool(let g, let average, let input, let output, let stride):
            PoolingKernel.run(g, average: average, input: input, output: output, outputStride: stride)
        case .concatenate(let inputs, let blocks, let outer, let output, let skip):
            ConcatenateKernel.run(inputs: inputs, blocks: blocks, outer: outer, output: output, skip: skip)
        case .layer(let op, let inputs, let inputShapes, let output, let outputShape):
            try executeUnfused(op, inputs: inputs, inputShapes: inputShapes, output: output, outputShape: outputShape)
        }
    }

    /// Everything a team member needs to do its part of one convolution.
    private struct ParallelConvolution {
        /// What the team does next; each phase carries what only it needs, so no member ever
        /// finds it missing.
        package enum Phase {
            /// Copy the shortcut (pointer, row stride) into the output, before an accumulating GEMM.
            case residual(UnsafePointer<Float>, Int)
            case gemmRows, gemmColumns
            case winogradTiles(WinogradTile)
            case epilogueRows
        }
        var phase: Phase
        package let g: Conv2DGeometry
        package let input: UnsafePointer<Float>
        package let weights: ConvWeights
        package let output: UnsafeMutablePointer<Float>
        let ldc: Int
        let epilogue: Epilogue
        /// One scratch per member: the team has `threads` members, the session `threads` scratches.
        let scratches: UnsafePointer<UnsafeMutablePointer<Float>>
        let tuning: ConvolutionTuning

        /// Member `part` of `parts` does its share of the current phase.
        func perform(part: Int, parts: Int) {
            let kernel = weights.gemm
            switch phase {
            case .residual(let shortcut, let stride):
                let rows = WorkerTeam.share(of: g.rows, part: part, parts: parts)
                copyRows(from: shortcut + rows.lowerBound * stride, stride: stride, to: output + rows.lowerBound * ldc,
                         stride: ldc, rows: rows.count, columns: g.filters)
            case .gemmRows:
                Conv2DKernel.runRows(g, rows: WorkerTeam.share(of: g.rows, part: part, parts: parts), input: input, kernel: kernel,
                                     output: output, ldc: ldc, epilogue: epilogue, scratch: scratches[part], tuning: tuning)
            case .gemmColumns:
                Conv2DKernel.runColumns(g, columns: kernel.columnShare(part: part, parts: parts), input: input,
                                        kernel: kernel, output: output, ldc: ldc, epilogue: epilogue)
            case .winogradTiles(let tile):
                Conv2DWinograd.multiply(g, tile: tile, tiles: WorkerTeam.share(of: Conv2DWinograd.tiles(g, tile).total, part: part,
                                                                               parts: parts),
                                        input: input, u: kernel, output: output, ldc: ldc, epilogue: epilogue,
                                        scratch: scratches[part], scratchLimit: Conv2DKernel.scratchLimit, tuning: tuning)
            case .epilogueRows:
                let rows = WorkerTeam.share(of: g.rows, part: part, parts: parts)
                epilogue.apply(to: output + rows.lowerBound * ldc, rows: rows.count, columns: g.filters, ldc: ldc)
            }
        }
    }

    /// One convolution shared by the team: by output rows (im2col, pointwise) or tiles
    /// (Winograd), or by filters for a pointwise GEMM with few rows.
    private func convolveInParallel(_ team: WorkerTeam, _ g: Conv2DGeometry, input: UnsafePointer<Float>,
                                    weights: ConvWeights, output: UnsafeMutablePointer<Float>,
                                    ldc: Int, epilogue: Epilogue, residual: (UnsafePointer<Float>, Int)?) {
        job.initialize(to: ParallelConvolution(phase: .gemmRows, g: g, input: input, weights: weights, output: output,
                                               ldc: ldc, epilogue: epilogue, scratches: UnsafePointer(scratches), tuning: tuning))
        defer { job.deinitialize(count: 1) }
        let task: WorkerTeam.Task = { context, part, parts in
            context.assumingMemoryBound(to: ParallelConvolution.self).pointee.perform(part: part, parts: parts)
        }
        func runPhase(_ phase: ParallelConvolution.Phase) {
            job.pointee.phase = phase
            team.run(task, context: UnsafeRawPointer(job))
        }
        if let (shortcut, stride) = residual, UnsafePointer(output) != shortcut { runPhase(.residual(shortcut, stride)) }
        if let tile = weights.winogradTile {
            runPhase(.winogradTiles(tile))
            runPhase(.epilogueRows)
        } else if g.isPointwise && g.rows < 64 * team.size && epilogue.isColumnwise {
            runPhase(.gemmColumns)
        } else {
            runPhase(.gemmRows)
        }
    }

    /// Layers that run on their own (everything outside a fused chain). Their kinds and
    /// input counts were checked at plan time (`verify`).
    private func executeUnfused(_ op: Int, inputs: [UnsafePointer<Float>], inputShapes: [[Int]],
                                output out: UnsafeMutablePointer<Float>, outputShape: [Int]) throws {
        switch model.ops[op] {
        case .input, .identity, .reshape, .conv2D, .dense, .maxPooling2D, .averagePooling2D, .concatenate:
            // Planned as their own step kinds; `verify` refuses them here.
            throw internalFault("InferenceSession: layer '\(model.topology.layers[op].name)' reached the plain-layer step")
        case .layer(let layer):
            try layer.forward(inputs: inputs, inputShapes: inputShapes, output: out, outputShape: outputShape)
        }
    }
}

/// Copies `rows` rows of `columns` floats between row strides.
func copyRows(from source: UnsafePointer<Float>, stride sourceStride: Int, to destination: UnsafeMutablePointer<Float>,
              stride destinationStride: Int, rows: Int, columns: Int) {
    if sourceStride == columns, destinationStride == columns {
        destination.update(from: source, count: rows * columns)
        return
    }
    for r in 0..<rows {
        (destination + r * destinationStride).update(from: source + r * sourceStride, count: columns)
    }
}
