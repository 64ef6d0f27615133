// End-to-end preprocessing against the shared reference inputs: decode (ImageDecoder)
// → Preprocessor → the float tensors in ../shared. Disabled until it is switched on:
// change `#if false` to `#if true` (it needs `ImageDecoder.decode(path:)`).
#if true
import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

final class PreprocessSharedTests: XCTestCase {
    /// `input.images` and the input tensor of a golden manifest in ../shared.
    private func reference(_ relative: String) throws -> (images: [String], input: Tensor) {
        let path = try Paths.shared(relative)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let images = try XCTUnwrap((root["input"] as? [String: Any])?["images"] as? [String])
        let manifest = try GoldenManifest(path: path)
        return (images, try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape))
    }

    private func compare(_ got: [Float], _ input: Tensor, index: Int, name: String, limit: Float) -> Float {
        let size = input.shape.dropFirst().reduce(1, *)
        let expected = input.scalars[(index * size)..<((index + 1) * size)]
        XCTAssertEqual(got.count, size, name)
        let err = maxAbsDifference(got, expected)
        XCTAssertLessThanOrEqual(err, limit, name)
        return err
    }

    /// synthetic128's inputs: photo → centre square → Pillow bilinear to 160 → (x − 127.5)/128.
    func testSynthetic128InputsFromPhotos() throws {
        let (images, input) = try reference("models/synthetic128/manifest.json")
        let options = PreprocessOptions(resize: .bilinearAA, crop: .center, letterbox: false,
                                        color: .rgb, normalization: .fixed, size: 160)
        for (i, name) in images.enumerated() {
            let image = try ImageDecoder.decode(path: try Paths.shared("faces/photos/" + name))
            let err = compare(try Preprocessor.prepare(image, options: options), input, index: i, name: name, limit: 1e-6)
            print("synthetic128 \(name) \(image.width)×\(image.height): max abs diff \(err)")
        }
    }

    /// facenet512_casia's inputs: the 160×160 crops, prewhitened.
    func testPrewhitenedSharedCrops() throws {
        let (images, input) = try reference("faces/facenet512_casia_manifest.json")
        let options = PreprocessOptions(resize: .bilinearAA, crop: .center, letterbox: false,
                                        color: .rgb, normalization: .prewhiten, size: 160)
        var worst: Float = 0
        for (i, name) in images.enumerated() {
            let image = try ImageDecoder.decode(path: try Paths.shared("faces/crops/" + name))
            worst = max(worst, compare(try Preprocessor.prepare(image, options: options), input, index: i, name: name, limit: 1e-6))
        }
        print("facenet512_casia crops prewhitened: \(images.count) images, max abs diff \(worst)")
    }
}
#endif
