import FaceNetKernels
import FaceNetEngine

/// A point in image pixel coordinates (x right, y down; pixel centres at integers).
public struct FacePoint: Sendable, Equatable, Codable {
    public var x: Float
    public var y: Float

    public init(x: Float, y: Float) {
        self.x = x
        self.y = y
    }
}

/// An axis-aligned box in pixel coordinates: corners (x1, y1) and (x2, y2), x2 ≥ x1.
public struct FaceBox: Sendable, Equatable, Codable {
    public var x1: Float
    public var y1: Float
    public var x2: Float
    public var y2: Float

    public init(x1: Float, y1: Float, x2: Float, y2: Float) {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
    }

    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }
    /// Area as MTCNN counts it (no +1): what its NMS compares.
    public var area: Float { max(0, width) * max(0, height) }

    /// `[x, y, width, height]`, each rounded half-to-even (as numpy's `round`, which the
    /// Python `mtcnn` package uses for its JSON).
    public var roundedXYWH: [Int] {
        [x1, y1, width, height].map { Int($0.rounded(.toNearestOrEven)) }
    }

    /// The overlap area with `other`.
    public func intersection(_ other: FaceBox) -> Float {
        let w = min(x2, other.x2) - max(x1, other.x1)
        let h = min(y2, other.y2) - max(y1, other.y1)
        return max(0, w) * max(0, h)
    }

    /// Intersection over union (0 when both are empty).
    public func iou(_ other: FaceBox) -> Float {
        let inter = intersection(other)
        let union = area + other.area - inter
        return union > 0 ? inter / union : 0
    }

    /// The square of side max(width, height) with the same centre (MTCNN's `resize_to_square`).
    func squared() -> FaceBox {
        let side = max(width, height)
        let left = x1 + width * 0.5 - side * 0.5
        let top = y1 + height * 0.5 - side * 0.5
        return FaceBox(x1: left, y1: top, x2: left + side, y2: top + side)
    }
}

/// The five O-Net landmarks. "Left" and "right" are as the Python `mtcnn` package names
/// them: `leftEye` is the eye on the image's left.
public struct FaceLandmarks: Sendable, Equatable, Codable {
    public var leftEye: FacePoint
    public var rightEye: FacePoint
    public var nose: FacePoint
    public var mouthLeft: FacePoint
    public var mouthRight: FacePoint

    public init(leftEye: FacePoint, rightEye: FacePoint, nose: FacePoint, mouthLeft: FacePoint, mouthRight: FacePoint) {
        self.leftEye = leftEye
        self.rightEye = rightEye
        self.nose = nose
        self.mouthLeft = mouthLeft
        self.mouthRight = mouthRight
    }

    /// In the order the network emits them.
    public var points: [FacePoint] { [leftEye, rightEye, nose, mouthLeft, mouthRight] }
}

/// One detected face.
public struct DetectedFace: Sendable, Equatable, Codable {
    public var box: FaceBox
    /// O-Net's face probability.
    public var confidence: Float
    public var landmarks: FaceLandmarks

    public init(box: FaceBox, confidence: Float, landmarks: FaceLandmarks) {
        self.box = box
        self.confidence = confidence
        self.landmarks = landmarks
    }
}
