import FaceNetKernels
import FaceNetEngine

/// Decoded face image → model input. Steps, in this order (deepface's order where it has one):
///
/// 1. **crop** (`options.crop`): `.center` takes the largest centred square (`CenterCrop`),
///    `.none` keeps the whole image. A crop is a window on the pixels, not a copy.
/// 2. **resize** to `size × size` with `options.resize`, or with `options.letterbox` the
///    aspect-preserving fit with black bars (`Letterbox`, deepface's `resize_image`).
///    Output 8-bit RGB.
/// 3. **channel order** and **normalisation** (`PixelNormalization`), in one pass: values
///    are computed per colour and written in `options.color` order. deepface flips to BGR
///    before `normalize_input`; that only matters for the per-channel VGGFace means, whose
///    meaning here is per colour (see `PixelNormalization`), so the result equals deepface's.
///
/// Output: `size·size·3` Floats, HWC, row-major. Images whose shorter side is below
/// `minimumSide` (default 8 px) are refused with `FaceNetError.invalidArgument`: a 1×1
/// "face" holds nothing a FaceNet can use, and the letterbox of an extreme aspect ratio
/// would be mostly padding.
public enum Preprocessor {
    /// The smallest image side `prepare` accepts unless told otherwise.
    public static let defaultMinimumSide = 8

    /// One image → `options.size² · 3` Floats (HWC, channels in `options.color` order).
    public static func prepare(_ image: RGBImage, options: PreprocessOptions,
                               minimumSide: Int = defaultMinimumSide) throws -> [Float] {
        let pixels = try resample(image, options: options, minimumSide: minimumSide)
        var out = [Float](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer {
                PixelNormalization.apply(options.normalization, rgb: src, order: options.color, into: $0)
            }
        }
        return out
    }

    /// Several images → one NHWC tensor `[N, size, size, 3]`. An error names the image.
    public static func prepareBatch(_ images: [RGBImage], options: PreprocessOptions,
                                    minimumSide: Int = defaultMinimumSide) throws -> Tensor {
        guard !images.isEmpty else {
            throw FaceNetError.invalidArgument("prepareBatch needs at least one image, got none")
        }
        let perImage = options.size * options.size * 3
        var scalars = [Float]()
        scalars.reserveCapacity(perImage * images.count)
        for (i, image) in images.enumerated() {
            do {
                scalars += try prepare(image, options: options, minimumSide: minimumSide)
            } catch let error as FaceNetError {
                throw FaceNetError.invalidArgument("image \(i + 1) of \(images.count): \(error.description)")
            }
        }
        return try Tensor(shape: [images.count, options.size, options.size, 3], scalars: scalars)
    }

    /// Steps 1–2 only: the cropped and resized (or letterboxed) 8-bit RGB image.
    public static func resampled(_ image: RGBImage, options: PreprocessOptions,
                                 minimumSide: Int = defaultMinimumSide) throws -> RGBImage {
        let pixels = try resample(image, options: options, minimumSide: minimumSide)
        return try RGBImage(width: options.size, height: options.size, pixels: pixels)
    }

    static func resample(_ image: RGBImage, options: PreprocessOptions, minimumSide: Int) throws -> [UInt8] {
        try validate(image, options: options, minimumSide: minimumSide)
        let window = CenterCrop.window(for: image, crop: options.crop)
        return image.pixels.withUnsafeBufferPointer { src in
            options.letterbox
                ? Letterbox.apply(src, window, size: options.size, filter: options.resize)
                : ResizeTarget.resample(src, window, width: options.size, height: options.size, filter: options.resize)
        }
    }

    package static func validate(_ image: RGBImage, options: PreprocessOptions, minimumSide: Int) throws {
        guard minimumSide >= 1 else {
            throw FaceNetError.invalidArgument("minimumSide must be at least 1 px, got \(minimumSide)")
        }
        guard (1...ResizeTarget.maxSide).contains(options.size) else {
            throw FaceNetError.invalidArgument("model input size \(options.size) is out of range 1…\(ResizeTarget.maxSide)")
        }
        let shorter = min(image.width, image.height)
        guard shorter >= minimumSide else {
            throw FaceNetError.invalidArgument(
                "image \(image.width)×\(image.height) is too small: its shorter side is \(shorter) px, "
                + "the minimum is \(minimumSide) px (Preprocessor minimumSide)")
        }
    }
}

extension RGBImage {
    /// This image resized to `width × height` with one of the preprocessing filters.
    public func resized(width: Int, height: Int, filter: PreprocessOptions.Resize) throws -> RGBImage {
        switch filter {
        case .bilinear: return try OpenCVLinearResize.resize(self, width: width, height: height)
        case .bilinearAA: return try PillowBilinearResize.resize(self, width: width, height: height)
        case .area: return try OpenCVAreaResize.resize(self, width: width, height: height)
        }
    }
}

/// Checks and dispatch shared by the resizers.
package enum ResizeTarget {
    /// Largest output side any resizer produces (ImageLimits' default per-side bound).
    static let maxSide = ImageLimits.default.maxWidth

    package static func check(width: Int, height: Int) throws {
        guard (1...maxSide).contains(width), (1...maxSide).contains(height) else {
            throw FaceNetError.invalidArgument("resize target \(width)×\(height) is out of range: each side must be 1…\(maxSide)")
        }
    }

    /// A whole RGB image resized by one of the window resamplers.
    package static func resize(_ image: RGBImage, width: Int, height: Int,
                       _ resampler: (UnsafeBufferPointer<UInt8>, PixelWindow, Int, Int) -> [UInt8]) throws -> RGBImage {
        try check(width: width, height: height)
        let window = PixelWindow(width: image.width, height: image.height, channels: 3)
        let out = image.pixels.withUnsafeBufferPointer { resampler($0, window, width, height) }
        return try RGBImage(width: width, height: height, pixels: out)
    }

    static func resample(_ src: UnsafeBufferPointer<UInt8>, _ window: PixelWindow, width: Int, height: Int,
                         filter: PreprocessOptions.Resize) -> [UInt8] {
        switch filter {
        case .bilinear: return OpenCVLinearResize.resize(src, window, width: width, height: height)
        case .bilinearAA: return PillowBilinearResize.resize(src, window, width: width, height: height)
        case .area: return OpenCVAreaResize.resize(src, window, width: width, height: height)
        }
    }
}
