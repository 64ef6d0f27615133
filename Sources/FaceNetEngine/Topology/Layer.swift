import FaceNetKernels

/// One layer of the model graph: its name (as in the JSON and the weights file), the Keras
/// class it came from, what it computes (`LayerKind`, the registry of layer types in
/// `Layers/`), and the names of the layers feeding it, in order.
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
