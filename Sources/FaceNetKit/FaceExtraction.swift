import FaceNetKernels
import FaceNetEngine
import FaceNetVision

/// How a photo becomes the face image FaceNet embeds: detect (or not), pick the largest
/// face, cut it out with a margin, optionally level the eyes.
public struct FaceExtraction: Sendable {
    /// nil: images are already face crops (`--detector skip`).
    public var detector: MTCNN?
    public var alignment: FaceAlignment
    /// Pixels added on every side of the detector's box (16: the `shared/faces/crops`
    /// convention, Sandberg's margin of 32 split over both sides).
    public var margin: Int
    /// Which face, counting from the largest (0).
    public var faceIndex: Int

    public init(detector: MTCNN?, alignment: FaceAlignment = .none, margin: Int = 16, faceIndex: Int = 0) {
        self.detector = detector
        self.alignment = alignment
        self.margin = margin
        self.faceIndex = faceIndex
    }

    /// No detection: the whole image is the face.
    public static let skip = FaceExtraction(detector: nil)

    /// MTCNN with the nets built into the library (`MTCNN.init(directory:…)` with no directory).
    public static func mtcnn(alignment: FaceAlignment = .none, margin: Int = 16, faceIndex: Int = 0,
                             options: MTCNNOptions = MTCNNOptions(),
                             verification: WeightsVerification = .warn,
                             engineOptions: EngineOptions = .default) throws -> FaceExtraction {
        FaceExtraction(detector: try MTCNN(options: options, verification: verification, engineOptions: engineOptions),
                       alignment: alignment, margin: margin, faceIndex: faceIndex)
    }

    /// The image to embed: the chosen face's crop (the largest by default), or the image
    /// itself without a detector. `source` names the image in the errors.
    public func faceImage(_ image: RGBImage, source: String) throws -> RGBImage {
        guard let detector else { return image }
        let faces = try detector.detect(image)
        guard !faces.isEmpty else { throw FaceNetError.noFaceFound(path: source) }
        guard faceIndex >= 0, faceIndex < faces.count else {
            throw FaceNetError.invalidImage(path: source, reason: "face \(faceIndex) asked for, but only \(faces.count) found (0 is the largest)")
        }
        return try FaceCrop.extract(image, face: faces[faceIndex], margin: margin, alignment: alignment)
    }
}
