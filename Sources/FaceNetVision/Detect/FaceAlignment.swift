import Foundation
import FaceNetKernels
import FaceNetEngine

/// How a detected face is cut out of its photo before preprocessing.
public enum FaceAlignment: String, Sendable, CaseIterable {
    /// The box widened by the margin, as is (how `shared/faces/crops` were made).
    case none
    /// Rotated about the box centre so the eyes are level, then the same region.
    case eyes
}

/// Cuts faces out of photos: the detector's box (rounded as the Python `mtcnn` package
/// reports it) widened by a margin on every side and clipped to the image.
public enum FaceCrop {
    /// The integer crop rectangle (x, y, width, height) for a face.
    public static func region(of face: DetectedFace, margin: Int, imageWidth: Int, imageHeight: Int) -> (x: Int, y: Int, width: Int, height: Int) {
        let xywh = face.box.roundedXYWH
        let x1 = max(0, xywh[0] - margin), y1 = max(0, xywh[1] - margin)
        let x2 = min(imageWidth, xywh[0] + xywh[2] + margin), y2 = min(imageHeight, xywh[1] + xywh[3] + margin)
        return (x1, y1, max(1, x2 - x1), max(1, y2 - y1))
    }

    /// The face region of `image` at its own resolution (preprocessing resizes it later).
    public static func extract(_ image: RGBImage, face: DetectedFace, margin: Int = 16,
                               alignment: FaceAlignment = .none) throws -> RGBImage {
        let r = region(of: face, margin: margin, imageWidth: image.width, imageHeight: image.height)
        guard r.x < image.width, r.y < image.height else {
            throw FaceNetError.invalidArgument("face box \(face.box.roundedXYWH) lies outside the \(image.width)×\(image.height) image")
        }
        let width = min(r.width, image.width - r.x), height = min(r.height, image.height - r.y)
        switch alignment {
        case .none:
            let window = PixelWindow(width: image.width, height: image.height, channels: 3)
                .cropped(x: r.x, y: r.y, width: width, height: height)
            return try RGBImage(width: width, height: height, pixels: image.pixels.withUnsafeBufferPointer { window.packed($0) })
        case .eyes:
            return try rotated(image, region: (r.x, r.y, width, height), angle: eyeAngle(face.landmarks),
                               centre: FacePoint(x: (face.box.x1 + face.box.x2) / 2, y: (face.box.y1 + face.box.y2) / 2))
        }
    }

    /// Angle of the line from the left eye to the right eye, radians (y down: positive
    /// when the right eye is lower).
    public static func eyeAngle(_ landmarks: FaceLandmarks) -> Double {
        atan2(Double(landmarks.rightEye.y - landmarks.leftEye.y), Double(landmarks.rightEye.x - landmarks.leftEye.x))
    }

    /// The region of the image turned by −angle about `centre`: output pixel p samples the
    /// photo at centre + R(angle)·(p − centre), bilinear, edges clamped.
    static func rotated(_ image: RGBImage, region: (x: Int, y: Int, width: Int, height: Int), angle: Double,
                        centre: FacePoint) throws -> RGBImage {
        let (c, s) = (cos(angle), sin(angle))
        let (cx, cy) = (Double(centre.x), Double(centre.y))
        var pixels = [UInt8](repeating: 0, count: region.width * region.height * 3)
        let maxX = image.width - 1, maxY = image.height - 1
        image.pixels.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                for row in 0..<region.height {
                    for column in 0..<region.width {
                        // Pixel centres at +0.5 in continuous coordinates.
                        let px = Double(region.x + column) + 0.5 - cx, py = Double(region.y + row) + 0.5 - cy
                        let sx = cx + c * px - s * py - 0.5, sy = cy + s * px + c * py - 0.5
                        let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                        let fx = sx - Double(x0), fy = sy - Double(y0)
                        let xa = min(max(x0, 0), maxX), xb = min(max(x0 + 1, 0), maxX)
                        let ya = min(max(y0, 0), maxY), yb = min(max(y0 + 1, 0), maxY)
                        for ch in 0..<3 {
                            let tl = Double(src[(ya * image.width + xa) * 3 + ch]), tr = Double(src[(ya * image.width + xb) * 3 + ch])
                            let bl = Double(src[(yb * image.width + xa) * 3 + ch]), br = Double(src[(yb * image.width + xb) * 3 + ch])
                            let top = tl + (tr - tl) * fx, bottom = bl + (br - bl) * fx
                            let v = top + (bottom - top) * fy
                            dst[(row * region.width + column) * 3 + ch] = UInt8(min(255, max(0, v.rounded())))
                        }
                    }
                }
            }
        }
        return try RGBImage(width: region.width, height: region.height, pixels: pixels)
    }
}
