/// General convolution as im2col + GEMM. Patch rows follow the output pixels (n, oh, ow);
/// each row holds the taps in (kh, kw, cin) order, matching the HWIO kernel's row order,
/// so the kernel is used as stored. Done in chunks of output rows to bound the scratch.
package enum Conv2DIm2col {
    /// Returns whether the GEMM also applied the rest of `epilogue` (see `GEMMWeights.finishes`).
    @discardableResult
    package static func run(_ g: Conv2DGeometry, rows: Range<Int>? = nil, input: UnsafePointer<Float>, kernel: GEMMWeights,
                    output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue = Epilogue(),
                    scratch: UnsafeMutablePointer<Float>, rowsPerChunk: Int) -> Bool {
        let rows = rows ?? 0..<g.rows
        var start = rows.lowerBound
        var finished = kernel.finishes(epilogue)
        while start < rows.upperBound {
            let count = min(rowsPerChunk, rows.upperBound - start)
            gatherPatches(g, input: input, firstRow: start, rowCount: count, into: scratch)
            finished = kernel.multiply(m: count, a: scratch, c: output + start * ldc, ldc: ldc, epilogue: epilogue) && finished
            start += count
        }
        return finished
    }

    /// Writes `rowCount` patch rows, starting at output pixel `firstRow`, into `patches`.
    static func gatherPatches(_ g: Conv2DGeometry, input: UnsafePointer<Float>, firstRow: Int,
                              rowCount: Int, into patches: UnsafeMutablePointer<Float>) {
        let pixelsPerImage = g.outHeight * g.outWidth
        let cin = g.inChannels
        var dst = patches
        for row in firstRow..<(firstRow + rowCount) {
            let n = row / pixelsPerImage
            let pixel = row - n * pixelsPerImage
            let oh = pixel / g.outWidth
            let ow = pixel - oh * g.outWidth
            let image = input + n * g.inHeight * g.inWidth * cin
            let iw0 = ow * g.strideWidth - g.padLeft
            // The kw taps of one kernel row are neighbouring pixels: one copy when all are inside.
            let rowInside = iw0 >= 0 && iw0 + g.kernelWidth <= g.inWidth
            for kh in 0..<g.kernelHeight {
                let ih = oh * g.strideHeight - g.padTop + kh
                guard ih >= 0, ih < g.inHeight else {
                    dst.initialize(repeating: 0, count: g.kernelWidth * cin)
                    dst += g.kernelWidth * cin
                    continue
                }
                if rowInside {
                    copyFloats(from: image + (ih * g.inWidth + iw0) * cin, to: dst, count: g.kernelWidth * cin)
                    dst += g.kernelWidth * cin
                    continue
                }
                for kw in 0..<g.kernelWidth {
                    let iw = iw0 + kw
                    if iw >= 0, iw < g.inWidth {
                        copyFloats(from: image + (ih * g.inWidth + iw) * cin, to: dst, count: cin)
                    } else {
                        dst.initialize(repeating: 0, count: cin)
                    }
                    dst += cin
                }
            }
        }
    }
}

/// Short copies (P-Net's 3-channel taps) as a plain loop: a memmove call costs more.
@inline(__always)
func copyFloats(from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int) {
    if count < 32 {
        for i in 0..<count { destination[i] = source[i] }
    } else {
        destination.update(from: source, count: count)
    }
}
