import Foundation

/// How the engine runs a model: threads, the GEMM backend, the Winograd policy, chunk
/// sizes and the thresholds of its own threading. Every default is the value the engine
/// was measured and tuned with (Docs/performance.md), so `EngineOptions.default` is the
/// engine as it ships; the other values are for comparisons, measurements and hosts that
/// need them. Nothing here changes what is computed beyond float rounding: every setting
/// gives the same results within the golden tolerances.
///
/// Two kinds of field: `gemm` and `winograd` decide how a layer's weights are packed, so
/// they take effect when a model is loaded (`Model.load(…, options:)`, `Model(…, options:)`)
/// and are fixed for that model; the others are read when an `InferenceSession` is planned
/// (a session takes its model's options unless given its own).
///
/// The library reads no environment variable for any of this; the `facenet` tool maps its
/// flags (and, for benchmarks, the `FACENET_*` variables) onto it. There is no precision
/// setting: the engine computes in float32 throughout.
public struct EngineOptions: Sendable, Equatable {
    /// Threads that share each large convolution of a session (the calling thread plus
    /// `threads − 1` workers; OpenBLAS then runs single-threaded inside them, so there is one
    /// level of parallelism). Also the threads that pack a model's layers at load and that
    /// scan MTCNN's pyramid scales. `1`: no worker team, OpenBLAS threads as it likes.
    /// Default `nil`: `EngineOptions.defaultThreads`, the active processor count (at most
    /// 16), because the convolutions scale to every core the machine gives the process.
    public var threads: Int?

    /// Which GEMM multiplies activations by weights (fixed at load: weights are packed for
    /// it). Default `GEMMBackend.automatic`: the engine's own panel kernel where the CPU has
    /// AVX2 and FMA (it is faster there: weights packed once instead of on every call),
    /// else OpenBLAS. `.openBLAS` forces OpenBLAS (for comparisons); `.panels` on a CPU or
    /// build without the panel kernel is refused with `FaceNetError.invalidArgument`.
    public var gemm: GEMMBackend

    /// Which 3×3, 1×7 and 7×1 stride-1 convolutions run as Winograd convolutions, and with
    /// which tile (fixed at load: the kernels are transformed then). Default
    /// `WinogradPolicy.default`: on, F(2, 7) on, tile chosen per layer, from 32 filters.
    public var winograd: WinogradPolicy

    /// Valid-padding convolutions read their patches in place from the input ("implicit
    /// im2col") instead of copying them (panel GEMM only). Default `true`: it saves the
    /// copies (measured 45.6 → 44.5–45.4 ms/image, P-Net 118 → 94 ms); `false` sends them
    /// through im2col, for comparisons.
    public var implicitGEMM: Bool

    /// Patch floats per im2col chunk: the GEMM gets the patches of this many floats at a
    /// time (at least 256 rows). Default 65 536 (256 KB, half of a Zen or Skylake core's L2),
    /// so a chunk stays in L2 while the GEMM reads it.
    public var im2colChunkFloats: Int

    /// Floats of Winograd V and M per chunk of tiles. Default 262 144 (1 MB), measured
    /// best on FaceNet: the GEMMs and the output transform then find a chunk in L2.
    public var winogradChunkFloats: Int

    /// The fewest tiles in a Winograd chunk, whatever `winogradChunkFloats` says. Default
    /// 48, so each pass over the transformed weights (all positions) serves enough rows.
    public var winogradMinimumChunkTiles: Int

    /// Convolutions with fewer FLOPs than this run on the calling thread alone: waking the
    /// team costs more than it saves below it. Default 4 000 000 (2 per multiply-add);
    /// 1 000 000 measured no better. `0` shares every convolution (tests use it).
    public var parallelFlops: Int

    /// Polls an idle worker makes (~50 µs at the default) before it sleeps on its
    /// semaphore: a pass's convolutions follow each other within microseconds and a wake-up
    /// costs ~10 µs. Default 20 000; `0` makes workers sleep at once (shared hosts).
    public var teamSpinLimit: Int

    public init(threads: Int? = nil, gemm: GEMMBackend = .automatic, winograd: WinogradPolicy = .default,
                implicitGEMM: Bool = true, im2colChunkFloats: Int = 65_536, winogradChunkFloats: Int = 262_144,
                winogradMinimumChunkTiles: Int = 48, parallelFlops: Int = 4_000_000, teamSpinLimit: Int = 20_000) {
        self.threads = threads
        self.gemm = gemm
        self.winograd = winograd
        self.implicitGEMM = implicitGEMM
        self.im2colChunkFloats = im2colChunkFloats
        self.winogradChunkFloats = winogradChunkFloats
        self.winogradMinimumChunkTiles = winogradMinimumChunkTiles
        self.parallelFlops = parallelFlops
        self.teamSpinLimit = teamSpinLimit
    }

    /// The engine as measured and shipped.
    public static let `default` = EngineOptions()

    /// Threads when `threads` is nil: the active processor count, at most 16.
    public static var defaultThreads: Int { min(16, max(1, ProcessInfo.processInfo.activeProcessorCount)) }

    /// `threads`, or `defaultThreads` when nil.
    public var resolvedThreads: Int { threads ?? Self.defaultThreads }

    /// Throws `FaceNetError.invalidArgument` naming the first field out of range (threads
    /// below 1, a negative size or threshold, a GEMM backend this CPU or build cannot run).
    /// Zero sizes are allowed: the kernels then use their floors (256 im2col rows, 1 tile).
    public func validate() throws {
        func refuse(_ reason: String) -> FaceNetError { .invalidArgument("engine options: \(reason)") }
        if let threads, threads < 1 { throw refuse("threads must be at least 1 (or nil for the processor count), not \(threads)") }
        if !GEMMBackend.available.contains(gemm) {
            throw refuse("gemm \(gemm.rawValue) is not available here (the panel kernel needs an x86-64 build and a CPU with AVX2 and FMA)")
        }
        let sizes = [("winograd.minimumFilters", winograd.minimumFilters), ("im2colChunkFloats", im2colChunkFloats),
                     ("winogradChunkFloats", winogradChunkFloats), ("winogradMinimumChunkTiles", winogradMinimumChunkTiles)]
        for (name, value) in sizes where value < 0 { throw refuse("\(name) must not be negative, not \(value)") }
        if parallelFlops < 0 { throw refuse("parallelFlops must not be negative, not \(parallelFlops)") }
        if teamSpinLimit < 0 { throw refuse("teamSpinLimit must not be negative, not \(teamSpinLimit)") }
    }
}

/// Which convolutions become Winograd convolutions (`EngineOptions.winograd`).
public struct WinogradPolicy: Sendable, Equatable {
    /// The 3×3 variant: chosen per layer, or one forced on every 3×3 Winograd layer.
    public enum Tile: String, Sendable, CaseIterable {
        /// F(4×4, 3×3) where a layer has at least 16 4×4 output tiles per image, else
        /// F(2×2, 3×3): the larger transform reads 2.25× more weights, which costs more
        /// than it saves with few tiles (Mixed_7a's 8×8 at batch 1).
        case automatic
        /// F(2×2, 3×3) on every 3×3 Winograd layer.
        case f2x2
        /// F(4×4, 3×3) on every 3×3 Winograd layer.
        case f4x4
    }

    /// Whether any convolution runs as Winograd. Default `true` (measured 48.9 → 42.3
    /// ms/image at batch 8); `false` runs them all through im2col / implicit GEMM.
    public var enabled: Bool
    /// F(2, 7) for 1×7 and 7×1 convolutions (Block17's). Default `true` (per layer 2.4 → 1.7
    /// ms at batch 1); `false` keeps them direct.
    public var oneDimensional: Bool
    /// The 3×3 variant. Default `.automatic` (by tiles per image).
    public var tile: Tile
    /// The fewest filters (output channels) a layer needs for Winograd; it also needs 32
    /// input channels. Default 32: Block35's 32→32 and the stem's 2a (32→32) gain (1.32 → 1.04
    /// ms per layer at batch 1); MTCNN's 10→16 and 16→32 stay direct.
    public var minimumFilters: Int

    public init(enabled: Bool = true, oneDimensional: Bool = true, tile: Tile = .automatic, minimumFilters: Int = 32) {
        self.enabled = enabled
        self.oneDimensional = oneDimensional
        self.tile = tile
        self.minimumFilters = minimumFilters
    }

    /// Winograd as the engine ships.
    public static let `default` = WinogradPolicy()
    /// No Winograd convolution at all.
    public static let off = WinogradPolicy(enabled: false)
}

/// The run-time part of `EngineOptions` the convolution kernels read: chunk sizes and the
/// implicit-GEMM switch. A session plans its scratch with the same values its kernels then
/// run with (the chunk sizes decide how much scratch a kernel uses).
package struct ConvolutionTuning: Sendable, Equatable {
    package var implicitGEMM: Bool
    package var im2colChunkFloats: Int
    package var winogradChunkFloats: Int
    package var winogradMinimumChunkTiles: Int

    package init(_ options: EngineOptions) {
        implicitGEMM = options.implicitGEMM
        im2colChunkFloats = options.im2colChunkFloats
        winogradChunkFloats = options.winogradChunkFloats
        winogradMinimumChunkTiles = options.winogradMinimumChunkTiles
    }

    package static let `default` = ConvolutionTuning(.default)
}
