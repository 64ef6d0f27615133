import Foundation
import FaceNetKernels

/// Where models look for weight files, shared by the presets and the MTCNN detector.
package enum WeightsDirectories {
    /// In order: `$FACENET_WEIGHTS_DIR`, `~/.facenet/weights`, then this package's own
    /// `Weights/` (so it also works as a dependency built from source).
    package static func search(environment: [String: String]) -> [String] {
        var dirs: [String] = []
        if let custom = environment["FACENET_WEIGHTS_DIR"], !custom.isEmpty { dirs.append(custom) }
        if let home = environment["HOME"], !home.isEmpty { dirs.append(home + "/.facenet/weights") }
        dirs.append(packageWeightsDirectory)
        return dirs
    }

    /// `Weights/` of the package this source file was built from
    /// (Sources/FaceNetEngine/Weights/ → the package root).
    static var packageWeightsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Weights").path
    }
}
