import Foundation
import FaceNetKit
import FaceNetTools
import FuzzSupport

/// The tiny FaceNet topology the graph fixture `tiny_facenet.pb` imports into; read once.
let tinyTopology: ModelTopology? = try? KerasJSONReader.read(path: Fuzz.fixture("tiny/topology_keras22.json"))

/// TensorFlow GraphDef from bytes: the decoder (swift-protobuf), every float constant decoded,
/// then the FaceNet importer against the tiny topology (scopes, shapes, roles).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGraphDef(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    guard let topology = tinyTopology else { fatalError("cannot read the tiny topology fixture") }
    let buffer = count > 0 && bytes != nil ? Array(UnsafeBufferPointer(start: bytes, count: count)) : []
    Fuzz.expectTypedErrors {
        let graph = try TFGraphDef(bytes: buffer, source: "fuzz.pb")
        for constant in try graph.floatConstants() {
            _ = constant
        }
        _ = try FaceNetGraphImporter.importGraph(graph, topology: topology)
    }
    return 0
}

exit(Fuzz.run(fuzzGraphDef))
