import FaceNetKit

extension GalleryModel {
    /// What `facenet` embeds with, as a gallery records it. `model`: the preset's name, or
    /// what names other weights (the CLI uses `weights <file name>`).
    public init(facenet: FaceNet, model: String) throws {
        let output = try facenet.model.outputShape(of: facenet.embeddingLayer)
        guard let dimension = output.last ?? nil, dimension > 0 else {
            throw FaceNetError.invalidArgument("the model's embedding layer has no fixed size: \(output)")
        }
        self.init(model: model, dimension: dimension,
                  preprocessing: Self.preprocessing(facenet.preprocessing, detector: facenet.extraction.detector != nil,
                                                    alignment: facenet.extraction.alignment, margin: facenet.extraction.margin),
                  weightSet: facenet.weightSet?.rawValue)
    }

    /// The canonical text of how a photo becomes the network's input: what changes the
    /// embedding (detector, alignment, margin, then the preprocessing), nothing else.
    public static func preprocessing(_ options: PreprocessOptions, detector: Bool, alignment: FaceAlignment, margin: Int) -> String {
        let faces = detector ? "mtcnn align=\(alignment.rawValue) margin=\(margin)" : "no detector"
        return "\(faces) | size=\(options.size) resize=\(options.resize.rawValue) crop=\(options.crop.rawValue) "
            + "letterbox=\(options.letterbox) color=\(options.color.rawValue) normalize=\(options.normalization.rawValue)"
    }
}
