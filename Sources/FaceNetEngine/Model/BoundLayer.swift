import FaceNetKernels

/// A layer bound for the fast path that runs as a step of its own (`PlannedStep.layer`),
/// unless a fusion rule of the planner folds it into its producer's GEMM epilogue.
package protocol BoundLayer: Sendable {
    /// Computes the output from the inputs: contiguous row-major buffers of the planned full
    /// shapes (batch first). The output buffer is reused between values: it holds stale
    /// floats, so every element must be written. Runs on the calling thread, once per step
    /// per run: it must not allocate (build no arrays here; make them in `bind`).
    func forward(inputs: [UnsafePointer<Float>], inputShapes: [[Int]], output: UnsafeMutablePointer<Float>, outputShape: [Int]) throws
}

/// A layer with its weights checked and repacked for its kernel, once, at load. The named
/// cases are the forms the planner gives steps or aliases of their own (`ExecutionPlan`);
/// every other layer is `.layer`, run through its `forward`.
package enum BoundOp: Sendable {
    case input
    /// Kernel HWIO = (K × filters), the GEMM's B matrix, stored for the GEMM backend; for
    /// 3×3, 1×7 and 7×1 stride-1 convolutions with enough channels its Winograd transform instead.
    case conv2D(Conv2DConfig, kernel: ConvWeights, bias: [Float]?)
    case maxPooling2D(Pool2DConfig)
    case averagePooling2D(Pool2DConfig)
    /// Axis into the per-sample shape.
    case concatenate(sampleAxis: Int)
    /// Dropout at inference: the output is the input buffer itself.
    case identity
    /// Kernel (in × units), stored for the GEMM backend.
    case dense(DenseConfig, kernel: GEMMWeights, bias: [Float]?)
    /// Flatten and Reshape: a view of the input buffer under the new shape (nothing moves).
    case reshape
    /// Any other layer: an unfused step running `forward` (BatchNormalization, activations,
    /// PReLU, Lambda(scale) and Add are folded into a GEMM epilogue when the planner can).
    case layer(any BoundLayer)

    /// Binds one layer to the weights loaded for it (already shape-checked by the reader),
    /// through its definition (`LayerDefinition.bind`): weights packed for `gemm`,
    /// convolutions made Winograd under `winograd`.
    package init(layer: LayerNode, weights: [String: Tensor], inputShapes: [SymbolicShape], source: String, gemm: GEMMBackend,
                 winograd: WinogradPolicy) throws {
        self = try layer.kind.definition.bind(LayerBinding(weights: LayerWeights(binding: layer.name, tensors: weights, path: source),
                                                           inputShapes: inputShapes, gemm: gemm, winograd: winograd))
    }
}
