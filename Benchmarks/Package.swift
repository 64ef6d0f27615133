// swift-tools-version: 6.2
import PackageDescription

// FaceNetSwift's benchmarks for `swift package benchmark` (ordo-one/benchmark), in a package
// of their own: users of the library never fetch the benchmark package or its dependencies.
// From this directory:
//
//   swift package benchmark                          # builds in release, runs all (~1.5 min on 2 cores)
//   swift package benchmark --filter 'e2e.*'         # end-to-end embedding only
//
// See README.md beside this file. The peer comparison (peers.sh) lives here too but is not
// part of this package.

// Swift 6.3+: only the `MallocInterposer` trait (no system library needed). The benchmark
// package's default traits on Linux + Swift 6.3 also include `RuntimeInterposer`, which pulls
// in one more package (swift-runtime-interposer) that wall-clock figures do not need.
// Swift 6.2 reads the benchmark package's 6.2 manifest, whose only trait is `Jemalloc`:
// none is enabled there, so libjemalloc-dev is not needed either (malloc metrics then off).
#if compiler(>=6.3)
let benchmarkTraits: Set<Package.Dependency.Trait> = ["MallocInterposer"]
#else
let benchmarkTraits: Set<Package.Dependency.Trait> = []
#endif

let package = Package(
    name: "FaceNetBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "FaceNetSwift", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: benchmarkTraits),
    ],
    targets: [
        .executableTarget(
            name: "FaceNetBenchmarks",
            dependencies: [
                .product(name: "FaceNetKit", package: "FaceNetSwift"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "FaceNetBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
)
