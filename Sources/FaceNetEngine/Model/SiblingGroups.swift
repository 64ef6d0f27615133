import FaceNetKernels

/// Pointwise (1×1, stride 1) convolutions that read the same tensor and together have at
/// most one GEMM panel of filters: MTCNN P-Net's 2-filter face head and 4-filter box head,
/// each of which alone fills a quarter or half of a panel and reads the whole 32-channel
/// map. Planned as one GEMM over their filters side by side (`PlannedStep.siblings`), so
/// the shared input is read once; each member's columns then go to its own output with
/// its own fused epilogue. Found once, at load.
package struct SiblingGroup: Sendable {
    /// Op indices, in topological order.
    let members: [Int]
    /// Each member's columns of the merged product.
    package let columns: [Range<Int>]
    /// The members' kernels side by side: (inChannels × total filters).
    package let weights: GEMMWeights

    package var filters: Int { columns.last?.upperBound ?? 0 }

    static let maximumFilters = 16
    /// Rows per chunk of the merged product: its chunk (≤ 256 × 16 floats) stays in L1
    /// while the members take their columns out of it.
    static let chunkRows = 256

    /// The groups among `ops` (each op in at most one). Throws only what packing the merged
    /// weights throws (`GEMMWeights.init`).
    package static func find(layers: [LayerNode], ops: [BoundOp]) throws -> [SiblingGroup] {
        var readers: [String: [Int]] = [:]
        for (index, layer) in layers.enumerated() {
            guard case .conv2D(let c, .direct(_), _) = ops[index], c.kernel == (1, 1), c.strides == (1, 1),
                  layer.inputs.count == 1 else { continue }  // not a pointwise conv: no group
            readers[layer.inputs[0], default: []].append(index)
        }
        var groups: [SiblingGroup] = []
        for (_, members) in readers.sorted(by: { $0.value[0] < $1.value[0] }) where members.count >= 2 {
            var kernels: [GEMMWeights] = []
            for index in members {
                if case .conv2D(_, .direct(let kernel), _) = ops[index] { kernels.append(kernel) }
            }
            let total = kernels.reduce(0) { $0 + $1.columns }
            guard kernels.count == members.count, total <= maximumFilters, let first = kernels.first,
                  kernels.allSatisfy({ $0.depth == first.depth && $0.backend == first.backend && $0.count == 1 }) else {
                continue  // too many filters together, or kernels that do not line up: each runs alone
            }
            var merged = [Float](repeating: 0, count: first.depth * total)
            var columns: [Range<Int>] = []
            for kernel in kernels {
                let start = columns.last?.upperBound ?? 0
                let values = kernel.rowMajor()
                for row in 0..<first.depth {
                    for column in 0..<kernel.columns { merged[row * total + start + column] = values[row * kernel.columns + column] }
                }
                columns.append(start..<(start + kernel.columns))
            }
            groups.append(SiblingGroup(members: members, columns: columns,
                                       weights: try GEMMWeights(rowMajor: merged, depth: first.depth, columns: total, backend: first.backend)))
        }
        return groups
    }

    /// Runs the group on `rows` input pixels of `inChannels` floats: member i's result goes to
    /// `outputs[i]` (pixels `ldc` floats apart) with `epilogues[i]` applied there. On the
    /// calling thread only: a group is at most 16 filters of work per pixel, and MTCNN runs
    /// each pyramid level on one thread anyway.
    /// `chunk`: scratch of `chunkRows · filters` floats.
    package func run(rows: Int, input: UnsafePointer<Float>, outputs: [(UnsafeMutablePointer<Float>, Int)], epilogues: [Epilogue],
             chunk: UnsafeMutablePointer<Float>) {
        let total = filters, depth = weights.depth
        var start = 0
        while start < rows {
            let m = min(Self.chunkRows, rows - start)
            weights.multiply(m: m, a: input + start * depth, c: chunk, ldc: total)
            for (i, (output, ldc)) in outputs.enumerated() {
                let cols = columns[i]
                let target = output + start * ldc
                // A few floats per row: a plain loop, not a memmove call per row.
                for r in 0..<m {
                    let from = chunk + r * total + cols.lowerBound, to = target + r * ldc
                    for j in 0..<cols.count { to[j] = from[j] }
                }
                epilogues[i].apply(to: target, rows: m, columns: cols.count, ldc: ldc)
            }
            start += m
        }
    }
}
