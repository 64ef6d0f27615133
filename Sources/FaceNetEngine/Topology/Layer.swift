import FaceNetKernels

/// Every operation the engine runs. Dispatch is an exhaustive `switch`, so adding a case
/// makes the compiler point at every place that must handle it.
public enum LayerKind: Sendable, Equatable {
    /// A model input; `shape` is per sample (no batch), `nil` where any size is accepted.
    case input(shape: [Int?])
    case conv2D(Conv2DConfig)
    case batchNormalization(BatchNormConfig)
    case activation(ActivationFunction)
    case maxPooling2D(Pool2DConfig)
    case averagePooling2D(Pool2DConfig)
    /// Mean over H and W: NHWC → (N, C), or (N, 1, 1, C) with `keepDims`.
    case globalAveragePooling2D(keepDims: Bool)
    /// Concatenation along a Keras axis: the batch is axis 0, negative counts from the end
    /// (FaceNet's 3 and -1 both mean channels for NHWC).
    case concatenate(axis: Int)
    case add
    /// Identity at inference.
    case dropout
    case dense(DenseConfig)
    /// FaceNet's `Lambda`: `x * scale`.
    case scale(Float)
    case prelu(PReLUConfig)
    /// Reorders the per-sample axes: output axis i is input axis `dims[i]` (Keras's 1-based
    /// `dims`, the batch excluded and never moved). MTCNN's `Permute((2, 1, 3))` swaps H and W.
    case permute(dims: [Int])
    /// All per-sample axes into one, row-major (the last axis fastest), as Keras's
    /// channels-last `Flatten`: the data is not moved.
    case flatten
    /// A new per-sample shape of the same element count, row-major; at most one size is
    /// −1, meaning "whatever is left". The data is not moved.
    case reshape(targetShape: [Int])
}

/// One layer of the model graph: its name (as in the JSON and the weights file), the Keras
/// class it came from, what it computes, and the names of the layers feeding it, in order.
public struct LayerNode: Sendable, Equatable {
    public var name: String
    public var className: String
    public var kind: LayerKind
    public var inputs: [String]

    public init(name: String, className: String, kind: LayerKind, inputs: [String]) {
        self.name = name
        self.className = className
        self.kind = kind
        self.inputs = inputs
    }
}
