import CBLAS
import Foundation

/// OpenBLAS, loaded at run time with its kernel set chosen for this CPU.
///
/// OpenBLAS picks its kernels in a constructor that runs when the library is loaded, and
/// Debian's build falls back to slow SSE3 ("Prescott") kernels on CPUs it does not know.
/// So FaceNetKit does not link OpenBLAS: on first use it reads the CPU's features, sets
/// `OPENBLAS_CORETYPE` for the best kernel set the CPU really has (never AVX-512 kernels on
/// a CPU without AVX-512), loads the library with `dlopen`, and restores the environment.
/// A user's own `OPENBLAS_CORETYPE` is respected. If the host program had already loaded
/// OpenBLAS, its choice stands and `BLAS.selection.note` says so (also once on stderr).
package enum BLAS {
    package typealias SgemmFunction = @convention(c) (
        CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, Float,
        UnsafePointer<Float>?, blasint, UnsafePointer<Float>?, blasint, Float, UnsafeMutablePointer<Float>?, blasint) -> Void
    package typealias NameFunction = @convention(c) () -> UnsafeMutablePointer<CChar>?
    package typealias GetThreadsFunction = @convention(c) () -> Int32
    package typealias SetThreadsFunction = @convention(c) (Int32) -> Void

    package struct Library: @unchecked Sendable {
        // C function pointers into a library that is never unloaded: safe to share.
        let sgemm: SgemmFunction
        package let coreName: NameFunction?
        package let configuration: NameFunction?
        let getThreads: GetThreadsFunction?
        package let setThreads: SetThreadsFunction?
        package let selection: BLASKernelSelection

        /// C (m × n, rows `ldc` apart) = A (m × k, row-major) · Bᵀ, where B is n × k
        /// row-major with rows `ldb` apart: every row of A against every row of B (a gallery's
        /// scores). An empty product writes nothing.
        package func multiplyByTranspose(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                                         c: UnsafeMutablePointer<Float>, ldc: Int) {
            guard m > 0, n > 0, k > 0 else { return }
            sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k), 1, a, blasint(k),
                  b, blasint(ldb), 0, c, blasint(ldc))
        }
    }

    /// Loaded once, on first use (Swift runs a static initialiser exactly once, thread-safely).
    package static let library: Result<Library, FaceNetError> = load()

    /// The library, or the error that says why it could not be loaded.
    package static func require() throws -> Library {
        try library.get()
    }

    private static let candidates = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libblas.so.3"]

    private static func load() -> Result<Library, FaceNetError> {
        let environment = ProcessInfo.processInfo.environment
        let alreadyLoaded = candidates.lazy.compactMap { dlopen($0, RTLD_NOW | RTLD_NOLOAD) }.first
        var selection: BLASKernelSelection
        let handle: UnsafeMutableRawPointer?
        if let alreadyLoaded {
            handle = alreadyLoaded
            selection = BLASKernelSelection(requested: nil, reason: "OpenBLAS was loaded by the host program before FaceNetKit "
                + "could choose its kernels; its own choice stands (set OPENBLAS_CORETYPE before the program starts to change it)",
                userSet: environment["OPENBLAS_CORETYPE"].map { !$0.isEmpty } ?? false, active: "")
        } else {
            selection = chooseKernels(environment: environment, cpu: CPUFeatures.current())
            if let core = selection.requested { setenv("OPENBLAS_CORETYPE", core, 1) }
            handle = candidates.lazy.compactMap { dlopen($0, RTLD_NOW | RTLD_GLOBAL) }.first
            if selection.requested != nil { unsetenv("OPENBLAS_CORETYPE") }
        }
        guard let handle else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            return .failure(.unreadableFile(path: candidates.joined(separator: " / "),
                reason: "cannot load OpenBLAS (\(reason)); install libopenblas0 (Debian: apt-get install libopenblas-dev)"))
        }
        func symbol<T>(_ name: String, as type: T.Type) -> T? {
            dlsym(handle, name).map { unsafeBitCast($0, to: type) }
        }
        guard let sgemm = symbol("cblas_sgemm", as: SgemmFunction.self) else {
            return .failure(.unreadableFile(path: "OpenBLAS", reason: "the loaded BLAS has no cblas_sgemm"))
        }
        let coreName = symbol("openblas_get_corename", as: NameFunction.self)
        selection.active = coreName.flatMap { $0() }.map { String(cString: $0) } ?? "unknown"
        if alreadyLoaded != nil {
            FileHandle.standardError.write(Data("FaceNetKit: \(selection.reason); active kernels: \(selection.active)\n".utf8))
        }
        return .success(Library(sgemm: sgemm, coreName: coreName,
                                configuration: symbol("openblas_get_config", as: NameFunction.self),
                                getThreads: symbol("openblas_get_num_threads", as: GetThreadsFunction.self),
                                setThreads: symbol("openblas_set_num_threads", as: SetThreadsFunction.self),
                                selection: selection))
    }

    /// The kernel set to ask OpenBLAS for, from the CPU's features (pure, for tests).
    static func chooseKernels(environment: [String: String], cpu: CPUFeatures) -> BLASKernelSelection {
        if let user = environment["OPENBLAS_CORETYPE"], !user.isEmpty {
            return BLASKernelSelection(requested: nil, reason: "OPENBLAS_CORETYPE=\(user) set by the user", userSet: true, active: "")
        }
        let avx512: Set<String> = ["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"]
        if avx512.isSubset(of: cpu.flags) {
            let core = cpu.flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX"
            return BLASKernelSelection(requested: core, reason: "CPU has AVX-512", userSet: false, active: "")
        }
        if cpu.flags.isSuperset(of: ["avx2", "fma"]) {
            let core = cpu.vendor == "AuthenticAMD" || cpu.vendor == "HygonGenuine" ? "Zen" : "Haswell"
            return BLASKernelSelection(requested: core, reason: "CPU has AVX2 and FMA, no AVX-512", userSet: false, active: "")
        }
        if cpu.flags.contains("avx") {
            return BLASKernelSelection(requested: "Sandybridge", reason: "CPU has AVX, no AVX2", userSet: false, active: "")
        }
        return BLASKernelSelection(requested: nil, reason: "no AVX (or CPU features unknown): OpenBLAS's own choice",
                                   userSet: false, active: "")
    }
}

/// How the OpenBLAS kernel set was chosen.
public struct BLASKernelSelection: Sendable, Equatable {
    /// What FaceNetKit asked for (`nil`: it did not set OPENBLAS_CORETYPE).
    public let requested: String?
    /// Why, in words.
    public let reason: String
    /// Whether the user's own OPENBLAS_CORETYPE decided.
    public let userSet: Bool
    /// The kernel set OpenBLAS reports it is running.
    public internal(set) var active: String

    /// One line for logs and benchmarks.
    public var note: String {
        "OpenBLAS kernels \(active) (\(requested.map { "requested \($0): " } ?? "")\(reason))"
    }
}

/// CPU vendor and feature flags, from /proc/cpuinfo on Linux.
package struct CPUFeatures: Sendable, Equatable {
    var vendor: String
    package var flags: Set<String>

    package static func current() -> CPUFeatures {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return CPUFeatures(vendor: "", flags: [])
        }
        return parse(cpuinfo: text)
    }

    /// Reads the first processor's `vendor_id` and `flags` lines.
    package static func parse(cpuinfo text: String) -> CPUFeatures {
        var vendor = "", flags = Set<String>()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }  // not a "key: value" line
            if parts[0] == "vendor_id", vendor.isEmpty { vendor = parts[1] }
            if parts[0] == "flags", flags.isEmpty { flags = Set(parts[1].split(separator: " ").map(String.init)) }
            if !vendor.isEmpty, !flags.isEmpty { break }
        }
        return CPUFeatures(vendor: vendor, flags: flags)
    }
}

/// What the loaded OpenBLAS is doing: its kernel set and thread count.
public enum BLASInfo {
    /// How the kernel set was chosen and which one is active; throws if OpenBLAS cannot load.
    public static func selection() throws -> BLASKernelSelection { try BLAS.require().selection }

    /// The kernel set OpenBLAS runs (e.g. "Haswell", "SkylakeX", "Zen", "Prescott").
    public static var coreName: String { (try? BLAS.require().selection.active) ?? "not loaded" }

    /// OpenBLAS's build configuration string.
    public static var configuration: String {
        guard let f = try? BLAS.require().configuration, let c = f() else { return "unknown" }
        return String(cString: c)
    }

    /// Threads OpenBLAS uses for one GEMM.
    public static var threads: Int {
        guard let f = try? BLAS.require().getThreads else { return 0 }
        return Int(f())
    }

    /// Sets the threads OpenBLAS uses for one GEMM.
    public static func setThreads(_ count: Int) {
        (try? BLAS.require().setThreads)??(Int32(max(1, count)))
    }
}
