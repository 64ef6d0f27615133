import FaceNetKernels

/// Keras `Permute`: reorders up to three per-sample axes (`dims`, 1-based; the batch never
/// moves). Unfused, over a `StridedWalk` of the input.
package struct PermuteLayer: LayerDefinition, BoundLayer {
    let dims: [Int]
    /// Output axis i is input per-sample axis `sampleAxes[i]` (0-based).
    let sampleAxes: [Int]

    init(dims: [Int]) {
        self.dims = dims
        self.sampleAxes = dims.map { $0 - 1 }
    }

    package static let kerasClassNames = ["Permute"]

    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        let dims = try r.ints(c, "dims")
        guard !dims.isEmpty, dims.sorted() == Array(1..<(dims.count + 1)) else {
            throw r.error("'dims' \(dims) is not a permutation of 1…\(max(dims.count, 1)) (per-sample axes, counted from 1)")
        }
        guard dims.count <= 3 else { throw r.unsupported("permuting \(dims.count) per-sample axes; at most 3 (rank 4 with the batch)") }
        return .permute(dims: dims)
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let s = try inputs.single()
        guard dims.count == s.count else {
            throw inputs.fail("Permute dims \(dims) reorder \(dims.count) axes, but the input \(describe(s)) has \(s.count)")
        }
        // The reader checks these too; a graph built in code must not index out of range.
        guard dims.sorted() == Array(1..<(dims.count + 1)), (1...3).contains(dims.count) else {
            throw inputs.fail("Permute dims \(dims) are not a permutation of 1…\(dims.count) over 1 to 3 axes")
        }
        return dims.map { s[$0 - 1] }
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp { .layer(self) }

    package func forward(inputs: [UnsafePointer<Float>], inputShapes: [[Int]], output: UnsafeMutablePointer<Float>,
                         outputShape: [Int]) {
        PermuteKernel.run(StridedWalk(permuting: inputShapes[0], sampleAxes: sampleAxes), input: inputs[0], output: output)
    }

    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        PermuteReference.run(inputs[0], dims: dims)
    }
}
