import Foundation
import CBLAS

/// Everything a convolution kernel needs to know about one call: NHWC input
/// (batch, inHeight, inWidth, inChannels) → NHWC output (batch, outHeight, outWidth, filters),
/// HWIO kernel, TensorFlow padding offsets.
package struct Conv2DGeometry: Sendable, Equatable {
    package let batch, inHeight, inWidth, inChannels: Int
    package let outHeight, outWidth, filters: Int
    package let kernelHeight, kernelWidth, strideHeight, strideWidth: Int
    package let padTop, padLeft: Int

    package init(config: Conv2DConfig, batch: Int, height: Int, width: Int, channels: Int) {
        self.batch = batch
        inHeight = height
        inWidth = width
        inChannels = channels
        filters = config.filters
        kernelHeight = config.kernel.height
        kernelWidth = config.kernel.width
        strideHeight = config.strides.height
        strideWidth = config.strides.width
        outHeight = convolvedSize(height, kernel: kernelHeight, stride: strideHeight, padding: config.padding)
        outWidth = convolvedSize(width, kernel: kernelWidth, stride: strideWidth, padding: config.padding)
        padTop = paddingBefore(height, output: outHeight, kernel: kernelHeight, stride: strideHeight, padding: config.padding)
        padLeft = paddingBefore(width, output: outWidth, kernel: kernelWidth, stride: strideWidth, padding: config.padding)
    }

    /// GEMM sizes: M output pixels, N filters, K = kernel taps × input channels.
    package var rows: Int { batch * outHeight * outWidth }
    package var depth: Int { kernelHeight * kernelWidth * inChannels }

    /// A 1×1, stride-1 convolution is a plain GEMM on the NHWC input, no copy.
    package var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
    }

    /// im2col rows per chunk: enough that the patch chunk stays in L2 (`chunkFloats`,
    /// `EngineOptions.im2colChunkFloats`) while GEMM gets it, but at least 256 rows, so
    /// OpenBLAS's re-packing of the kernel on every call stays a small share; never over
    /// `scratchLimit` floats.
    func im2colRowsPerChunk(scratchLimit: Int, chunkFloats: Int) -> Int {
        let k = max(depth, 1)
        return max(1, min(rows, scratchLimit / k, max(256, chunkFloats / k)))
    }
}

/// A convolution's weights as its fast path reads them, packed once at load.
package enum ConvWeights: Sendable {
    /// HWIO as one (kernelHeight·kernelWidth·inChannels × filters) GEMM operand: pointwise,
    /// implicit-GEMM and im2col convolutions.
    case direct(GEMMWeights)
    /// The Winograd-transformed kernel: `tile.positions` matrices of (inChannels × filters).
    /// The direct kernel is not kept: every call of the layer can take this path.
    case winograd(GEMMWeights, WinogradTile)

    /// The packed B operand, whichever form it has.
    package var gemm: GEMMWeights {
        switch self {
        case .direct(let kernel), .winograd(let kernel, _): kernel
        }
    }

    package var winogradTile: WinogradTile? {
        if case .winograd(_, let tile) = self { tile } else { nil }
    }
}

/// The fast paths of Conv2D, each ending in the fused epilogue. The output rows may be
/// `ldc` floats apart (a channel slice of a concatenation).
package enum Conv2DKernel {
    /// Upper bound on the im2col scratch, in floats (16 MiB): big enough for GEMMs of a
    /// few thousand rows, small enough to stay in memory budget at any batch size.
    package static let scratchLimit = 4 << 20

    /// Floats of scratch this geometry needs (0 for pointwise) when run with `tuning`.
    package static func scratchCount(_ g: Conv2DGeometry, weights: ConvWeights, tuning: ConvolutionTuning) -> Int {
        if let tile = weights.winogradTile {
            return Conv2DWinograd.scratchCount(g, tile, scratchLimit: scratchLimit, tuning: tuning)
        }
        return g.isPointwise ? 0 : g.im2colRowsPerChunk(scratchLimit: scratchLimit, chunkFloats: tuning.im2colChunkFloats) * g.depth
    }

    /// Runs the convolution with its weights on their path. `scratch` holds
    /// `scratchCount(g, weights:, tuning:)` floats (the session checks that when it plans).
    package static func run(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weights: ConvWeights,
                    output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue,
                    scratch: UnsafeMutablePointer<Float>, tuning: ConvolutionTuning) {
        switch weights {
        case .winograd(let u, let tile):
            Conv2DWinograd.run(g, tile: tile, input: input, u: u, output: output, ldc: ldc, epilogue: epilogue,
                               scratch: scratch, scratchLimit: scratchLimit, tuning: tuning)
        case .direct(let kernel):
            runRows(g, rows: 0..<g.rows, input: input, kernel: kernel, output: output, ldc: ldc, epilogue: epilogue,
                    scratch: scratch, tuning: tuning)
        }
    }

    /// The GEMM paths (pointwise, implicit im2col or im2col) and the epilogue for output rows `rows` only, so
    /// threads can share a convolution by rows. `scratch`: as for `run` (unread by the first two paths).
    package static func runRows(_ g: Conv2DGeometry, rows: Range<Int>, input: UnsafePointer<Float>, kernel: GEMMWeights,
                        output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue, scratch: UnsafeMutablePointer<Float>,
                        tuning: ConvolutionTuning) {
        guard !rows.isEmpty else { return }  // this thread's share is empty
        var finished = false
        if g.isPointwise {
            finished = kernel.multiply(m: rows.count, a: input + rows.lowerBound * g.inChannels, c: output + rows.lowerBound * ldc,
                                       ldc: ldc, epilogue: epilogue)
        } else if tuning.implicitGEMM, Conv2DImplicitGEMM.applies(to: g, kernel: kernel) {
            finished = Conv2DImplicitGEMM.run(g, rows: rows, input: input, kernel: kernel, output: output, ldc: ldc,
                                              epilogue: epilogue)
        } else {
            finished = Conv2DIm2col.run(g, rows: rows, input: input, kernel: kernel, output: output, ldc: ldc,
                                        epilogue: epilogue, scratch: scratch,
                                        rowsPerChunk: g.im2colRowsPerChunk(scratchLimit: scratchLimit, chunkFloats: tuning.im2colChunkFloats))
        }
        if !finished { epilogue.apply(to: output + rows.lowerBound * ldc, rows: rows.count, columns: g.filters, ldc: ldc) }
    }

    /// A pointwise convolution (or any GEMM) for filters `columns` only: how threads share
    /// one whose rows are too few to split.
    package static func runColumns(_ g: Conv2DGeometry, columns: Range<Int>, input: UnsafePointer<Float>, kernel: GEMMWeights,
                           output: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue) {
        guard !columns.isEmpty else { return }  // this thread's share is empty
        if kernel.multiply(m: g.rows, a: input, c: output, ldc: ldc, columns: columns, epilogue: epilogue) { return }
        epilogue.apply(to: output + columns.lowerBound, rows: g.rows, columns: columns.count, ldc: ldc,
                       firstColumn: columns.lowerBound)
    }
}

/// C = alpha · A·B (+ C when `accumulate`) for row-major A (m × k, rows `lda` apart), B (k × n, rows `ldb`
/// apart), C (m × n, rows `ldc` apart), with `blas` (loaded: `GEMMWeights` holds it from its start).
@inline(__always)
func sgemm(_ blas: BLAS.Library, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int? = nil, b: UnsafePointer<Float>,
           ldb: Int? = nil, c: UnsafeMutablePointer<Float>, ldc: Int? = nil, alpha: Float = 1, accumulate: Bool = false) {
    // An empty product (`GEMMWeights` has k, n > 0; m is 0 for an empty share): nothing to do.
    guard m > 0, n > 0, k > 0 else { return }
    blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(k),
               alpha, a, blasint(lda ?? k), b, blasint(ldb ?? n), accumulate ? 1 : 0, c, blasint(ldc ?? n))
}
