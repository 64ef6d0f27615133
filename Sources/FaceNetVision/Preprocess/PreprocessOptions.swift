import FaceNetKernels
import FaceNetEngine

/// How a decoded face image becomes the model's 160×160×3 float input.
public struct PreprocessOptions: Sendable, Equatable {
    /// Resampling filter used to reach the model size.
    public enum Resize: String, Sendable, CaseIterable {
        /// OpenCV `INTER_LINEAR` semantics (what deepface uses): 2×2 taps, half-pixel centres.
        case bilinear
        /// Pillow's `Image.BILINEAR`, which widens its triangle filter when shrinking
        /// (antialiased): what made the shared crops and `synthetic128` inputs.
        case bilinearAA = "bilinear-aa"
        /// OpenCV `INTER_AREA`: pixel-area averaging when shrinking.
        case area
    }

    public enum Crop: String, Sendable, CaseIterable {
        /// Largest centred square, then resize.
        case center
        /// Resize the whole image (aspect ratio not kept unless `letterbox`).
        case none
    }

    /// Channel order of the output. It only permutes values: the VGGFace means belong to a
    /// colour (blue always loses 93.5940), so `.bgr` gives deepface's tensor exactly and
    /// `.rgb` the same values reversed (see `PixelNormalization`).
    public enum ColorOrder: String, Sendable, CaseIterable {
        case rgb, bgr
    }

    /// Pixel normalisations. deepface's modes are named as deepface names them.
    public enum Normalization: String, Sendable, CaseIterable {
        /// Sandberg's: (x − mean) / max(std, 1/√N) over the whole image.
        case prewhiten
        /// (x − 127.5) / 128.
        case fixed
        /// deepface `base`: x / 255.
        case base
        /// deepface `raw`: x in [0, 255].
        case raw
        /// deepface `Facenet`: (x − mean) / std over the image (x in [0, 255]).
        case facenet = "Facenet"
        /// deepface `Facenet2018`: x / 127.5 − 1.
        case facenet2018 = "Facenet2018"
        /// deepface `VGGFace`: per-channel mean subtraction (BGR means 93.5940, 104.7624, 129.1863).
        case vggFace = "VGGFace"
        /// deepface `VGGFace2`: per-channel mean subtraction (BGR means 91.4953, 103.8827, 131.0912).
        case vggFace2 = "VGGFace2"
        /// deepface `ArcFace`: (x − 127.5) / 128.
        case arcFace = "ArcFace"
    }

    public var resize: Resize
    public var crop: Crop
    /// deepface's letterbox: aspect-preserving resize into the target, centred black padding
    /// (`Letterbox`). Applied after `crop`, with the `resize` filter.
    public var letterbox: Bool
    public var color: ColorOrder
    public var normalization: Normalization
    /// Model input side (FaceNet: 160).
    public var size: Int

    public init(resize: Resize = .bilinearAA, crop: Crop = .center, letterbox: Bool = false,
                color: ColorOrder = .rgb, normalization: Normalization = .fixed, size: Int = 160) {
        self.resize = resize
        self.crop = crop
        self.letterbox = letterbox
        self.color = color
        self.normalization = normalization
        self.size = size
    }
}
