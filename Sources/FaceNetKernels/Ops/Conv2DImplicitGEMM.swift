import Foundation

/// Convolution as a GEMM that reads its patches straight from the NHWC input ("implicit
/// im2col"), for windows that never leave the image (`valid` padding). Within one output
/// row, output pixel ow's patch is kernelHeight runs of kernelWidth·inChannels contiguous
/// floats, run kh starting at input[oh·sh + kh][ow·sw][0]: so pixel ow+1's patch is
/// sw·inChannels floats further on, and the panel GEMM walks it with
/// lda = sw·inChannels and one run per kernel row, `inWidth·inChannels` apart. Nothing
/// is copied; the weights' row order (kh, kw, cin) is the patches' order.
/// `EngineOptions.implicitGEMM` false sends these convolutions through im2col instead.
package enum Conv2DImplicitGEMM {
    /// Output rows narrower than this go through im2col: a GEMM per output row of a few
    /// pixels would re-read the weights once per row.
    static let minimumOutputWidth = 12
    package static func applies(to g: Conv2DGeometry, kernel: GEMMWeights) -> Bool {
        kernel.backend == .panels && !g.isPointwise && g.padTop == 0 && g.padLeft == 0
            && (g.outHeight - 1) * g.strideHeight + g.kernelHeight <= g.inHeight
            && (g.outWidth - 1) * g.strideWidth + g.kernelWidth <= g.inWidth
            && g.outWidth >= minimumOutputWidth
    }

    /// Output pixels `rows` (n, oh, ow order), C rows `ldc` apart; returns whether the
    /// epilogue was applied too (see `GEMMWeights.finishes`).
    package static func run(_ g: Conv2DGeometry, rows: Range<Int>, input: UnsafePointer<Float>, kernel: GEMMWeights,
                    output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue) -> Bool {
        var finished = kernel.finishes(epilogue)
        let lda = g.strideWidth * g.inChannels, runs = (count: g.kernelHeight, stride: g.inWidth * g.inChannels)
        var row = rows.lowerBound
        while row < rows.upperBound {
            // The rest of this output row, or of the range.
            let imageRow = row / g.outWidth
            let ow = row - imageRow * g.outWidth
            let count = min(g.outWidth - ow, rows.upperBound - row)
            let n = imageRow / g.outHeight, oh = imageRow - n * g.outHeight
            let patch = input + ((n * g.inHeight + oh * g.strideHeight) * g.inWidth + ow * g.strideWidth) * g.inChannels
            finished = kernel.multiply(m: count, a: patch, lda: lda, runs: runs, c: output + row * ldc, ldc: ldc,
                                       epilogue: epilogue) && finished
            row += count
        }
        return finished
    }
}
