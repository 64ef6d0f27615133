// swift-tools-version: 6.2
import PackageDescription

// Small programs that use FaceNetKit as an app would. From this folder:
//   swift run verify-photos a.jpg b.jpg
//   swift run embed-folder photos/ > embeddings.jsonl
//   swift run group-faces group.jpg
//   swift run layer-outputs Weights/facenet512_casia.h5 photo.jpg
// The weights: `facenet weights fetch` (or FACENET_WEIGHTS_DIR pointing at a folder holding
// facenet512_casia.h5). Scripts/consumer-check.sh (CI) builds these same sources against a
// version tag of the package, so an example that stops compiling fails CI.
let package = Package(
    name: "FaceNetExamples",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "FaceNetSwift", path: "..")],
    targets: ["verify-photos", "embed-folder", "group-faces", "layer-outputs"].map { name in
        .executableTarget(name: name, dependencies: [.product(name: "FaceNetKit", package: "FaceNetSwift")])
    }
)
