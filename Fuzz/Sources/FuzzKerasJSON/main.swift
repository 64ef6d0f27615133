import Foundation
import FaceNetKit
import FuzzSupport

/// Keras topology JSON from bytes: dialect detection, layer configs, topological sort,
/// then what loading does next with it (symbolic shapes, the weight specs).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKerasJSON(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let data = Fuzz.data(bytes, count)
    Fuzz.expectTypedErrors {
        let topology = try KerasJSONReader.parse(data, source: "fuzz.json")
        _ = try topology.symbolicShapes()
        _ = try topology.weightSpecs()
    }
    return 0
}

exit(Fuzz.run(fuzzKerasJSON))
