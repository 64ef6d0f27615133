/// Pooling geometry: NHWC input → NHWC output with the same channels.
package struct Pool2DGeometry: Sendable, Equatable {
    package let batch, inHeight, inWidth, channels, outHeight, outWidth: Int
    package let poolHeight, poolWidth, strideHeight, strideWidth, padTop, padLeft: Int

    package init(config: Pool2DConfig, batch: Int, height: Int, width: Int, channels: Int) {
        self.batch = batch
        inHeight = height
        inWidth = width
        self.channels = channels
        poolHeight = config.pool.height
        poolWidth = config.pool.width
        strideHeight = config.strides.height
        strideWidth = config.strides.width
        outHeight = convolvedSize(height, kernel: poolHeight, stride: strideHeight, padding: config.padding)
        outWidth = convolvedSize(width, kernel: poolWidth, stride: strideWidth, padding: config.padding)
        padTop = paddingBefore(height, output: outHeight, kernel: poolHeight, stride: strideHeight, padding: config.padding)
        padLeft = paddingBefore(width, output: outWidth, kernel: poolWidth, stride: strideWidth, padding: config.padding)
    }
}

/// Max and average pooling. Padding cells never count: max ignores them, average divides
/// by the number of real cells in the window (TensorFlow's rule).
package enum PoolingKernel {
    /// `outputStride`: floats between output pixels (the channel count, or more when the
    /// output is a channel slice of a concatenation).
    package static func run(_ g: Pool2DGeometry, average: Bool, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                    outputStride: Int? = nil) {
        let c = g.channels
        let stride = outputStride ?? c
        var out = output
        for n in 0..<g.batch {
            let image = input + n * g.inHeight * g.inWidth * c
            for oh in 0..<g.outHeight {
                let h0 = max(oh * g.strideHeight - g.padTop, 0)
                let h1 = min(oh * g.strideHeight - g.padTop + g.poolHeight, g.inHeight)
                for ow in 0..<g.outWidth {
                    let w0 = max(ow * g.strideWidth - g.padLeft, 0)
                    let w1 = min(ow * g.strideWidth - g.padLeft + g.poolWidth, g.inWidth)
                    // Channels innermost: each window row is a contiguous run of w × C floats. The first
                    // cell by a plain loop: a memmove call per output pixel cost more than its ~10 floats.
                    let first = image + (h0 * g.inWidth + w0) * c
                    for k in 0..<c { out[k] = first[k] }
                    for ih in h0..<h1 {
                        for iw in w0..<w1 where ih != h0 || iw != w0 {
                            let src = image + (ih * g.inWidth + iw) * c
                            if average {
                                for k in 0..<c { out[k] += src[k] }
                            } else {
                                for k in 0..<c { out[k] = max(out[k], src[k]) }
                            }
                        }
                    }
                    if average {
                        let inverse = 1 / Float((h1 - h0) * (w1 - w0))
                        for k in 0..<c { out[k] *= inverse }
                    }
                    out += stride
                }
            }
        }
    }

    /// Mean over H and W: (N, H, W, C) → (N, C).
    package static func globalAverage(batch: Int, pixels: Int, channels: Int, input: UnsafePointer<Float>,
                              output: UnsafeMutablePointer<Float>) {
        let inverse = 1 / Float(pixels)
        for n in 0..<batch {
            let out = output + n * channels
            var src = input + n * pixels * channels
            out.update(from: src, count: channels)
            for _ in 1..<max(pixels, 1) {
                src += channels
                for k in 0..<channels { out[k] += src[k] }
            }
            for k in 0..<channels { out[k] *= inverse }
        }
    }
}

package enum PoolingReference {
    /// Window by window, padding cells skipped by bounds checks, accumulated in Double.
    package static func run(_ x: Tensor, config: Pool2DConfig, average: Bool) -> Tensor {
        let g = Pool2DGeometry(config: config, batch: x.shape[0], height: x.shape[1], width: x.shape[2], channels: x.shape[3])
        var y = Tensor(zeros: [g.batch, g.outHeight, g.outWidth, g.channels])
        for n in 0..<g.batch {
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    for ch in 0..<g.channels {
                        var best = -Double.infinity
                        var sum = 0.0
                        var cells = 0
                        for ph in 0..<g.poolHeight {
                            for pw in 0..<g.poolWidth {
                                let ih = oh * g.strideHeight - g.padTop + ph
                                let iw = ow * g.strideWidth - g.padLeft + pw
                                guard ih >= 0, ih < g.inHeight, iw >= 0, iw < g.inWidth else { continue }
                                let v = Double(x.scalars[((n * g.inHeight + ih) * g.inWidth + iw) * g.channels + ch])
                                best = max(best, v)
                                sum += v
                                cells += 1
                            }
                        }
                        y.scalars[((n * g.outHeight + oh) * g.outWidth + ow) * g.channels + ch] =
                            Float(average ? sum / Double(cells) : best)
                    }
                }
            }
        }
        return y
    }

    package static func globalAverage(_ x: Tensor) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var y = Tensor(zeros: [n, c])
        for b in 0..<n {
            for ch in 0..<c {
                var sum = 0.0
                for p in 0..<(h * w) { sum += Double(x.scalars[(b * h * w + p) * c + ch]) }
                y.scalars[b * c + ch] = Float(sum / Double(h * w))
            }
        }
        return y
    }
}
