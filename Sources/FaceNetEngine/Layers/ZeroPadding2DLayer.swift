import Foundation
import FaceNetKernels

/// Rows and columns of zeros around each image, as Keras's `((top, bottom), (left, right))`.
public struct ZeroPadding2DConfig: Sendable, Equatable {
    public var top: Int
    public var bottom: Int
    public var left: Int
    public var right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top
        self.bottom = bottom
        self.left = left
        self.right = right
    }
}

/// Keras `ZeroPadding2D` (channels-last): each NHWC image copied into the middle of a
/// larger one of zeros. VGG-Face and ArcFace models put one before a `valid` conv or pool.
/// No weights; an unfused step (`BoundOp.layer`).
package struct ZeroPadding2DLayer: LayerDefinition, BoundLayer {
    let config: ZeroPadding2DConfig

    package static let kerasClassNames = ["ZeroPadding2D"]

    /// `padding` is an int (every side), or two entries, for height then width, each an int
    /// (both sides) or a `[before, after]` pair: `1`, `[1, 2]`, `[[1, 2], [0, 3]]`, `[1, [0, 3]]`.
    /// Absent, Keras's default 1. Only `data_format` channels_last (or null) runs.
    package static func parse(className: String, config c: [String: Any], reader r: ConfigReader) throws -> LayerKind {
        try r.requireChannelsLast(c)
        let raw = c["padding"].flatMap { $0 is NSNull ? nil : $0 } ?? 1
        func sides(_ value: Any, _ what: String) throws -> (Int, Int) {
            if let pair = value as? [Any] {
                guard pair.count == 2 else {
                    throw r.error("'padding' \(what) \(pair) has \(pair.count) values, expected 2 ([before, after])")
                }
                return (try size(pair[0], what), try size(pair[1], what))
            }
            let both = try size(value, what)
            return (both, both)
        }
        func size(_ value: Any, _ what: String) throws -> Int {
            let n = try r.int(value, "padding")
            guard (0...(1 << 16)).contains(n) else { throw r.error("'padding' \(what) size \(n) is out of range (0…65536)") }
            return n
        }
        let height: (Int, Int), width: (Int, Int)
        if let entries = raw as? [Any] {
            guard entries.count == 2 else {
                throw r.error("'padding' \(entries) has \(entries.count) entries, expected 2 (height, width)")
            }
            height = try sides(entries[0], "height")
            width = try sides(entries[1], "width")
        } else {
            height = try sides(raw, "height")
            width = height
        }
        return .zeroPadding2D(ZeroPadding2DConfig(top: height.0, bottom: height.1, left: width.0, right: width.1))
    }

    package func outputShape(_ inputs: LayerInputs) throws -> SymbolicShape {
        let (h, w, c) = try inputs.image()
        func padded(_ size: Int?, _ before: Int, _ after: Int) throws -> Int? {
            guard let size else { return nil }
            let (sum, overflow) = size.addingReportingOverflow(before + after)
            guard !overflow else { throw inputs.fail("the padded size \(size) + \(before + after) does not fit an Int") }
            return sum
        }
        return [try padded(h, config.top, config.bottom), try padded(w, config.left, config.right), c]
    }

    package func weightSpecs(_ inputs: LayerInputs) throws -> [WeightSpec] { [] }

    package func flops(inputShapes: [[Int]], outputShape: [Int]) -> Int { 0 }

    package func bind(_ binding: LayerBinding) throws -> BoundOp { .layer(self) }

    /// Row by row: the zeros before, the input row, the zeros after. Every output float is
    /// written (the buffer is reused and holds stale values).
    package func forward(inputs: [UnsafePointer<Float>], inputShapes: [[Int]], output: UnsafeMutablePointer<Float>,
                         outputShape: [Int]) {
        let s = inputShapes[0]
        let (batch, height, width, channels) = (s[0], s[1], s[2], s[3])
        let rowFloats = outputShape[2] * channels, inputRow = width * channels
        let (leftFloats, rightFloats) = (config.left * channels, config.right * channels)
        var source = inputs[0], target = output
        for _ in 0..<batch {
            target.update(repeating: 0, count: config.top * rowFloats)
            target += config.top * rowFloats
            for _ in 0..<height {
                target.update(repeating: 0, count: leftFloats)
                (target + leftFloats).update(from: source, count: inputRow)
                (target + leftFloats + inputRow).update(repeating: 0, count: rightFloats)
                target += rowFloats
                source += inputRow
            }
            target.update(repeating: 0, count: config.bottom * rowFloats)
            target += config.bottom * rowFloats
        }
    }

    /// Element by element: an output pixel inside the copied area reads the input pixel it
    /// covers, every other one is 0.
    package func reference(_ inputs: [Tensor], weights: LayerWeights) throws -> Tensor {
        let x = inputs[0]
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outH, outW) = (h + config.top + config.bottom, w + config.left + config.right)
        var y = Tensor(zeros: [n, outH, outW, c])
        for b in 0..<n {
            for i in 0..<outH {
                for j in 0..<outW {
                    let (ih, iw) = (i - config.top, j - config.left)
                    guard (0..<h).contains(ih), (0..<w).contains(iw) else { continue }
                    for k in 0..<c {
                        y.scalars[((b * outH + i) * outW + j) * c + k] = x.scalars[((b * h + ih) * w + iw) * c + k]
                    }
                }
            }
        }
        return y
    }
}
