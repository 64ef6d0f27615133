import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// Loading recognises known weights, checks their digest, and caches verified digests.
final class WeightsCheckTests: XCTestCase {
    private let mtcnn = Paths.packageRoot.appendingPathComponent("Weights/mtcnn")
    private var pnetWeights: String { mtcnn.appendingPathComponent("pnet.h5").path }
    private var pnetTopology: String { mtcnn.appendingPathComponent("pnet.json").path }

    /// `.warn` or `.require` with a cache in a fresh temporary directory.
    private func verification(_ policy: WeightsVerification.Policy) throws -> WeightsVerification {
        WeightsVerification(policy, cache: WeightsDigestCache(directory: try temporaryDirectory().path))
    }

    private func loadPNet(_ weights: String, _ verification: WeightsVerification) throws -> Model {
        try Model.load(weightsPath: weights, topologyPath: pnetTopology, verification: verification)
    }

    /// P-Net's weights with one float changed, written to `path` with our own writer.
    private func writeAlteredPNet(to path: String) throws -> String {
        let specs = try KerasJSONReader.read(path: pnetTopology).weightSpecs()
        var tensors = try KerasWeightsReader.load(path: pnetWeights, specs: specs).tensors
        let kernel = try XCTUnwrap(tensors["conv1"]?["kernel"])
        var scalars = kernel.scalars
        scalars[7] = scalars[7].nextUp
        tensors["conv1"]?["kernel"] = try Tensor(shape: kernel.shape, scalars: scalars)
        try HDF5Writer.writeKerasWeights(tensors, specs: specs, to: path)
        return WeightsDigest.digest(of: tensors)
    }

    func testKnownFileVerifiesThenComesFromTheCache() throws {
        let verification = try verification(.warn)
        XCTAssertEqual(try loadPNet(pnetWeights, verification).weightsCheck, .verified(.mtcnnPNet, cached: false))
        XCTAssertEqual(try loadPNet(pnetWeights, verification).weightsCheck, .verified(.mtcnnPNet, cached: true))
        let identity = try XCTUnwrap(FileIdentity(path: pnetWeights))
        XCTAssertEqual(verification.cache?.digest(for: identity), KnownWeights.mtcnnPNet.tensorDigest)
    }

    func testMTCNNLoadsAllThreeNetsVerified() throws {
        let detector = try MTCNN(directory: mtcnn.path, verification: try verification(.require))
        XCTAssertEqual(detector.models.map(\.weightsCheck), [.verified(.mtcnnPNet, cached: false),
                                                             .verified(.mtcnnRNet, cached: false),
                                                             .verified(.mtcnnONet, cached: false)])
    }

    func testCasiaVerifiesWhenPresent() throws {
        let path = try Paths.shared("models/facenet512_casia.h5")
        let topology = Paths.packageRoot.appendingPathComponent("Weights/facenet512.json").path
        let model = try Model.load(weightsPath: path, topologyPath: topology, verification: try verification(.require))
        XCTAssertEqual(model.weightsCheck, .verified(.casia512, cached: false))
    }

    func testOneChangedFloatIsAMismatch() throws {
        let altered = try temporaryDirectory().appendingPathComponent("pnet.h5").path
        let found = try writeAlteredPNet(to: altered)
        XCTAssertNotEqual(found, KnownWeights.mtcnnPNet.tensorDigest)

        let warned = try loadPNet(altered, try verification(.warn))
        XCTAssertEqual(warned.weightsCheck, .mismatch(.mtcnnPNet, found: found, cached: false))
        XCTAssertTrue(warned.weightsCheck.summary.contains("MISMATCH"))
        XCTAssertThrowsError(try loadPNet(altered, try verification(.require))) { error in
            XCTAssertEqual(error as? FaceNetError, .weightsMismatch(path: altered, known: KnownWeights.mtcnnPNet.name,
                                                                   expected: KnownWeights.mtcnnPNet.tensorDigest, found: found))
            let message = String(describing: error)
            XCTAssertTrue(message.contains(altered) && message.contains("MTCNN P-Net") && message.contains(found), message)
        }
    }

    /// Different weights for the same layers under another file name (deepface's
    /// FaceNet-512 has CASIA's structure) are unknown, not a mismatch: loaded, not warned.
    func testSameStructureUnderAnotherNameIsUnknown() throws {
        let other = try temporaryDirectory().appendingPathComponent("my_pnet_finetuned.h5").path
        let found = try writeAlteredPNet(to: other)
        let model = try loadPNet(other, try verification(.require))
        XCTAssertEqual(model.weightsCheck, .unknown(structure: KnownWeights.mtcnnPNet.structure))
        XCTAssertNotEqual(found, KnownWeights.mtcnnPNet.tensorDigest)
    }

    func testUnknownWeightsLoadAsBeforeEvenUnderRequire() throws {
        let weights = Paths.fixture("tiny/weights_keras22.h5")
        let topology = Paths.fixture("tiny/topology_keras22.json")
        let tensors = try KerasWeightsReader.load(path: weights, specs: KerasJSONReader.read(path: topology).weightSpecs()).tensors
        let model = try Model.load(weightsPath: weights, topologyPath: topology, verification: try verification(.require))
        XCTAssertEqual(model.weightsCheck, .unknown(structure: WeightsDigest.structure(of: tensors)))
    }

    func testOffChecksNothing() throws {
        XCTAssertEqual(try loadPNet(pnetWeights, .off).weightsCheck, .notChecked)
    }

    func testChangedFileMissesTheCache() throws {
        let verification = try verification(.warn)
        let copy = try temporaryDirectory().appendingPathComponent("pnet.h5").path
        try FileManager.default.copyItem(atPath: pnetWeights, toPath: copy)
        XCTAssertEqual(try loadPNet(copy, verification).weightsCheck, .verified(.mtcnnPNet, cached: false))
        XCTAssertEqual(try loadPNet(copy, verification).weightsCheck, .verified(.mtcnnPNet, cached: true))

        // Same bytes, another modification time: hashed again.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: copy)
        XCTAssertEqual(try loadPNet(copy, verification).weightsCheck, .verified(.mtcnnPNet, cached: false))
        XCTAssertEqual(try loadPNet(copy, verification).weightsCheck, .verified(.mtcnnPNet, cached: true))

        // Other values in place of the file: never the stale digest.
        let found = try writeAlteredPNet(to: copy)
        XCTAssertEqual(try loadPNet(copy, verification).weightsCheck, .mismatch(.mtcnnPNet, found: found, cached: false))
        XCTAssertEqual(try loadPNet(copy, verification).weightsCheck, .mismatch(.mtcnnPNet, found: found, cached: true))
    }

    func testUnwritableCacheStillLoads() throws {
        let blocker = try temporaryDirectory().appendingPathComponent("a-file")
        try Data("not a directory".utf8).write(to: blocker)
        let verification = WeightsVerification(.require, cache: WeightsDigestCache(directory: blocker.appendingPathComponent("cache").path))
        XCTAssertEqual(try loadPNet(pnetWeights, verification).weightsCheck, .verified(.mtcnnPNet, cached: false))
        XCTAssertEqual(try loadPNet(pnetWeights, verification).weightsCheck, .verified(.mtcnnPNet, cached: false))
    }

    func testMalformedCacheFileIsIgnoredAndReplaced() throws {
        let directory = try temporaryDirectory()
        let cacheFile = directory.appendingPathComponent(WeightsDigestCache.fileName)
        try Data("{ not json".utf8).write(to: cacheFile)
        let verification = WeightsVerification(.warn, cache: WeightsDigestCache(directory: directory.path))
        XCTAssertEqual(try loadPNet(pnetWeights, verification).weightsCheck, .verified(.mtcnnPNet, cached: false))
        XCTAssertEqual(try loadPNet(pnetWeights, verification).weightsCheck, .verified(.mtcnnPNet, cached: true))
    }

    func testCacheKeepsABoundedNumberOfFiles() throws {
        let cache = WeightsDigestCache(directory: try temporaryDirectory().path)
        let files = try temporaryDirectory()
        var identities: [FileIdentity] = []
        for i in 0...WeightsDigestCache.maxEntries {
            let path = files.appendingPathComponent("w\(i)").path
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([UInt8(i)])))
            let identity = try XCTUnwrap(FileIdentity(path: path))
            XCTAssertTrue(cache.store(String(repeating: "0", count: 63) + "\(i % 10)", for: identity))
            identities.append(identity)
        }
        XCTAssertNil(cache.digest(for: identities[0]), "the oldest entry goes")
        XCTAssertEqual(cache.digest(for: identities[WeightsDigestCache.maxEntries]), String(repeating: "0", count: 63) + "4")
    }

    func testStandardCacheDirectory() {
        XCTAssertEqual(WeightsDigestCache.standard(environment: ["FACENET_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x", "HOME": "/h"])?.directory, "/c")
        XCTAssertEqual(WeightsDigestCache.standard(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"])?.directory, "/x/facenet")
        XCTAssertEqual(WeightsDigestCache.standard(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/h"])?.directory, "/h/.cache/facenet")
        XCTAssertNil(WeightsDigestCache.standard(environment: [:]))
    }

    func testStructureIgnoresValuesAndDigestDoesNot() throws {
        let a = ["dense": ["kernel": randomTensor([2, 3], seed: 1)]]
        let b = ["dense": ["kernel": randomTensor([2, 3], seed: 2)]]
        let c = ["dense": ["kernel": randomTensor([3, 2], seed: 1)]]
        XCTAssertEqual(WeightsDigest.structure(of: a), WeightsDigest.structure(of: b))
        XCTAssertNotEqual(WeightsDigest.digest(of: a), WeightsDigest.digest(of: b))
        XCTAssertNotEqual(WeightsDigest.structure(of: a), WeightsDigest.structure(of: c))
        XCTAssertNotEqual(WeightsDigest.structure(of: a), WeightsDigest.digest(of: a))
    }
}
