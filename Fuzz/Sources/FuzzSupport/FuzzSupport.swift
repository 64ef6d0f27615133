import CFuzzerDriver
import FaceNetKit
import Foundation

/// What every fuzz target shares: turning libFuzzer's buffer into `Data`, the rule that
/// a parser may only fail with a `FaceNetError`, and where the fixtures live.
public enum Fuzz {
    /// The root package (`Fuzz/..`), for the fixtures the harnesses parse against.
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A fixture of the root package's tests, by path below `Tests/Fixtures`.
    public static func fixture(_ relative: String) -> String {
        packageRoot.appendingPathComponent("Tests/Fixtures").appendingPathComponent(relative).path
    }

    /// libFuzzer's input as `Data` (a copy: the buffer is only valid during the call).
    public static func data(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Data {
        guard let bytes, count > 0 else { return Data() }
        return Data(bytes: bytes, count: count)
    }

    /// Runs one parse. Success and a typed `FaceNetError` are both fine; any other error
    /// means an input path escaped the library's error model, and `internalError` means an
    /// input broke an invariant inside the engine: both are reported as a crash.
    public static func expectTypedErrors(_ body: () throws -> Void) {
        do {
            try body()
        } catch FaceNetError.internalError(let message) {
            fatalError("internal error: \(message)")
        } catch is FaceNetError {
            return
        } catch {
            fatalError("untyped error escaped the parser: \(type(of: error)): \(error)")
        }
    }
}

extension Fuzz {
    /// Small limits for the image targets, so headers claiming huge sizes are refused at
    /// once (as the defaults refuse larger ones) and inputs stay fast.
    public static let imageLimits = ImageLimits(maxWidth: 4096, maxHeight: 4096, maxPixels: 1 << 20,
                                                maxFileBytes: 1 << 20)

    /// One input through `ImageDecoder.decode(data:name:limits:)`; `name` picks nothing
    /// (the format is sniffed), it only labels errors.
    public static func decodeImage(_ bytes: UnsafePointer<UInt8>?, _ count: Int, name: String) {
        let data = data(bytes, count)
        expectTypedErrors { _ = try ImageDecoder.decode(data: data, name: name, limits: imageLimits) }
    }
}

extension Fuzz {
    /// The signature libFuzzer calls: `int LLVMFuzzerTestOneInput(const uint8_t *, size_t)`.
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

    /// Runs libFuzzer on `target` with this process's arguments (the usual libFuzzer flags
    /// and corpus directories) and returns its exit status.
    public static func run(_ target: TestOneInput) -> Int32 {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        return LLVMFuzzerRunDriver(&argc, &argv, target)
    }
}
