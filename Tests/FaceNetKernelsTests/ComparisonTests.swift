import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// The comparison helpers every numeric test leans on: a NaN or an infinity on either side,
/// or a length mismatch, must fail a comparison instead of vanishing into `max` (Swift's
/// `max(0, .nan)` is 0 and `[0, .nan].max()` is 0, which is why tests use these helpers).
final class ComparisonTests: XCTestCase {
    func testMaxAbsDifferenceOnFiniteValues() throws {
        XCTAssertEqual(maxAbsDifference([1, 2, 3] as [Float], [1, 2.5, 2] as [Float]), 1)
        XCTAssertEqual(maxAbsDifference([] as [Float], [] as [Float]), 0)
        XCTAssertEqual(maxAbsDifference([Float(1)], [Double(1.25)]), 0.25)
    }

    func testMaxAbsDifferenceSeesNaNAndInfinityAnywhere() {
        for bad: Float in [.nan, .infinity, -.infinity] {
            for position in 0..<3 {
                var broken: [Float] = [0.5, -0.5, 0.25]
                broken[position] = bad
                let clean: [Float] = [0.5, -0.5, 0.25]
                XCTAssertEqual(maxAbsDifference(broken, clean), .infinity, "\(bad) at \(position), left")
                XCTAssertEqual(maxAbsDifference(clean, broken), .infinity, "\(bad) at \(position), right")
            }
        }
        // The same infinity on both sides is no agreement: ∞ − ∞ is NaN.
        XCTAssertEqual(maxAbsDifference([Float.infinity], [Float.infinity]), .infinity)
    }

    func testMaxAbsDifferenceFailsOnLengthOrShapeMismatch() throws {
        XCTAssertEqual(maxAbsDifference([1, 2] as [Float], [1, 2, 3] as [Float]), .infinity)
        let a = try Tensor(shape: [2, 3], scalars: [Float](repeating: 1, count: 6))
        let b = try Tensor(shape: [3, 2], scalars: [Float](repeating: 1, count: 6))
        XCTAssertEqual(maxAbsDifference(a, b), .infinity)
        XCTAssertEqual(maxAbsDifference(a, a), 0)
    }

    func testMaxMagnitudeIsNaNForNonFiniteValues() {
        XCTAssertEqual(maxMagnitude([1, -3, 2] as [Float]), 3)
        XCTAssertTrue(maxMagnitude([1, .nan] as [Float]).isNaN)
        XCTAssertTrue(maxMagnitude([-.infinity, 1] as [Float]).isNaN)
        // A tolerance scaled by it then fails every comparison.
        XCTAssertFalse(Float(1e-9) < 1e-5 * maxMagnitude([.nan] as [Float]))
    }
}
