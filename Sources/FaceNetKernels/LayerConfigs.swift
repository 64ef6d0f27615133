/// The settings of the layers the kernels run, as Keras names them. The engine parses
/// them from the topology (`LayerConfigParser`); the kernels read them.

/// Activation functions a layer may apply to its output.
public enum ActivationFunction: String, Sendable, CaseIterable {
    case linear, relu, sigmoid, tanh, softmax
}

/// Spatial padding, as Keras names it. `same` follows TensorFlow: the output is
/// ceil(in / stride) and an odd total padding puts the extra row/column at the bottom/right.
public enum Padding: String, Sendable {
    case valid, same
}

/// A 2-D convolution. Kernel layout HWIO: (kernelHeight, kernelWidth, inChannels, filters).
public struct Conv2DConfig: Sendable, Equatable {
    public var filters: Int
    public var kernel: (height: Int, width: Int)
    public var strides: (height: Int, width: Int)
    public var padding: Padding
    public var useBias: Bool
    public var activation: ActivationFunction

    public init(filters: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1),
                padding: Padding = .valid, useBias: Bool = false, activation: ActivationFunction = .linear) {
        self.filters = filters
        self.kernel = (kernel.0, kernel.1)
        self.strides = (strides.0, strides.1)
        self.padding = padding
        self.useBias = useBias
        self.activation = activation
    }

    public static func == (a: Conv2DConfig, b: Conv2DConfig) -> Bool {
        a.filters == b.filters && a.kernel == b.kernel && a.strides == b.strides
            && a.padding == b.padding && a.useBias == b.useBias && a.activation == b.activation
    }
}

/// Batch normalisation over the channel (last) axis, inference form:
/// y = (x − moving_mean) / sqrt(moving_variance + epsilon) · gamma + beta.
public struct BatchNormConfig: Sendable, Equatable {
    /// `center`: the layer has `beta`.
    public var center: Bool
    /// `scale`: the layer has `gamma`.
    public var scale: Bool
    public var epsilon: Float
    /// Keras axis (batch = 0, negative from the end); it must name the last axis.
    public var axis: Int

    public init(center: Bool = true, scale: Bool = true, epsilon: Float = 0.001, axis: Int = -1) {
        self.center = center
        self.scale = scale
        self.epsilon = epsilon
        self.axis = axis
    }
}

/// Max or average pooling window over H and W of an NHWC tensor.
public struct Pool2DConfig: Sendable, Equatable {
    public var pool: (height: Int, width: Int)
    public var strides: (height: Int, width: Int)
    public var padding: Padding

    public init(pool: (Int, Int), strides: (Int, Int), padding: Padding = .valid) {
        self.pool = (pool.0, pool.1)
        self.strides = (strides.0, strides.1)
        self.padding = padding
    }

    public static func == (a: Pool2DConfig, b: Pool2DConfig) -> Bool {
        a.pool == b.pool && a.strides == b.strides && a.padding == b.padding
    }
}

/// A fully connected layer. Kernel layout (in, out).
public struct DenseConfig: Sendable, Equatable {
    public var units: Int
    public var useBias: Bool
    public var activation: ActivationFunction

    public init(units: Int, useBias: Bool = true, activation: ActivationFunction = .linear) {
        self.units = units
        self.useBias = useBias
        self.activation = activation
    }
}

/// A parametric ReLU: f(x) = x for x ≥ 0, alpha · x otherwise, with one learned alpha per
/// element of the per-sample shape except along `sharedAxes`, where one alpha serves the
/// whole axis. Alpha's shape is the per-sample input shape with the shared axes set to 1:
/// shared_axes [1, 2] on NHWC gives (1, 1, C); none gives (H, W, C), or (C) after a Dense.
public struct PReLUConfig: Sendable, Equatable {
    /// Keras axes (1-based, the batch is axis 0), sorted, without repeats.
    public var sharedAxes: [Int]

    public init(sharedAxes: [Int] = []) {
        self.sharedAxes = Array(Set(sharedAxes)).sorted()
    }

    /// Alpha's shape for a per-sample input shape (shared axes set to 1); nil where an
    /// unshared size is open, since then the weight's shape is not fixed.
    public func alphaShape(for input: SymbolicShape) -> [Int]? {
        var shape: [Int] = []
        for (axis, size) in input.enumerated() {
            if sharedAxes.contains(axis + 1) {
                shape.append(1)
            } else if let size {
                shape.append(size)
            } else {
                return nil
            }
        }
        return shape
    }
}
