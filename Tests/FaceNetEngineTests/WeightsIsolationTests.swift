import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// The child-process weights loader (`WeightsIsolation`) and the superblock pre-check.
final class WeightsIsolationTests: XCTestCase {

    func testChildProcessLoadMatchesInProcess() throws {
        let helper = try WeightsHelperLocator.helper()
        for name in ["keras22_fixed.h5", "tfkeras_vlen.h5", "keras3.h5", "full_model.h5"] {
            let path = H5FixtureModel.fixture(name)
            let direct = try KerasWeightsReader.load(path: path, specs: H5FixtureModel.specs)
            let isolated = try KerasWeightsReader.load(path: path, specs: H5FixtureModel.specs, isolation: .childProcess(helper))
            XCTAssertEqual(isolated.path, path, name)
            XCTAssertEqual(isolated.layout, direct.layout, name)
            XCTAssertEqual(isolated.tensors.mapValues { $0.mapValues(\.scalars) },
                           direct.tensors.mapValues { $0.mapValues(\.scalars) }, name)
        }
        let config = try KerasWeightsReader.modelConfigJSON(path: H5FixtureModel.fixture("full_model.h5"), isolation: .childProcess(helper))
        XCTAssertEqual(config, try KerasWeightsReader.modelConfigJSON(path: H5FixtureModel.fixture("full_model.h5")))
    }

    /// The helper's typed errors arrive unchanged.
    func testChildProcessPassesTypedErrors() throws {
        let helper = try WeightsHelperLocator.helper()
        for name in ["wrong_shape.h5", "nan.h5", "int_weights.h5", "truncated.h5", "not_hdf5.h5"] {
            let path = H5FixtureModel.fixture(name)
            var direct: FaceNetError?, isolated: FaceNetError?
            XCTAssertThrowsError(try KerasWeightsReader.load(path: path, specs: H5FixtureModel.specs)) { direct = $0 as? FaceNetError }
            XCTAssertThrowsError(try KerasWeightsReader.load(path: path, specs: H5FixtureModel.specs,
                                                             isolation: .childProcess(helper))) { isolated = $0 as? FaceNetError }
            XCTAssertNotNil(direct, name)
            XCTAssertEqual(isolated, direct, name)
        }
    }

    func testMissingHelperIsAnArgumentError() {
        let helper = WeightsHelper(executable: URL(fileURLWithPath: "/nonexistent/facenet"))
        XCTAssertThrowsError(try KerasWeightsReader.load(path: H5FixtureModel.fixture("keras22_fixed.h5"),
                                                         specs: H5FixtureModel.specs, isolation: .childProcess(helper))) { error in
            guard case .invalidArgument(let reason)? = error as? FaceNetError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("/nonexistent/facenet"), reason)
        }
    }

    /// A helper that never answers is killed after its timeout.
    func testHangingHelperTimesOut() {
        let helper = WeightsHelper(executable: URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", "exec sleep 30", "sh"], timeout: 0.5)
        XCTAssertThrowsError(try KerasWeightsReader.modelConfigJSON(path: H5FixtureModel.fixture("keras22_fixed.h5"),
                                                                    isolation: .childProcess(helper))) { error in
            guard case .invalidWeights(_, nil, let reason)? = error as? FaceNetError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("did not finish within 0.5 s"), reason)
        }
    }

    /// A helper killed by a signal is reported as a crash.
    func testCrashingHelperIsReported() {
        let helper = WeightsHelper(executable: URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", "kill -SEGV $$", "sh"])
        XCTAssertThrowsError(try KerasWeightsReader.modelConfigJSON(path: H5FixtureModel.fixture("keras22_fixed.h5"),
                                                                    isolation: .childProcess(helper))) { error in
            guard case .invalidWeights(_, nil, let reason)? = error as? FaceNetError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("libhdf5 crashed on this file (signal 11, SIGSEGV)"), reason)
        }
    }

    // MARK: - Superblock

    func testSuperblockOfRealFiles() throws {
        for name in ["keras22_fixed.h5", "tfkeras_vlen.h5", "keras3.h5", "full_model.h5"] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: H5FixtureModel.fixture(name))))
            let superblock = try HDF5Superblock(bytes: bytes, signatureOffset: 0, fileSize: bytes.count)
            XCTAssertEqual(superblock.offsetSize, 8, name)
            XCTAssertEqual(superblock.endOfFileAddress, UInt64(bytes.count), name)
        }
    }

    func testSuperblockRefusals() throws {
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: H5FixtureModel.fixture("keras22_fixed.h5"))))
        func reason(_ bytes: [UInt8], fileSize: Int? = nil) -> String? {
            do {
                _ = try HDF5Superblock(bytes: bytes, signatureOffset: 0, fileSize: fileSize ?? bytes.count)
                return nil
            } catch {
                return error.reason
            }
        }
        XCTAssertEqual(reason(good, fileSize: good.count - 1)?.hasPrefix("truncated"), true)
        var version = good
        version[8] = 9
        XCTAssertEqual(reason(version), "superblock version 9 is unknown (0–3 exist)")
        var offsets = good
        if offsets[8] <= 1 { offsets[13] = 3 } else { offsets[9] = 3 }
        XCTAssertEqual(reason(offsets)?.hasPrefix("offsets of 3"), true)
        XCTAssertEqual(reason(Array(good.prefix(20))), "the superblock is cut short")
    }
}
