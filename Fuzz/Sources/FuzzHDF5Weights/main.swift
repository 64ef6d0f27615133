import FaceNetKit
import Foundation
import FuzzSupport

/// The model of the `Fixtures/h5` files (`HDF5ReaderTests.specs`, as JSON in
/// `Fuzz/h5-fixture-specs.json`): every layer in model order, weightless ones included.
let fixtureSpecs: [LayerWeightSpec] = {
    let url = Fuzz.packageRoot.appendingPathComponent("Fuzz/h5-fixture-specs.json")
    guard let data = try? Data(contentsOf: url),
          let specs = try? JSONDecoder().decode([LayerWeightSpec].self, from: data) else {
        fatalError("cannot read \(url.path)")
    }
    return specs
}()

/// MTCNN's P-Net, whose real weights (`Weights/mtcnn/pnet.h5`) are a seed.
let pnetSpecs: [LayerWeightSpec] = (try? KerasJSONReader.read(
    path: Fuzz.packageRoot.appendingPathComponent("Weights/mtcnn/pnet.json").path).weightSpecs()) ?? []

/// libhdf5 reads files only: each input is written to this per-process file.
let inputPath = FileManager.default.temporaryDirectory
    .appendingPathComponent("facenet-fuzz-\(ProcessInfo.processInfo.processIdentifier).h5").path

/// `FUZZ_HDF5_HELPER=/path/to/facenet`: load through `.childProcess` with that helper, to
/// check that what crashes libhdf5 in-process comes back as a typed error.
let isolation: WeightsIsolation = ProcessInfo.processInfo.environment["FUZZ_HDF5_HELPER"].map {
    .childProcess(WeightsHelper(executable: URL(fileURLWithPath: $0), timeout: 20))
} ?? .inProcess

/// Keras HDF5 weights from bytes: the pre-checks, layout detection, `layer_names`,
/// `model_config` and a full load against two models (every dataset read and checked).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHDF5Weights(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    guard FileManager.default.createFile(atPath: inputPath, contents: Fuzz.data(bytes, count)) else {
        fatalError("cannot write \(inputPath)")
    }
    if isolation == .inProcess {
        Fuzz.expectTypedErrors { _ = try KerasWeightsReader.layerNames(path: inputPath) }
    }
    Fuzz.expectTypedErrors { _ = try KerasWeightsReader.modelConfigJSON(path: inputPath, isolation: isolation) }
    for specs in [fixtureSpecs, pnetSpecs] {
        Fuzz.expectTypedErrors { _ = try KerasWeightsReader.load(path: inputPath, specs: specs, isolation: isolation) }
    }
    return 0
}

exit(Fuzz.run(fuzzHDF5Weights))
