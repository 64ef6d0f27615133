/// 1×1 stride-1 convolution: the NHWC input already is the (pixels × inChannels) matrix,
/// so one GEMM with the (inChannels × filters) kernel gives the NHWC output.
enum Conv2DPointwise {
    static func run(_ g: Conv2DGeometry, input: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
                    output: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, accumulate: Bool) {
        sgemm(m: g.rows, n: g.filters, k: g.inChannels, a: input, b: kernel, c: output, ldc: ldc,
              alpha: alpha, accumulate: accumulate)
    }
}
