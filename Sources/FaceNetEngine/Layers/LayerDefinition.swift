import FaceNetKernels

/// Everything the engine knows about one layer type, in that layer's own file under
/// `Layers/`: how to read its Keras config, its shape rule, the weights it needs, how it
/// binds them for the fast path, and its naive reference. Every requirement is one the
/// compiler enforces: a new layer type that leaves one out does not build.
///
/// A layer type is registered in `LayerKind` (its case, and the case's arm in
/// `LayerKind.definition`) and in `LayerKind.registry` (which Keras classes it reads); see
/// Docs/adding-a-layer.md. How its bound form is planned (fused into a GEMM epilogue, an
/// alias, a step of its own) is the planner's business (`ExecutionPlan`): a layer that binds
/// to `BoundOp.layer` runs as an unfused step through `BoundLayer.forward`.
package protocol LayerDefinition: Sendable {
    /// The Keras `class_name`s this type reads (a type may read several: MaxPooling2D and
    /// AveragePooling2D, Activation and Softmax).
    static var kerasClassNames: [String] { get }

    /// The layer's kind from its Keras `config` (`className` is one of `kerasClassNames`).
    /// Refuse what cannot run exactly with `reader.error` (malformed) or `reader.unsupported`
    /// (well-formed, but not something the engine runs); both name the file and layer.
    static func parse(className: String, config: [String: Any], reader: ConfigReader) throws -> LayerKind

    /// The per-sample output shape (no batch; nil sizes open until run time), checking that
    /// the inputs fit. Throw `inputs.fail(…)` for inputs it cannot take.
    func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape

    /// The weights the layer needs, named and shaped as Keras stores them, in Keras's order
    /// (empty for a weightless layer).
    func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec]

    /// Multiply-adds × 2 for one sample (what `facenet inspect` and the summary count; 0 for
    /// layers that are not convolutions or matrix products).
    func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int

    /// The layer with its weights in kernel form, made once at load: one of the forms the
    /// planner knows (`BoundOp`), usually `.layer(some BoundLayer)`.
    func bind(_ binding: LayerBinding) throws -> BoundOp

    /// The naive reference: the output computed from the definition, on whole tensors
    /// (batch first), from the weights as loaded (nothing folded). Slow and obviously right;
    /// `ReferenceExecutor` runs models with it and the tests compare the fast path with it.
    /// An input layer receives the model input as its only input.
    func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor
}

/// A layer's input shapes as its shape rule and weight specs see them (per sample, nil sizes
/// open), with the checks those rules share. Errors name the layer.
package struct LayerInputs {
    package let layer: String
    package let shapes: [SymbolicShape]

    package init(layer: String, shapes: [SymbolicShape]) {
        self.layer = layer
        self.shapes = shapes
    }

    package func fail(_ reason: String) -> FaceNetError {
        .invalidTopology(path: "", layer: layer, reason: reason)
    }

    /// The only input's shape.
    package func single() throws -> SymbolicShape {
        guard shapes.count == 1 else {
            throw fail("expects 1 input, has \(shapes.count)")
        }
        return shapes[0]
    }

    /// The only input as an image (H, W, C) with known channels.
    package func image() throws -> (h: Int?, w: Int?, c: Int) {
        let s = try single()
        guard s.count == 3, let c = s[2] else {
            throw fail("expects an image input (H, W, C) with known channels, got \(describe(s))")
        }
        return (s[0], s[1], c)
    }

    /// The element count of `shape` (nil while open); a count past Int.max is an error.
    package func count(_ shape: SymbolicShape) throws -> Int? {
        guard case .success(let n) = knownCount(shape) else {
            throw fail("the element count of \(describe(shape)) does not fit an Int")
        }
        return n
    }

    /// One spatial size after a window of `k` with `stride` and `padding` (nil stays nil).
    package func spatial(_ size: Int?, _ k: Int, _ stride: Int, _ padding: Padding) throws -> Int? {
        guard let size else { return nil }
        let out = convolvedSize(size, kernel: k, stride: stride, padding: padding)
        guard out > 0 else {
            throw fail("input size \(size) is smaller than the window \(k) with \(padding.rawValue) padding")
        }
        return out
    }

    /// The shape rule of element-wise layers on one input (activations, Dropout,
    /// Lambda(scale)): the input's shape, whose channel (last) size must be known.
    package func elementwise() throws -> SymbolicShape {
        let s = try single()
        guard let last = s.last, last != nil else {
            throw fail("needs a known channel (last) dimension, got \(describe(s))")
        }
        return s
    }

    /// The first input's channel (last) size, which weight shapes depend on.
    package func channels() throws -> Int {
        guard let s = shapes.first, let last = s.last, let c = last else {
            throw fail("input channels unknown")
        }
        return c
    }
}

/// One layer's loaded weights by Keras name, with errors that name the file and layer.
package struct LayerWeights {
    package let layer: String
    /// The weights file (for weight errors).
    package let path: String
    /// The topology (for errors about the layer itself).
    package let topologySource: String
    private let tensors: [String: Tensor]
    private let binding: Bool

    /// Weights being bound at load: a missing one is `invalidWeights` ("was not loaded").
    package init(binding layer: String, tensors: [String: Tensor], path: String) {
        self.layer = layer
        self.tensors = tensors
        self.path = path
        self.topologySource = path
        self.binding = true
    }

    /// Weights the reference executor reads: a missing one is `missingWeight`.
    package init(reference layer: String, tensors: [String: Tensor], path: String, topologySource: String) {
        self.layer = layer
        self.tensors = tensors
        self.path = path
        self.topologySource = topologySource
        self.binding = false
    }

    package func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else {
            if binding {
                throw FaceNetError.invalidWeights(path: path, layer: layer, reason: "weight '\(name)' was not loaded")
            }
            throw FaceNetError.missingWeight(path: path, layer: layer, weight: name, expectedShape: [])
        }
        return t
    }

    /// A weight's values, row-major.
    package func scalars(_ name: String) throws -> [Float] { try tensor(name).scalars }

    /// An error about the layer's topology (found while binding or running the reference).
    package func topologyError(_ reason: String) -> FaceNetError {
        .invalidTopology(path: topologySource, layer: layer, reason: reason)
    }
}

/// What `LayerDefinition.bind` gets: the layer's weights, its per-sample input shapes as
/// the topology knows them (nil sizes open), and how the GEMM weights are to be stored.
package struct LayerBinding {
    package let weights: LayerWeights
    package let inputShapes: [SymbolicShape]
    package let gemm: GEMMBackend
    package let winograd: WinogradPolicy

    package init(weights: LayerWeights, inputShapes: [SymbolicShape], gemm: GEMMBackend, winograd: WinogradPolicy) {
        self.weights = weights
        self.inputShapes = inputShapes
        self.gemm = gemm
        self.winograd = winograd
    }
}
