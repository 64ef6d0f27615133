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
    /// When the detector finds no face, embed the whole image instead of failing with
    /// `noFaceFound` (deepface's `enforce_detection=False`). Off by default: a photo with no
    /// face usually is a mistake worth hearing about.
    public var fallbackToWholeImage: Bool

    public init(detector: MTCNN?, alignment: FaceAlignment = .none, margin: Int = 16, faceIndex: Int = 0,
                fallbackToWholeImage: Bool = false) {
        self.detector = detector
        self.alignment = alignment
        self.margin = margin
        self.faceIndex = faceIndex
        self.fallbackToWholeImage = fallbackToWholeImage
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
    /// itself without a detector (or, with `fallbackToWholeImage`, when none is found).
    /// `source` names the image in the errors.
    public func faceImage(_ image: RGBImage, source: String) throws -> RGBImage {
        try chosenFace(image, source: source).image
    }

    /// `faceImage`, with the face it came from (nil for the whole image) and how many the
    /// detector found.
    func chosenFace(_ image: RGBImage, source: String) throws -> (image: RGBImage, face: DetectedFace?, found: Int) {
        guard let detector else { return (image, nil, 0) }
        let faces = try detector.detect(image)
        if faces.isEmpty, fallbackToWholeImage { return (image, nil, 0) }
        guard !faces.isEmpty else { throw FaceNetError.noFaceFound(path: source) }
        guard faceIndex >= 0, faceIndex < faces.count else {
            throw FaceNetError.invalidImage(path: source, reason: "face \(faceIndex) asked for, but only \(faces.count) found (0 is the largest)")
        }
        let face = faces[faceIndex]
        return (try FaceCrop.extract(image, face: face, margin: margin, alignment: alignment), face, faces.count)
    }

    /// Every face's crop with its detection, largest first, at most `maxFaces` (all when
    /// nil); without a detector (or, with `fallbackToWholeImage`, when none is found) the
    /// whole image with no detection.
    func allFaces(_ image: RGBImage, source: String, maxFaces: Int?) throws -> [(image: RGBImage, face: DetectedFace?)] {
        guard let detector else { return [(image, nil)] }
        let faces = try detector.detect(image)
        if faces.isEmpty, fallbackToWholeImage { return [(image, nil)] }
        guard !faces.isEmpty else { throw FaceNetError.noFaceFound(path: source) }
        return try faces.prefix(maxFaces ?? faces.count).map {
            (try FaceCrop.extract(image, face: $0, margin: margin, alignment: alignment), $0)
        }
    }
}
