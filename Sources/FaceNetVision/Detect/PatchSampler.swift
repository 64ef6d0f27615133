import FaceNetKernels
import FaceNetEngine

/// Bilinear patches of a box, as TensorFlow's `crop_and_resize` takes them for R-Net and
/// O-Net in the Python `mtcnn` package: the box is given normalised by the image size
/// (x / width), sampling points run from corner to corner scaled by (size − 1), and a
/// sample outside the image is 0 (the normalised value of a mid-grey pixel).
package enum PatchSampler {
    /// Writes a size × size × 3 patch of the HWC image for `box` into `output`, each sample
    /// mapped by `map` (bilinear weights sum to 1, so mapping after interpolation equals
    /// interpolating mapped pixels, up to float rounding). Samples outside the image are 0.
    package static func sample<Pixel: MTCNNPixel>(_ image: UnsafePointer<Pixel>, width: Int, height: Int, box: FaceBox, size: Int,
                                          map: PixelMap = .identity, into output: UnsafeMutablePointer<Float>) {
        let w = Float(width), h = Float(height)
        // TensorFlow takes the normalised corners as float32 and scales them by (extent − 1).
        let nx1 = box.x1 / w, nx2 = box.x2 / w, ny1 = box.y1 / h, ny2 = box.y2 / h
        let xScale = size > 1 ? (nx2 - nx1) * (w - 1) / Float(size - 1) : 0
        let yScale = size > 1 ? (ny2 - ny1) * (h - 1) / Float(size - 1) : 0
        var out = output
        for py in 0..<size {
            let inY = size > 1 ? ny1 * (h - 1) + Float(py) * yScale : 0.5 * (ny1 + ny2) * (h - 1)
            guard inY >= 0, inY <= h - 1 else {
                out.initialize(repeating: 0, count: size * 3)
                out += size * 3
                continue
            }
            let top = Int(inY.rounded(.down)), bottom = Int(inY.rounded(.up))
            let yLerp = inY - Float(top)
            let topRow = image + top * width * 3, bottomRow = image + bottom * width * 3
            for px in 0..<size {
                let inX = size > 1 ? nx1 * (w - 1) + Float(px) * xScale : 0.5 * (nx1 + nx2) * (w - 1)
                guard inX >= 0, inX <= w - 1 else {
                    out.initialize(repeating: 0, count: 3)
                    out += 3
                    continue
                }
                let left = Int(inX.rounded(.down)), right = Int(inX.rounded(.up))
                let xLerp = inX - Float(left)
                for c in 0..<3 {
                    let tl = topRow[left * 3 + c].floatValue, tr = topRow[right * 3 + c].floatValue
                    let bl = bottomRow[left * 3 + c].floatValue, br = bottomRow[right * 3 + c].floatValue
                    let upper = tl + (tr - tl) * xLerp
                    let lower = bl + (br - bl) * xLerp
                    out[c] = map(upper + (lower - upper) * yLerp)
                }
                out += 3
            }
        }
    }
}
