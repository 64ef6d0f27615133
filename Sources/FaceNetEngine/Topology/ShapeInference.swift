import FaceNetKernels

extension LayerNode {
    /// The output shape of this layer for the given input shapes, checking that the
    /// inputs fit. Works on symbolic shapes: unknown sizes stay unknown.
    public func outputShape(for inputShapes: [SymbolicShape]) throws -> SymbolicShape {
        func fail(_ reason: String) -> FaceNetError {
            .invalidTopology(path: "", layer: name, reason: reason)
        }
        func single() throws -> SymbolicShape {
            guard inputShapes.count == 1 else {
                throw fail("expects 1 input, has \(inputShapes.count)")
            }
            return inputShapes[0]
        }
        func image() throws -> (h: Int?, w: Int?, c: Int) {
            let s = try single()
            guard s.count == 3, let c = s[2] else {
                throw fail("expects an image input (H, W, C) with known channels, got \(describe(s))")
            }
            return (s[0], s[1], c)
        }
        /// The element count of `shape` (nil while open); a count past Int.max is an error.
        func count(_ shape: SymbolicShape) throws -> Int? {
            guard case .success(let n) = knownCount(shape) else {
                throw fail("the element count of \(describe(shape)) does not fit an Int")
            }
            return n
        }
        func spatial(_ size: Int?, _ k: Int, _ stride: Int, _ padding: Padding) throws -> Int? {
            guard let size else { return nil }
            let out = convolvedSize(size, kernel: k, stride: stride, padding: padding)
            guard out > 0 else {
                throw fail("input size \(size) is smaller than the window \(k) with \(padding.rawValue) padding")
            }
            return out
        }

        switch kind {
        case .input(let shape):
            return shape
        case .conv2D(let c):
            let (h, w, _) = try image()
            return [try spatial(h, c.kernel.height, c.strides.height, c.padding),
                    try spatial(w, c.kernel.width, c.strides.width, c.padding), c.filters]
        case .maxPooling2D(let p), .averagePooling2D(let p):
            let (h, w, ch) = try image()
            return [try spatial(h, p.pool.height, p.strides.height, p.padding),
                    try spatial(w, p.pool.width, p.strides.width, p.padding), ch]
        case .globalAveragePooling2D(let keepDims):
            let (_, _, ch) = try image()
            return keepDims ? [1, 1, ch] : [ch]
        case .batchNormalization(let bn):
            let s = try single()
            guard sampleAxis(bn.axis, rank: s.count) == s.count - 1, let last = s.last, last != nil else {
                throw fail("BatchNormalization axis \(bn.axis) must be the known last (channel) axis of \(describe(s))")
            }
            return s
        case .activation, .dropout, .scale:
            let s = try single()
            guard let last = s.last, last != nil else {
                throw fail("needs a known channel (last) dimension, got \(describe(s))")
            }
            return s
        case .prelu(let p):
            let s = try single()
            if let outside = p.sharedAxes.first(where: { $0 > s.count }) {
                throw fail("PReLU shared axis \(outside) is outside the input \(describe(s)) (axes 1…\(s.count))")
            }
            guard (1...3).contains(s.count) else {
                throw fail("PReLU input \(describe(s)) has \(s.count) per-sample axes; 1 to 3 are supported")
            }
            return s
        case .permute(let dims):
            let s = try single()
            guard dims.count == s.count else {
                throw fail("Permute dims \(dims) reorder \(dims.count) axes, but the input \(describe(s)) has \(s.count)")
            }
            // The reader checks these too; a graph built in code must not index out of range.
            guard dims.sorted() == Array(1..<(dims.count + 1)), (1...3).contains(dims.count) else {
                throw fail("Permute dims \(dims) are not a permutation of 1…\(dims.count) over 1 to 3 axes")
            }
            return dims.map { s[$0 - 1] }
        case .flatten:
            let s = try single()
            guard !s.isEmpty else { throw fail("Flatten needs per-sample axes, got \(describe(s))") }
            return [try count(s)]
        case .reshape(let target):
            let s = try single()
            let inputCount = try count(s)
            guard let out = ReshapeRule.outputShape(target: target, inputCount: inputCount) else {
                throw fail("Reshape to \(describe(target.map(Optional.some))) does not fit the input \(describe(s)) of \(inputCount ?? 0) elements"
                            + " (the sizes must multiply to the input's element count; -1 takes what is left)")
            }
            return out
        case .dense(let d):
            let s = try single()
            guard s.count == 1, s[0] != nil else {
                throw fail("Dense expects a flat (features) input, got \(describe(s))")
            }
            return [d.units]
        case .concatenate(let kerasAxis):
            guard inputShapes.count >= 2, let first = inputShapes.first else {
                throw fail("Concatenate needs at least 2 inputs, has \(inputShapes.count)")
            }
            guard let axis = sampleAxis(kerasAxis, rank: first.count) else {
                throw fail("concatenation axis \(kerasAxis) is outside rank \(first.count + 1) or is the batch axis")
            }
            var out = first
            var total: Int? = 0
            for s in inputShapes {
                guard s.count == first.count else { throw fail("inputs of different rank: \(inputShapes.map(describe))") }
                for d in 0..<s.count where d != axis {
                    if let a = s[d], let b = first[d], a != b {
                        throw fail("inputs differ outside the concatenation axis: \(inputShapes.map(describe))")
                    }
                }
                if let t = total, let v = s[axis] {
                    let (sum, overflow) = t.addingReportingOverflow(v)
                    guard !overflow else { throw fail("the concatenated size \(t) + \(v) does not fit an Int") }
                    total = sum
                } else {
                    total = nil
                }
            }
            out[axis] = total
            return out
        case .add:
            guard inputShapes.count >= 2, let first = inputShapes.first else {
                throw fail("Add needs at least 2 inputs, has \(inputShapes.count)")
            }
            for s in inputShapes where s.count != first.count || zip(s, first).contains(where: { a, b in
                if let a, let b { return a != b }
                return false
            }) {
                throw fail("Add inputs have different shapes: \(inputShapes.map(describe))")
            }
            return first
        }
    }

    /// The weights this layer needs, in Keras's order, given its input shapes.
    public func weightSpecs(for inputShapes: [SymbolicShape]) throws -> [WeightSpec] {
        func channels() throws -> Int {
            guard let s = inputShapes.first, let last = s.last, let c = last else {
                throw FaceNetError.invalidTopology(path: "", layer: name, reason: "input channels unknown")
            }
            return c
        }
        switch kind {
        case .conv2D(let c):
            var specs = [WeightSpec(name: "kernel", shape: [c.kernel.height, c.kernel.width, try channels(), c.filters])]
            if c.useBias { specs.append(WeightSpec(name: "bias", shape: [c.filters])) }
            return specs
        case .dense(let d):
            var specs = [WeightSpec(name: "kernel", shape: [try channels(), d.units])]
            if d.useBias { specs.append(WeightSpec(name: "bias", shape: [d.units])) }
            return specs
        case .batchNormalization(let bn):
            let c = try channels()
            var specs: [WeightSpec] = []
            if bn.scale { specs.append(WeightSpec(name: "gamma", shape: [c])) }
            if bn.center { specs.append(WeightSpec(name: "beta", shape: [c])) }
            specs.append(WeightSpec(name: "moving_mean", shape: [c]))
            specs.append(WeightSpec(name: "moving_variance", shape: [c]))
            return specs
        case .prelu(let p):
            guard let input = inputShapes.first, let shape = p.alphaShape(for: input) else {
                throw FaceNetError.invalidTopology(
                    path: "", layer: name,
                    reason: "PReLU alpha's shape would depend on the open sizes of the input \(describe(inputShapes.first ?? [])); "
                        + "share those axes (shared_axes) or give the input a fixed size")
            }
            return [WeightSpec(name: "alpha", shape: shape)]
        case .input, .activation, .maxPooling2D, .averagePooling2D, .globalAveragePooling2D,
             .concatenate, .add, .dropout, .scale, .permute, .flatten, .reshape:
            return []
        }
    }

    /// Multiply-adds × 2 for one sample (Conv2D and Dense only, as the reference counts).
    public func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int {
        switch kind {
        case .conv2D(let c):
            let cin = inputShapes.first?.last ?? 0
            return 2 * outputShape.reduce(1, *) * c.kernel.height * c.kernel.width * cin
        case .dense(let d):
            return 2 * (inputShapes.first?.last ?? 0) * d.units
        case .input, .batchNormalization, .activation, .maxPooling2D, .averagePooling2D,
             .globalAveragePooling2D, .concatenate, .add, .dropout, .scale, .prelu, .permute, .flatten, .reshape:
            return 0
        }
    }
}
