// swift-tools-version: 6.2
import PackageDescription

// The panel GEMM is compiled for AVX2 + FMA (Haswell and later, AMD Zen and later) in a
// module of its own; FaceNetKit calls it only after checking the CPU (GEMMBackend).
#if arch(x86_64)
let avx2Targets: [Target] = [
    .target(
        name: "FaceNetAVX2",
        swiftSettings: [
            .unsafeFlags(["-target-cpu", "haswell"]),
            .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
        ]),
]
let avx2Dependencies: [Target.Dependency] = ["FaceNetAVX2"]
#else
let avx2Targets: [Target] = []
let avx2Dependencies: [Target.Dependency] = []
#endif

let package = Package(
    name: "FaceNetSwift",
    products: [
        .library(name: "FaceNetKit", targets: ["FaceNetKit"]),
        .executable(name: "facenet", targets: ["FaceNetCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // GraphDef decoding (Import/); its code is generated once and committed
        // (Scripts/generate-protos.sh), not by the build plugin.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
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
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
        // SHA-256 blocks with the x86 SHA instructions (for weights digests).
        .target(name: "CSHA256"),
        .target(
            name: "FaceNetKit",
            dependencies: ["CBLAS", "CHDF5", "CJPEG", "CImageCodecs", "CSHA256",
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")] + avx2Dependencies,
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        // Counts heap allocations for `facenet bench` (interposes malloc; benchmarks only).
        .target(name: "CAllocationCounter"),
        .executableTarget(
            name: "FaceNetCLI",
            dependencies: [
                "FaceNetKit", "CAllocationCounter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(
            name: "FaceNetKitTests",
            dependencies: ["FaceNetKit"],
            resources: [.copy("Fixtures")]),
    ] + avx2Targets
)
