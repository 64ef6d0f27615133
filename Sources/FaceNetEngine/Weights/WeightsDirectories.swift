import Foundation
import FaceNetKernels

/// Where the presets look for weights files. Only the user's directories: nothing is
/// looked up through the build tree, so an app that depends on the package and a
/// `facenet` binary copied elsewhere behave the same. (In a clone, the scripts point
/// `$FACENET_WEIGHTS_DIR` at `Weights/`.)
package enum WeightsDirectories {
    /// In order: `$FACENET_WEIGHTS_DIR`, `~/.facenet/weights`.
    package static func search(environment: [String: String]) -> [String] {
        var dirs: [String] = []
        if let custom = environment["FACENET_WEIGHTS_DIR"], !custom.isEmpty { dirs.append(custom) }
        if let home = environment["HOME"], !home.isEmpty { dirs.append(home + "/.facenet/weights") }
        return dirs
    }

    /// Where fetched weights go by default: the first of `search`.
    package static func install(environment: [String: String]) -> String? {
        search(environment: environment).first
    }
}
