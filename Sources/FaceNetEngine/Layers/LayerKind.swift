import FaceNetKernels

/// Every layer type the engine runs: the registry. Each case's behaviour lives in its own
/// file under `Layers/` (a `LayerDefinition`); this file only lists them. Adding a layer
/// type adds its case here, its arm in `definition` (the compiler points at it) and its
/// definition type in `registry`; see Docs/adding-a-layer.md.
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
    /// Zero rows and columns around each image (NHWC).
    case zeroPadding2D(ZeroPadding2DConfig)

    /// This kind's definition: its parsing, shape rule, weights, binding and reference.
    package var definition: any LayerDefinition {
        switch self {
        case .input(let shape): InputLayer(shape: shape)
        case .conv2D(let config): Conv2DLayer(config: config)
        case .batchNormalization(let config): BatchNormalizationLayer(config: config)
        case .activation(let function): ActivationLayer(function: function)
        case .maxPooling2D(let config): Pooling2DLayer(config: config, average: false)
        case .averagePooling2D(let config): Pooling2DLayer(config: config, average: true)
        case .globalAveragePooling2D(let keepDims): GlobalAveragePooling2DLayer(keepDims: keepDims)
        case .concatenate(let axis): ConcatenateLayer(axis: axis)
        case .add: AddLayer()
        case .dropout: DropoutLayer()
        case .dense(let config): DenseLayer(config: config)
        case .scale(let factor): ScaleLayer(factor: factor)
        case .prelu(let config): PReLULayer(config: config)
        case .permute(let dims): PermuteLayer(dims: dims)
        case .flatten: FlattenLayer()
        case .reshape(let target): ReshapeLayer(targetShape: target)
        case .zeroPadding2D(let config): ZeroPadding2DLayer(config: config)
        }
    }

    /// Every definition type, for reading Keras classes by name.
    package static let registry: [any LayerDefinition.Type] = [
        InputLayer.self, Conv2DLayer.self, BatchNormalizationLayer.self, ActivationLayer.self,
        Pooling2DLayer.self, GlobalAveragePooling2DLayer.self, ConcatenateLayer.self, AddLayer.self,
        DropoutLayer.self, DenseLayer.self, ScaleLayer.self, PReLULayer.self, PermuteLayer.self,
        FlattenLayer.self, ReshapeLayer.self, ZeroPadding2DLayer.self,
    ]
}
