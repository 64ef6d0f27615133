import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

/// The helper side of `WeightsIsolation.childProcess` (hidden): `--isolate-weights` runs
/// `facenet validate-weights …` on an untrusted weights file, so that a crash inside
/// libhdf5 kills this child, not the command the user ran.
struct ValidateWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate-weights",
        abstract: "Read a weights file for a parent facenet process (internal).",
        shouldDisplay: false)

    @Argument(parsing: .allUnrecognized, help: "The isolation protocol's arguments.")
    var protocolArguments: [String] = []

    func run() throws {
        if protocolArguments.isEmpty {
            throw FaceNetError.invalidArgument("validate-weights is internal: facenet runs it in a child process for --isolate-weights; "
                                               + "to check a weights file yourself, run `facenet inspect --weights FILE`")
        }
        let status = IsolatedWeightsLoader.runHelper(protocolArguments)
        if status != 0 { throw ExitCode(status) }
    }
}
