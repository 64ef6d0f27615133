import FaceNetKernels
import FaceNetEngine

/// Draws detections onto a photo, for people who would rather look than read: each box
/// as a rectangle outline, each landmark as a filled square.
public enum FaceDrawing {
    public static func draw(_ faces: [DetectedFace], on image: RGBImage) -> RGBImage {
        var canvas = image
        // Lines about 0.3% of the larger side, at least 2 pixels.
        let thickness = max(2, max(image.width, image.height) / 300)
        for (index, face) in faces.enumerated() {
            // The largest face in green, the others in yellow.
            let colour: (UInt8, UInt8, UInt8) = index == 0 ? (0, 230, 64) : (255, 210, 0)
            let b = face.box
            let (x1, y1, x2, y2) = (Int(b.x1.rounded()), Int(b.y1.rounded()), Int(b.x2.rounded()), Int(b.y2.rounded()))
            fill(&canvas, x: x1, y: y1, width: x2 - x1 + 1, height: thickness, colour)
            fill(&canvas, x: x1, y: y2 - thickness + 1, width: x2 - x1 + 1, height: thickness, colour)
            fill(&canvas, x: x1, y: y1, width: thickness, height: y2 - y1 + 1, colour)
            fill(&canvas, x: x2 - thickness + 1, y: y1, width: thickness, height: y2 - y1 + 1, colour)
            let dot = thickness * 2
            for point in face.landmarks.points {
                fill(&canvas, x: Int(point.x.rounded()) - dot / 2, y: Int(point.y.rounded()) - dot / 2,
                     width: dot, height: dot, (255, 40, 40))
            }
        }
        return canvas
    }

    /// Fills a rectangle, clipped to the image.
    static func fill(_ image: inout RGBImage, x: Int, y: Int, width: Int, height: Int, _ colour: (UInt8, UInt8, UInt8)) {
        let left = max(0, x), right = min(image.width, x + width)
        let top = max(0, y), bottom = min(image.height, y + height)
        guard left < right, top < bottom else { return }
        let w = image.width
        image.pixels.withUnsafeMutableBufferPointer { p in
            for row in top..<bottom {
                for column in left..<right {
                    let i = (row * w + column) * 3
                    p[i] = colour.0
                    p[i + 1] = colour.1
                    p[i + 2] = colour.2
                }
            }
        }
    }
}
