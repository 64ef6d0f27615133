import Foundation
import XCTest
import FaceNetKernels
import FaceNetEngine

/// The model of the HDF5 fixtures (`Fixtures/h5`, mirrors MODEL in
/// Scripts/make_h5_reader_fixtures.py), shared by the reader, isolation and fuzz tests.
package enum H5FixtureModel {
    package static let sharedModels = Paths.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/models")

    package static func fixture(_ name: String) -> String {
        Paths.fixture("h5/" + name)
    }

    package static func spec(_ layer: String, _ className: String, _ weights: [(String, [Int])] = []) -> LayerWeightSpec {
        LayerWeightSpec(layerName: layer, className: className, weights: weights.map { WeightSpec(name: $0.0, shape: $0.1) })
    }

    /// Every layer in model order, weightless ones included, as `load` wants them.
    package static let specs: [LayerWeightSpec] = [
        spec("input_1", "InputLayer"),
        spec("Conv2d_1a", "Conv2D", [("kernel", [3, 3, 3, 4])]),
        spec("Conv2d_1a_BatchNorm", "BatchNormalization", [("beta", [4]), ("moving_mean", [4]), ("moving_variance", [4])]),
        spec("Conv2d_1a_Activation", "Activation"),
        spec("Conv2d_2a", "Conv2D", [("kernel", [1, 1, 4, 4]), ("bias", [4])]),
        spec("Conv2d_2a_BatchNorm", "BatchNormalization",
             [("gamma", [4]), ("beta", [4]), ("moving_mean", [4]), ("moving_variance", [4])]),
        spec("Conv2d_2a_Activation", "Activation"),
        spec("prelu", "PReLU", [("alpha", [1, 1, 4])]),
        spec("AvgPool", "GlobalAveragePooling2D"),
        spec("Bottleneck", "Dense", [("kernel", [4, 2])]),
        spec("Bottleneck_BatchNorm", "BatchNormalization", [("beta", [2]), ("moving_mean", [2]), ("moving_variance", [2])]),
    ]
}

/// The built `facenet` tool as the weights-reading helper process.
package enum WeightsHelperLocator {
    package static func helper() throws -> WeightsHelper {
        let directory = Bundle.main.bundleURL.deletingLastPathComponent()
        for candidate in [directory, Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("facenet")
            if FileManager.default.isExecutableFile(atPath: url.path) {
                return WeightsHelper(executable: url, timeout: 10)
            }
        }
        let reason = "the facenet tool is not built beside the tests (swift build --product facenet, same flags)"
        if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail(reason) }
        throw XCTSkip(reason)
    }
}

/// The tiny FaceNet of `Fixtures/tiny` at a square input size: the committed topology takes
/// 122×108, and every layer before the global average pool works at any size, so only the
/// input layer changes. Layers stay in file order.
package enum TinyFaceNetModel {
    package static func load(topology: String = "tiny/topology_keras22.json", weights: String = "tiny/weights_tfkeras.h5",
                             size: Int) throws -> Model {
        let read = try KerasJSONReader.read(path: Paths.fixture(topology))
        var layers: [LayerNode] = []
        for name in read.fileOrder {
            guard var layer = read.layer(named: name) else { throw FaceNetError.unknownLayer(name: name) }
            if read.inputNames.contains(name) { layer.kind = .input(shape: [size, size, 3]) }
            layers.append(layer)
        }
        let topology = try ModelTopology(name: read.name, dialect: read.dialect, layers: layers, inputNames: read.inputNames,
                                         outputNames: read.outputNames, source: read.source + " (input \(size)×\(size))")
        return try Model(topology: topology, weights: try KerasWeightsReader.load(path: Paths.fixture(weights),
                                                                                   specs: try topology.weightSpecs()))
    }
}
