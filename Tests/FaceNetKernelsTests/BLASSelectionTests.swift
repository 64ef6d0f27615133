import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// OpenBLAS kernel-set choice from CPU features.
final class BLASSelectionTests: XCTestCase {
    private let avx2: Set<String> = ["sse4_2", "avx", "avx2", "fma"]
    private let avx512: Set<String> = ["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"]

    func testChoosesFromFeaturesAndNeverAVX512WithoutIt() {
        let intel512 = BLAS.chooseKernels(environment: [:], cpu: CPUFeatures(vendor: "GenuineIntel", flags: avx2.union(avx512)))
        XCTAssertEqual(intel512.requested, "SkylakeX")
        let bf16 = BLAS.chooseKernels(environment: [:], cpu: CPUFeatures(vendor: "GenuineIntel", flags: avx2.union(avx512).union(["avx512_bf16"])))
        XCTAssertEqual(bf16.requested, "Cooperlake")
        XCTAssertEqual(BLAS.chooseKernels(environment: [:], cpu: CPUFeatures(vendor: "GenuineIntel", flags: avx2)).requested, "Haswell")
        XCTAssertEqual(BLAS.chooseKernels(environment: [:], cpu: CPUFeatures(vendor: "AuthenticAMD", flags: avx2)).requested, "Zen")
        // avx512f alone (e.g. Knights Landing) is not the AVX-512 set SkylakeX kernels use.
        XCTAssertEqual(BLAS.chooseKernels(environment: [:], cpu: CPUFeatures(vendor: "GenuineIntel", flags: avx2.union(["avx512f"]))).requested,
                       "Haswell")
        XCTAssertEqual(BLAS.chooseKernels(environment: [:], cpu: CPUFeatures(vendor: "GenuineIntel", flags: ["sse3", "avx"])).requested,
                       "Sandybridge")
        XCTAssertNil(BLAS.chooseKernels(environment: [:], cpu: CPUFeatures(vendor: "", flags: [])).requested)
    }

    func testUserChoiceIsRespected() {
        let s = BLAS.chooseKernels(environment: ["OPENBLAS_CORETYPE": "Prescott"],
                                   cpu: CPUFeatures(vendor: "GenuineIntel", flags: avx2.union(avx512)))
        XCTAssertNil(s.requested)
        XCTAssertTrue(s.userSet)
        XCTAssertTrue(s.reason.contains("Prescott"))
    }

    func testParsesCpuinfo() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse avx2 fma\n\nprocessor\t: 1\nvendor_id\t: Other\n"
        XCTAssertEqual(CPUFeatures.parse(cpuinfo: text), CPUFeatures(vendor: "AuthenticAMD", flags: ["fpu", "sse", "avx2", "fma"]))
    }

    /// The library is loaded and reports a kernel set; on this machine's CPU the chosen one
    /// is what runs (unless the user or the host program decided).
    func testLoadedLibraryRunsTheChosenKernels() throws {
        let selection = try BLASInfo.selection()
        XCTAssertFalse(selection.active.isEmpty)
        if let requested = selection.requested {
            // An OpenBLAS built without Cooperlake kernels runs their SkylakeX base.
            let accepted = requested == "Cooperlake" ? ["cooperlake", "skylakex"] : [requested.lowercased()]
            XCTAssertTrue(accepted.contains(selection.active.lowercased()), selection.note)
        }
        XCTAssertGreaterThan(BLASInfo.threads, 0)
    }
}
