import ArgumentParser
import FaceNetKit
import FaceNetTools

extension WeightsVerification.Policy: ExpressibleByArgument {}

/// `--verify-weights`, shared by every command that loads weights.
struct WeightsCheckOptions: ParsableArguments {
    @Option(help: """
        Check weights against the manifest of known weights (Weights/README.md): off, warn (a mismatch \
        is a warning on stderr) or require (a mismatch is an error). Digests are cached in \
        $FACENET_CACHE_DIR, else $XDG_CACHE_HOME/facenet or ~/.cache/facenet.
        """)
    var verifyWeights: WeightsVerification.Policy = .warn

    var verification: WeightsVerification { WeightsVerification(verifyWeights) }

    /// Prints a warning on stderr for each model whose weights did not match the manifest.
    func warnAboutMismatches(_ models: [Model]) {
        for model in models {
            if case .mismatch = model.weightsCheck { printError("warning: \(model.weightsSource): \(model.weightsCheck.summary)") }
        }
    }
}
