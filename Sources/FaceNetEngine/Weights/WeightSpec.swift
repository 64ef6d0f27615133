import FaceNetKernels

/// One weight a layer needs, named as Keras names it inside the layer
/// (`kernel`, `bias`, `gamma`, `beta`, `moving_mean`, `moving_variance`, `alpha`).
public struct WeightSpec: Sendable, Equatable, Codable {
    public let name: String
    /// Keras's shape: HWIO for Conv2D kernels, (in, out) for Dense, (C) for vectors.
    public let shape: [Int]

    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

/// What the topology expects of one layer's weights, in Keras's own weight order
/// (Conv2D/Dense: kernel, bias; BatchNormalization: gamma, beta, moving_mean,
/// moving_variance, each only when the config enables it).
public struct LayerWeightSpec: Sendable, Equatable, Codable {
    public let layerName: String
    /// Keras class name (`Conv2D`, `BatchNormalization`, …): Keras 3 files name groups by it.
    public let className: String
    public let weights: [WeightSpec]

    public init(layerName: String, className: String, weights: [WeightSpec]) {
        self.layerName = layerName
        self.className = className
        self.weights = weights
    }
}

/// The three on-disk layouts of Keras weights the engine reads.
public enum KerasWeightsLayout: String, Sendable, Codable {
    /// Keras 2 `save_weights`: root `layer_names`, one group per layer with `weight_names`.
    case saveWeights = "keras2-save-weights"
    /// Keras 2 `model.save`: root `model_config` + group `model_weights` in the layout above.
    case fullModel = "keras2-full-model"
    /// Keras 3 `.weights.h5`: `layers/<snake_case class>[_N]/vars/<i>`, no names.
    case keras3 = "keras3-weights"
}

/// Weights read from a file and checked against the topology: layer name → weight name → tensor.
public struct LoadedWeights: Sendable {
    public let path: String
    public let layout: KerasWeightsLayout
    public let tensors: [String: [String: Tensor]]

    public init(path: String, layout: KerasWeightsLayout, tensors: [String: [String: Tensor]]) {
        self.path = path
        self.layout = layout
        self.tensors = tensors
    }
}
