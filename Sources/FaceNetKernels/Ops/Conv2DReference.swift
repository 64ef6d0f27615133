/// Direct convolution from the definition, accumulated in Double: the reference the fast
/// paths are tested against. Input NHWC, kernel HWIO.
package enum Conv2DReference {
    package static func run(_ x: Tensor, kernel: Tensor, bias: [Float]?, config: Conv2DConfig) -> Tensor {
        let g = Conv2DGeometry(config: config, batch: x.shape[0], height: x.shape[1], width: x.shape[2], channels: x.shape[3])
        var y = Tensor(zeros: [g.batch, g.outHeight, g.outWidth, g.filters])
        for n in 0..<g.batch {
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    for co in 0..<g.filters {
                        var sum = Double(bias?[co] ?? 0)
                        for kh in 0..<g.kernelHeight {
                            let ih = oh * g.strideHeight - g.padTop + kh
                            guard ih >= 0, ih < g.inHeight else { continue }
                            for kw in 0..<g.kernelWidth {
                                let iw = ow * g.strideWidth - g.padLeft + kw
                                guard iw >= 0, iw < g.inWidth else { continue }
                                for ci in 0..<g.inChannels {
                                    let xv = x.scalars[((n * g.inHeight + ih) * g.inWidth + iw) * g.inChannels + ci]
                                    let kv = kernel.scalars[((kh * g.kernelWidth + kw) * g.inChannels + ci) * g.filters + co]
                                    sum += Double(xv) * Double(kv)
                                }
                            }
                        }
                        y.scalars[((n * g.outHeight + oh) * g.outWidth + ow) * g.filters + co] = Float(sum)
                    }
                }
            }
        }
        return ActivationReference.apply(config.activation, y)
    }
}
