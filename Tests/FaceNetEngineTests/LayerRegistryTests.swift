import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// The layer registry (`LayerKind.registry`, `LayerKind.definition`) is consistent: each
/// Keras class is read by one definition type, and a layer read from a file gets back, as
/// its definition, the type that read it. (The compiler checks the rest: a new `LayerKind`
/// case without its `definition` arm, or a definition without a requirement, does not build.)
final class LayerRegistryTests: XCTestCase {
    func testEveryKerasClassHasOneDefinition() {
        var owner: [String: String] = [:]
        for type in LayerKind.registry {
            XCTAssertFalse(type.kerasClassNames.isEmpty, "\(type) reads no Keras class")
            for name in type.kerasClassNames {
                XCTAssertNil(owner[name], "\(name) is read by both \(owner[name] ?? "") and \(type)")
                owner[name] = "\(type)"
            }
        }
        let types = LayerKind.registry.map { ObjectIdentifier($0) }
        XCTAssertEqual(Set(types).count, types.count, "a definition type is registered twice")
    }

    /// Every layer of every committed topology (FaceNet-shaped, MTCNN, the oracle and layer
    /// fixtures; three dialects) round-trips: the class's registered type is its kind's
    /// definition type.
    func testParsedLayersRoundTripThroughTheRegistry() throws {
        let fixtures = Paths.fixtures.path
        let files = (FileManager.default.enumerator(atPath: fixtures)?.compactMap { $0 as? String } ?? [])
            .filter { ($0.hasPrefix("tiny/") || $0.hasPrefix("oracle/") || $0.hasPrefix("layers/") || $0.hasPrefix("mtcnn/synthetic/"))
                && ($0 as NSString).lastPathComponent.hasPrefix("topology") && $0.hasSuffix(".json") }
            .map { fixtures + "/" + $0 }
            + ["onet", "pnet", "rnet"].map { Paths.packageRoot.appendingPathComponent("Weights/mtcnn/\($0).json").path }
        XCTAssertGreaterThan(files.count, 20)
        var classes = Set<String>()
        for file in files {
            for layer in try KerasJSONReader.read(path: file).layers {
                classes.insert(layer.className)
                let registered = try XCTUnwrap(LayerConfigParser.definitions[layer.className], "\(file): \(layer.className)")
                XCTAssertTrue(registered == type(of: layer.kind.definition),
                              "\(file) \(layer.name): \(layer.className) is read by \(registered), its kind's definition is \(type(of: layer.kind.definition))")
            }
        }
        // What the fixtures exercise: every registered class.
        XCTAssertEqual(classes, Set(LayerKind.registry.flatMap { $0.kerasClassNames }))
    }
}
