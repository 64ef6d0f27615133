import ArgumentParser
import FaceNetKit
import Foundation

/// `--gemm`: the GEMM backend (`EngineOptions.gemm`).
enum GEMMFlag: String, ExpressibleByArgument, CaseIterable {
    case auto, panels, openblas

    init?(argument: String) {
        switch argument.lowercased() {
        case "auto", "automatic": self = .auto
        case "panels", "panel": self = .panels
        case "openblas", "blas": self = .openblas
        default: return nil
        }
    }
}

/// `--winograd`: the Winograd policy (`EngineOptions.winograd`).
enum WinogradFlag: String, ExpressibleByArgument, CaseIterable {
    /// Winograd as shipped: tile chosen per layer.
    case on
    /// No Winograd convolution.
    case off
    /// F(2×2, 3×3) on every 3×3 Winograd layer.
    case f2
    /// F(4×4, 3×3) on every 3×3 Winograd layer.
    case f4
}

/// The engine flags of the commands that run models (`embed`, `verify`, `calibrate`,
/// `detect`, `golden`, `run`, `bench`, `bench-detect`). `engineOptions()` is the one place
/// the CLI builds `EngineOptions`: from these flags, else from the `FACENET_*` variables that
/// `Benchmarks/ab.sh` sets, else the library's defaults.
struct EngineFlags: ParsableArguments {
    @Option(help: "Threads that share each large convolution (default: the active processor count, at most 16).")
    var threads: Int?

    @Option(help: "GEMM backend: auto (the engine's panel kernel on CPUs with AVX2+FMA, else OpenBLAS), panels or openblas.")
    var gemm: GEMMFlag?

    @Option(help: "Winograd convolutions: on (tile chosen per layer), off, f2 or f4 (that tile on every 3×3 Winograd layer).")
    var winograd: WinogradFlag?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// The options for this run: flags first, then the environment (see `engineOptions(environment:)`).
    func engineOptions(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> EngineOptions {
        var options = Self.engineOptions(environment: environment)
        if let threads { options.threads = threads }
        switch gemm {
        case .auto: options.gemm = .automatic
        case .panels: options.gemm = .panels
        case .openblas: options.gemm = .openBLAS
        case nil: break
        }
        switch winograd {
        case .on: options.winograd.enabled = true; options.winograd.tile = .automatic
        case .off: options.winograd.enabled = false
        case .f2: options.winograd.enabled = true; options.winograd.tile = .f2x2
        case .f4: options.winograd.enabled = true; options.winograd.tile = .f4x4
        case nil: break
        }
        try options.validate()
        return options
    }

    /// `EngineOptions` from the benchmark variables, as the library read them before it took
    /// options (an unset or unparsable number keeps the default):
    /// `FACENET_GEMM=openblas`, `FACENET_WINOGRAD=0`, `FACENET_WINOGRAD_1D=0`,
    /// `FACENET_WINOGRAD_TILE=2|4`, `FACENET_WINOGRAD_MIN_FILTERS=N`, `FACENET_WINOGRAD_FLOATS=N`,
    /// `FACENET_WINOGRAD_MIN_TILES=N`, `FACENET_IM2COL_FLOATS=N`, `FACENET_IMPLICIT_GEMM=0`,
    /// `FACENET_PARALLEL_FLOPS=N`, `FACENET_TEAM_SPIN=N`.
    static func engineOptions(environment: [String: String]) -> EngineOptions {
        var options = EngineOptions.default
        func number(_ name: String) -> Int? { environment[name].flatMap { Int($0) } }
        if environment["FACENET_GEMM"]?.lowercased() == "openblas" { options.gemm = .openBLAS }
        if environment["FACENET_WINOGRAD"] == "0" { options.winograd.enabled = false }
        if environment["FACENET_WINOGRAD_1D"] == "0" { options.winograd.oneDimensional = false }
        switch environment["FACENET_WINOGRAD_TILE"] {
        case "2": options.winograd.tile = .f2x2
        case "4": options.winograd.tile = .f4x4
        default: break
        }
        if let n = number("FACENET_WINOGRAD_MIN_FILTERS") { options.winograd.minimumFilters = n }
        if let n = number("FACENET_WINOGRAD_FLOATS") { options.winogradChunkFloats = n }
        if let n = number("FACENET_WINOGRAD_MIN_TILES") { options.winogradMinimumChunkTiles = n }
        if let n = number("FACENET_IM2COL_FLOATS") { options.im2colChunkFloats = n }
        if environment["FACENET_IMPLICIT_GEMM"] == "0" { options.implicitGEMM = false }
        if let n = number("FACENET_PARALLEL_FLOPS") { options.parallelFlops = n }
        if let n = number("FACENET_TEAM_SPIN") { options.teamSpinLimit = n }
        return options
    }
}
