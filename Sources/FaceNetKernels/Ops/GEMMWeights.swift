import Foundation
#if canImport(FaceNetAVX2)
import FaceNetAVX2
#endif

/// Which GEMM multiplies activations by layer weights (`EngineOptions.gemm`, fixed when a
/// model is loaded: its weights are packed for it). `automatic` is the engine's own panel
/// GEMM where the CPU has AVX2 and FMA, else OpenBLAS.
public enum GEMMBackend: String, Sendable, CaseIterable {
    /// `PanelGEMM`: weights packed once into 16-column panels, AVX2/FMA micro-kernel.
    case panels
    /// `cblas_sgemm` on row-major weights (it packs them again on every call).
    case openBLAS

    /// The backend for this CPU: `.panels` where this build has the panel kernel and the
    /// CPU can run it, else `.openBLAS` (`EngineOptions`' default).
    public static let automatic: GEMMBackend = choose(cpu: CPUFeatures.current())

    /// The backends this build can run on this CPU (tests compare them; options asking for
    /// another are refused).
    public static let available: [GEMMBackend] = panelsAvailable(cpu: CPUFeatures.current()) ? [.panels, .openBLAS] : [.openBLAS]

    /// Whether this build has the panel kernel and this CPU can run it.
    static func panelsAvailable(cpu: CPUFeatures) -> Bool {
        #if canImport(FaceNetAVX2)
        return cpu.flags.isSuperset(of: ["avx2", "fma"])
        #else
        return false
        #endif
    }

    static func choose(cpu: CPUFeatures) -> GEMMBackend {
        panelsAvailable(cpu: cpu) ? .panels : .openBLAS
    }

    /// One line for logs and benchmarks.
    public var note: String {
        switch self {
        case .panels: return "GEMM: the engine's panel kernel (AVX2+FMA, weights packed at load)"
        case .openBLAS: return "GEMM: OpenBLAS sgemm"
        }
    }
}

/// The B operands of a layer's GEMMs: `count` matrices of (depth × columns) (one for a
/// convolution, 16 for Winograd's transformed kernel), stored once at load in the layout
/// of the backend that multiplies by them, so nothing is repacked per call.
///
/// Layouts: `.openBLAS` row-major (depth × columns) per matrix; `.panels` per matrix
/// ⌈columns / 16⌉ panels of (depth × 16), zero-padded past the last column.
package struct GEMMWeights: Sendable {
    package let depth: Int
    package let columns: Int
    package let count: Int
    package let backend: GEMMBackend
    private let values: [Float]
    /// What multiplies: OpenBLAS, held from the start (weights for it exist only where it
    /// loaded, so a multiply never finds it missing), or the panel kernel.
    private let multiplier: Multiplier

    private enum Multiplier: Sendable {
        case openBLAS(BLAS.Library)
        #if canImport(FaceNetAVX2)
        case panels
        #endif
    }

    /// `rowMajor` holds `count` (depth × columns) matrices one after another. Throws the
    /// loader's error (`unreadableFile`, naming OpenBLAS) when `.openBLAS` and OpenBLAS
    /// cannot be loaded; `internalError` for `.panels` where the panel kernel cannot run
    /// (options asking for it are refused before) or for sizes that do not fit `rowMajor`.
    package init(rowMajor: [Float], depth: Int, columns: Int, count: Int = 1, backend: GEMMBackend = .automatic) throws {
        guard depth > 0, columns > 0, count > 0, rowMajor.count == count * depth * columns else {
            throw internalFault("GEMMWeights: \(rowMajor.count) floats given for \(count) matrices of \(depth) × \(columns)")
        }
        switch backend {
        case .openBLAS:
            multiplier = .openBLAS(try BLAS.require())
        case .panels:
            #if canImport(FaceNetAVX2)
            guard GEMMBackend.available.contains(.panels) else {
                throw internalFault("GEMMWeights: panel weights on a CPU without AVX2 and FMA")
            }
            multiplier = .panels
            #else
            throw internalFault("GEMMWeights: panel weights in a build without the panel kernel (FaceNetAVX2)")
            #endif
        }
        self.depth = depth
        self.columns = columns
        self.count = count
        self.backend = backend
        switch backend {
        case .openBLAS:
            values = rowMajor
        case .panels:
            let width = GEMMWeights.panelWidth
            let panels = (columns + width - 1) / width
            values = [Float](unsafeUninitializedCapacity: count * panels * depth * width) { packed, initialized in
                // Both buffers are non-empty (sizes checked above): the base addresses exist.
                guard let target = packed.baseAddress else { return }
                target.initialize(repeating: 0, count: packed.count)
                rowMajor.withUnsafeBufferPointer { source in
                    guard let source = source.baseAddress else { return }
                    for matrix in 0..<count {
                        let from = source + matrix * depth * columns, to = target + matrix * panels * depth * width
                        for p in 0..<panels {
                            let used = min(width, columns - p * width)
                            for row in 0..<depth {
                                (to + (p * depth + row) * width).update(from: from + row * columns + p * width, count: used)
                            }
                        }
                    }
                }
                initialized = packed.count
            }
        }
    }

    static let panelWidth = 16

    /// Floats per stored matrix.
    private var matrixStride: Int {
        switch backend {
        case .openBLAS: return depth * columns
        case .panels: return (columns + Self.panelWidth - 1) / Self.panelWidth * Self.panelWidth * depth
        }
    }

    /// Matrix `matrix` as row-major (depth × columns) floats (tests and inspection).
    package func rowMajor(matrix: Int = 0) -> [Float] {
        let base = matrix * matrixStride
        switch backend {
        case .openBLAS:
            return Array(values[base..<(base + depth * columns)])
        case .panels:
            var out = [Float](repeating: 0, count: depth * columns)
            for row in 0..<depth {
                for column in 0..<columns {
                    let p = column / Self.panelWidth
                    out[row * columns + column] = values[base + (p * depth + row) * Self.panelWidth + column % Self.panelWidth]
                }
            }
            return out
        }
    }

    /// The columns thread `part` of `parts` computes when threads share by columns: whole
    /// panels for the panel kernel, so no two threads write into one panel.
    package func columnShare(part: Int, parts: Int) -> Range<Int> {
        switch backend {
        case .openBLAS:
            return WorkerTeam.share(of: columns, part: part, parts: parts)
        case .panels:
            let panels = WorkerTeam.share(of: (columns + Self.panelWidth - 1) / Self.panelWidth, part: part, parts: parts)
            return min(columns, panels.lowerBound * Self.panelWidth)..<min(columns, panels.upperBound * Self.panelWidth)
        }
    }

    /// C (m × `columns`, rows `ldc` apart; `c` points at C's column 0) = alpha · A (m × depth,
    /// rows `lda` apart) · B[matrix][:, columns] (+ C when `accumulate`). Allocates nothing.
    package func multiply(matrix: Int = 0, m: Int, a: UnsafePointer<Float>, lda: Int? = nil, c: UnsafeMutablePointer<Float>, ldc: Int,
                  columns range: Range<Int>? = nil, alpha: Float = 1, accumulate: Bool = false) {
        _ = multiply(matrix: matrix, m: m, a: a, lda: lda, c: c, ldc: ldc, columns: range,
                     epilogue: Epilogue(alpha: alpha, accumulate: accumulate), finishing: false)
    }

    #if canImport(FaceNetAVX2)
    /// The per-column part of `epilogue` as the panel kernel takes it (nil: none).
    private static func withPanelEpilogue(_ epilogue: Epilogue?, _ body: (PanelGEMM.Epilogue?) -> Void) {
        guard let epilogue else { return body(nil) }
        withOptionalPointer(epilogue.scale) { scale in
            withOptionalPointer(epilogue.shift) { shift in
                withOptionalPointer(epilogue.preluSlopes) { slopes in
                    body(PanelGEMM.Epilogue(scale: scale, shift: shift, relu: epilogue.activation == .relu, slopes: slopes))
                }
            }
        }
    }
    #endif

    /// Whether the panel kernel applies this epilogue's per-column part (scale, shift,
    /// ReLU, PReLU) as it stores each tile; other activations need the separate pass.
    func finishes(_ epilogue: Epilogue) -> Bool {
        backend == .panels && (epilogue.activation == .linear || epilogue.activation == .relu)
    }

    /// Multiplies with `epilogue`'s alpha and accumulation; when `finishing` and
    /// `finishes(epilogue)`, also applies the rest of it to each tile and returns true
    /// (else the caller still has to run `epilogue.apply`).
    ///
    /// `runs`: A's rows as `count` runs of depth / count floats, `stride` apart (see
    /// `PanelGEMM.RowLayout`; implicit im2col). Only the panel kernel takes more than one
    /// run, so only `.panels` weights may be given them (`Conv2DImplicitGEMM.applies`).
    package func multiply(matrix: Int = 0, m: Int, a: UnsafePointer<Float>, lda: Int? = nil, runs: (count: Int, stride: Int) = (1, 0),
                  c: UnsafeMutablePointer<Float>, ldc: Int, columns range: Range<Int>? = nil, epilogue: Epilogue,
                  finishing: Bool = true) -> Bool {
        let range = range ?? 0..<columns
        guard m > 0, !range.isEmpty else { return true }  // an empty product: nothing to write or finish
        precondition(runs.count == 1 || backend == .panels, "A in runs needs the panel kernel")
        return values.withUnsafeBufferPointer { buffer in
            // Never nil: the initialiser refuses empty weights.
            guard let base = buffer.baseAddress else { return false }
            let b = base + matrix * matrixStride
            switch multiplier {
            case .openBLAS(let blas):
                sgemm(blas, m: m, n: range.count, k: depth, a: a, lda: lda, b: b + range.lowerBound, ldb: columns,
                      c: c + range.lowerBound, ldc: ldc, alpha: epilogue.alpha, accumulate: epilogue.accumulate)
                return false
            #if canImport(FaceNetAVX2)
            case .panels:
                let finish = finishing && finishes(epilogue)
                Self.withPanelEpilogue(finish ? epilogue : nil) { tail in
                    PanelGEMM.multiply(m: m, n: columns, k: depth, a: a,
                                       layout: PanelGEMM.RowLayout(lda: lda ?? depth, segments: runs.count, segmentStride: runs.stride),
                                       panels: b, columns: range, c: c, ldc: ldc, alpha: epilogue.alpha,
                                       accumulate: epilogue.accumulate, epilogue: tail)
                }
                return finish
            #endif
            }
        }
    }
}
