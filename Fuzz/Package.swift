// swift-tools-version: 6.1
// Coverage-guided fuzz targets for every parser that takes outside bytes (libFuzzer).
// A separate package so the root package's `swift build` / `swift test` never see the
// fuzzer flags. Build and run with `Fuzz/run.sh`; see Docs/reliability.md.
import PackageDescription

/// One executable per fuzz target; each defines `LLVMFuzzerTestOneInput` and its `main`
/// hands it to libFuzzer's `LLVMFuzzerRunDriver` (SwiftPM renames an executable's `main`,
/// so libFuzzer's own `main` cannot be the entry point).
func fuzzTarget(_ name: String) -> Target {
    .executableTarget(name: name, dependencies: [
        "FuzzSupport", .product(name: "FaceNetKit", package: "FaceNetSwift"),
        .product(name: "FaceNetTools", package: "FaceNetSwift"),
    ])
}

let package = Package(
    name: "FaceNetFuzz",
    dependencies: [.package(name: "FaceNetSwift", path: "..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: [
            "CFuzzerDriver", .product(name: "FaceNetKit", package: "FaceNetSwift"),
        ]),
        fuzzTarget("FuzzKerasJSON"),
        fuzzTarget("FuzzHDF5Weights"),
        fuzzTarget("FuzzGraphDef"),
        fuzzTarget("FuzzJPEG"),
        fuzzTarget("FuzzPNG"),
    ]
)
