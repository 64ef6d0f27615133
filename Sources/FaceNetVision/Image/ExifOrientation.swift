import FaceNetKernels
import FaceNetEngine

/// EXIF orientation (TIFF tag 0x0112 in IFD0): how the stored pixels must be turned to
/// be upright. Values 1–8 as in the EXIF specification; 1 means already upright.
///
/// Layout read (TIFF, either byte order):
/// `"II" 2A 00` or `"MM" 00 2A`, then the 4-byte offset of IFD0 from the TIFF start;
/// IFD0 = 2-byte entry count, then 12-byte entries `tag(2) type(2) count(4) value(4)`.
/// Every read is bounds-checked; anything malformed yields `nil` (ignored, never an error).
package enum ExifOrientation {
    static let tag: UInt16 = 0x0112

    /// The orientation in `tiff` (the bytes after JPEG's `Exif\0\0`, or a PNG eXIf chunk),
    /// or nil when absent, out of 1...8, or the structure is broken.
    static func orientation(tiff: [UInt8]) -> Int? {
        guard tiff.count >= 8 else { return nil }
        let bigEndian: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): bigEndian = false
        case (0x4D, 0x4D): bigEndian = true
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            let a = Int(tiff[at]), b = Int(tiff[at + 1])
            return bigEndian ? a << 8 | b : b << 8 | a
        }
        func u32(_ at: Int) -> Int? {
            guard let hi = u16(bigEndian ? at : at + 2), let lo = u16(bigEndian ? at + 2 : at) else { return nil }
            return hi << 16 | lo
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for index in 0..<count {
            let entry = ifd + 2 + 12 * index
            guard let tag = u16(entry), let type = u16(entry + 2), let n = u32(entry + 4) else { return nil }
            guard tag == Int(Self.tag) else { continue }
            guard n >= 1 else { return nil }
            // SHORT (3) is what the standard says; LONG (4) seen in the wild holds the same value.
            let value: Int?
            switch type {
            case 3: value = u16(entry + 8)
            case 4: value = u32(entry + 8)
            default: value = nil
            }
            guard let value, (1...8).contains(value) else { return nil }
            return value
        }
        return nil
    }

    /// `image` turned upright for `orientation` (as Pillow's `ImageOps.exif_transpose`):
    /// 2 mirror left-right, 3 rotate 180°, 4 mirror top-bottom, 5 transpose,
    /// 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° counter-clockwise.
    package static func apply(_ orientation: Int, to image: RGBImage) throws -> RGBImage {
        guard (2...8).contains(orientation) else { return image }
        let w = image.width, h = image.height
        let swaps = orientation >= 5
        let outW = swaps ? h : w, outH = swaps ? w : h
        // Source pixel of output (x, y) is (sx, sy) = (ax·x + bx·y + cx, ay·x + by·y + cy).
        let (ax, bx, cx, ay, by, cy): (Int, Int, Int, Int, Int, Int)
        switch orientation {
        case 2: (ax, bx, cx, ay, by, cy) = (-1, 0, w - 1, 0, 1, 0)
        case 3: (ax, bx, cx, ay, by, cy) = (-1, 0, w - 1, 0, -1, h - 1)
        case 4: (ax, bx, cx, ay, by, cy) = (1, 0, 0, 0, -1, h - 1)
        case 5: (ax, bx, cx, ay, by, cy) = (0, 1, 0, 1, 0, 0)
        case 6: (ax, bx, cx, ay, by, cy) = (0, 1, 0, -1, 0, h - 1)
        case 7: (ax, bx, cx, ay, by, cy) = (0, -1, w - 1, -1, 0, h - 1)
        default: (ax, bx, cx, ay, by, cy) = (0, -1, w - 1, 1, 0, 0) // 8
        }
        let step = (ay * w + ax) * 3 // source offset change per output pixel along a row
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outH {
                    var s = ((by * y + cy) * w + (bx * y + cx)) * 3
                    var d = y * outW * 3
                    for _ in 0..<outW {
                        dst[d] = src[s]
                        dst[d + 1] = src[s + 1]
                        dst[d + 2] = src[s + 2]
                        s += step
                        d += 3
                    }
                }
            }
        }
        return try RGBImage(width: outW, height: outH, pixels: out)
    }
}
