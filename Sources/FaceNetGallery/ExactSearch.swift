import Dispatch
import FaceNetKernels
#if canImport(FaceNetAVX2)
import FaceNetAVX2
#endif

/// A row of the matrix found by a search, with its similarity (inner product) to the query.
struct RowMatch: Sendable, Equatable {
    var row: Int32
    var similarity: Float
}

/// A pointer handed to the threads of one search, which only read through it while the
/// buffer it points into is alive (the caller's `withUnsafeBufferPointer`).
struct SharedPointer: @unchecked Sendable {
    let base: UnsafePointer<Float>
}

/// The k largest similarities seen so far, as a min-heap on flat arrays: a new score costs
/// one comparison unless it beats the k-th best, so scanning n rows is O(n + m log k)
/// with m replacements, not a sort of all n.
struct TopK {
    let k: Int
    private(set) var rows: [Int32] = []
    private(set) var similarities: [Float] = []

    init(k: Int) {
        self.k = k
        rows.reserveCapacity(k)
        similarities.reserveCapacity(k)
    }

    /// The k-th best similarity, −∞ until k are held: a score must beat it to enter.
    var threshold: Float { similarities.count < k ? -.infinity : similarities[0] }

    @inline(__always)
    mutating func offer(_ row: Int32, _ similarity: Float) {
        guard k > 0 else { return }
        if similarities.count < k {
            rows.append(row)
            similarities.append(similarity)
            siftUp(similarities.count - 1)
        } else if similarity > similarities[0] || (similarity == similarities[0] && row < rows[0]) {
            rows[0] = row
            similarities[0] = similarity
            siftDown(0)
        }
    }

    /// Heap order: the worst on top; of equal similarities the larger row is worse, so
    /// ties resolve to the lower row, as the reference does.
    @inline(__always)
    private func worse(_ i: Int, _ j: Int) -> Bool {
        similarities[i] < similarities[j] || (similarities[i] == similarities[j] && rows[i] > rows[j])
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard worse(i, parent) else { return }
            rows.swapAt(i, parent)
            similarities.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let left = 2 * i + 1, right = left + 1
            var worst = i
            if left < similarities.count, worse(left, worst) { worst = left }
            if right < similarities.count, worse(right, worst) { worst = right }
            if worst == i { return }
            rows.swapAt(i, worst)
            similarities.swapAt(i, worst)
            i = worst
        }
    }

    mutating func merge(_ other: TopK) {
        for (row, similarity) in zip(other.rows, other.similarities) { offer(row, similarity) }
    }

    /// Best first (ties: lower row first).
    func sorted() -> [RowMatch] {
        zip(rows, similarities).map { RowMatch(row: $0, similarity: $1) }
            .sorted { $0.similarity > $1.similarity || ($0.similarity == $1.similarity && $0.row < $1.row) }
    }
}

/// The kernels exact search runs: the scan for one query and the GEMM for many. Tests run
/// every combination this build and CPU can (`available`); `automatic` is the fastest
/// measured (Docs/search.md, "Exact search").
package struct ExactKernels: Sendable, Equatable, CustomStringConvertible {
    /// One query against consecutive rows.
    package enum Scan: String, Sendable, CaseIterable {
        /// `InnerProducts` (FaceNetAVX2): four rows per pass, FMA; needs AVX2 + FMA.
        case avx2
        /// `dot` per row on portable SIMD (any CPU).
        case portable
    }

    package var scan: Scan
    package var gemm: GEMMBackend

    package init(scan: Scan, gemm: GEMMBackend) {
        self.scan = scan
        self.gemm = gemm
    }

    package var description: String { "scan \(scan.rawValue), GEMM \(gemm.rawValue)" }

    static let avx2Available: Bool = {
        #if canImport(FaceNetAVX2)
        return CPUFeatures.current().flags.isSuperset(of: ["avx2", "fma"])
        #else
        return false
        #endif
    }()

    /// The AVX2 kernels where the CPU has them, else the portable scan and OpenBLAS.
    package static let automatic = avx2Available ? ExactKernels(scan: .avx2, gemm: .panels)
                                                 : ExactKernels(scan: .portable, gemm: .openBLAS)

    /// Every combination this build can run on this CPU.
    package static let available: [ExactKernels] = {
        let scans: [Scan] = avx2Available ? [.avx2, .portable] : [.portable]
        let gemms: [GEMMBackend] = avx2Available ? [.panels, .openBLAS] : [.openBLAS]
        return scans.flatMap { scan in gemms.map { ExactKernels(scan: scan, gemm: $0) } }
    }()
}

/// Exact k-nearest search over every live row of an `EmbeddingMatrix`.
///
/// One query: the rows are scored a tile at a time (`InnerProducts`, 4 rows per pass with
/// FMA; it is bound by memory bandwidth, 2 KB per 512-d row), each tile's scores checked
/// against the heap's threshold 8 at a time. Several queries: blocks of `gemmRows` rows ×
/// up to `gemmQueries` queries multiplied as one GEMM, rows · queriesᵀ (the engine's panel
/// kernel reads the gallery rows in place; the queries are packed into panels once per
/// call), each score block checked row by row against the queries' thresholds 8 at a time.
/// Both share the rows among threads in chunks taken from a counter, so a thread on a core
/// that other work keeps busy takes fewer. Removed rows are looked up only for scores that
/// would enter a heap.
enum ExactSearch {
    /// Rows a thread takes at a time for one query (8 MB at 512-d).
    static let scanChunk = 4096
    /// Rows scored before their scores are checked (on the stack).
    static let scanTile = 256
    /// Gallery rows per GEMM block: 240 × 512 floats (480 KB) stay in L2 while every query
    /// panel passes over them; a multiple of the panel kernel's 6 rows.
    static let gemmRows = 240
    /// Queries per GEMM block (a multiple of 16, the panel width): a thread's score block
    /// is at most 240 × 2,048 floats (1.9 MB).
    static let gemmQueries = 2048

    /// For each query (dimension floats, l2-normalised), the k best rows, best first.
    /// `deleted[row]` rows are skipped (nil: none are). Throws for a query of another
    /// dimension, and (the OpenBLAS GEMM only) when OpenBLAS cannot be loaded.
    static func search(_ queries: [[Float]], in matrix: EmbeddingMatrix, k: Int, deleted: [Bool]? = nil,
                       threads: Int = 2, kernels: ExactKernels = .automatic) throws -> [[RowMatch]] {
        guard k > 0, matrix.count > 0, !queries.isEmpty else { return queries.map { _ in [] } }
        if let bad = queries.firstIndex(where: { $0.count != matrix.dimension }) {
            throw FaceNetError.invalidArgument("query \(bad) has \(queries[bad].count) values; the gallery's vectors have \(matrix.dimension)")
        }
        if let deleted, deleted.count < matrix.count {
            throw FaceNetError.internalError("ExactSearch: \(deleted.count) deletion flags for \(matrix.count) rows")
        }
        let threads = max(1, threads)
        if queries.count == 1 { return [scanOne(queries[0], matrix, k: k, deleted: deleted, threads: threads, scan: kernels.scan)] }
        return try multiply(queries, matrix, k: k, deleted: deleted, threads: threads, gemm: kernels.gemm)
    }

    /// Runs `work(part)` on `parts` threads (inline when one).
    private static func run(parts: Int, _ work: @Sendable (Int) -> Void) {
        if parts == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: work) }
    }

    /// One query: threads take chunks of rows from a counter, each into its own heap.
    private static func scanOne(_ query: [Float], _ matrix: EmbeddingMatrix, k: Int, deleted: [Bool]?, threads: Int,
                                scan: ExactKernels.Scan) -> [RowMatch] {
        let dimension = matrix.dimension, count = matrix.count
        let chunks = (count + scanChunk - 1) / scanChunk
        let parts = min(threads, chunks)
        let next = LockedValue(0)
        let heaps = LockedValue([TopK]())
        matrix.storage.withUnsafeBufferPointer { rows in
            query.withUnsafeBufferPointer { q in
                guard let rowBase = rows.baseAddress, let queryBase = q.baseAddress else { return }
                let shared = (rows: SharedPointer(base: rowBase), query: SharedPointer(base: queryBase))
                run(parts: parts) { _ in
                    let base = shared.rows.base, q = shared.query.base
                    var heap = TopK(k: k)
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: scanTile) { buffer in
                        guard let scores = buffer.baseAddress else { return }
                        while true {
                            let chunk = next.claim()
                            guard chunk < chunks else { return }
                            var row = chunk * scanChunk
                            let end = min(count, row + scanChunk)
                            while row < end {
                                let n = min(scanTile, end - row)
                                score(scan, query: q, rows: base + row * dimension, count: n, dimension: dimension, into: scores)
                                collect(scores, count: n, firstRow: row, into: &heap, deleted: deleted)
                                row += n
                            }
                        }
                    }
                    heaps.withLock { $0.append(heap) }
                }
            }
        }
        var merged = TopK(k: k)
        for heap in heaps.withLock({ $0 }) { merged.merge(heap) }
        return merged.sorted()
    }

    /// `scores[i]` = query · row i, for `count` consecutive rows.
    @inline(__always)
    private static func score(_ scan: ExactKernels.Scan, query: UnsafePointer<Float>, rows: UnsafePointer<Float>, count: Int,
                              dimension: Int, into scores: UnsafeMutablePointer<Float>) {
        #if canImport(FaceNetAVX2)
        if scan == .avx2 {
            InnerProducts.scores(query: query, rows: rows, count: count, dimension: dimension, into: scores)
            return
        }
        #endif
        for i in 0..<count { scores[i] = dot(query, rows + i * dimension, count: dimension) }
    }

    /// Offers the scores of rows firstRow ..< firstRow + count that reach the heap's
    /// threshold; 8 at a time, most tiles have none.
    @inline(__always)
    private static func collect(_ scores: UnsafePointer<Float>, count: Int, firstRow: Int, into heap: inout TopK,
                                deleted: [Bool]?) {
        var threshold = heap.threshold
        var j = 0
        while j + 8 <= count {
            let v = UnsafeRawPointer(scores + j).loadUnaligned(as: SIMD8<Float>.self)
            if any(v .>= SIMD8(repeating: threshold)) {
                for lane in 0..<8 where v[lane] >= threshold {
                    let row = firstRow + j + lane
                    if let deleted, deleted[row] { continue }
                    heap.offer(Int32(row), v[lane])
                    threshold = heap.threshold
                }
            }
            j += 8
        }
        while j < count {
            let row = firstRow + j
            if scores[j] >= threshold, !(deleted?[row] ?? false) {
                heap.offer(Int32(row), scores[j])
                threshold = heap.threshold
            }
            j += 1
        }
    }

    /// The queries as the panel kernel's B = queriesᵀ (dimension × m): panel p holds queries
    /// 16p ..< 16p + 16 as dimension rows of 16 floats, zero past the last query.
    static func packQueries(_ queries: [[Float]], dimension: Int) -> [Float] {
        let width = 16, panels = (queries.count + width - 1) / width
        var packed = [Float](repeating: 0, count: panels * dimension * width)
        for (i, query) in queries.enumerated() {
            let base = (i / width) * dimension * width + i % width
            for d in 0..<dimension { packed[base + d * width] = query[d] }
        }
        return packed
    }

    /// Many queries: GEMM blocks of rows × queries; threads take row blocks from a counter.
    private static func multiply(_ queries: [[Float]], _ matrix: EmbeddingMatrix, k: Int, deleted: [Bool]?, threads: Int,
                                 gemm: GEMMBackend) throws -> [[RowMatch]] {
        let dimension = matrix.dimension, count = matrix.count, m = queries.count
        let blas: BLAS.Library? = gemm == .openBLAS ? try BLAS.require() : nil
        #if canImport(FaceNetAVX2)
        let usePanels = gemm == .panels && ExactKernels.avx2Available
        #else
        let usePanels = false
        #endif
        if !usePanels && blas == nil {
            throw FaceNetError.internalError("ExactSearch: the panel GEMM asked for where this build or CPU cannot run it")
        }
        // Panels for the engine's kernel, else plain rows for OpenBLAS.
        let packed = usePanels ? packQueries(queries, dimension: dimension) : queries.flatMap { $0 }
        let blocks = (count + gemmRows - 1) / gemmRows
        let parts = min(threads, blocks)
        let queryBlock = min(m, gemmQueries)
        let next = LockedValue(0)
        let heaps = LockedValue([[TopK]]())
        matrix.storage.withUnsafeBufferPointer { rows in
            packed.withUnsafeBufferPointer { q in
                guard let rowBase = rows.baseAddress, let queryBase = q.baseAddress else { return }
                let shared = (rows: SharedPointer(base: rowBase), queries: SharedPointer(base: queryBase))
                run(parts: parts) { _ in
                    let base = shared.rows.base, q = shared.queries.base
                    var local = [TopK](repeating: TopK(k: k), count: m)
                    var thresholds = [Float](repeating: -.infinity, count: m)
                    var block = [Float](repeating: 0, count: gemmRows * queryBlock)
                    block.withUnsafeMutableBufferPointer { buffer in
                        guard let c = buffer.baseAddress else { return }
                        while true {
                            let index = next.claim()
                            guard index < blocks else { return }
                            let firstRow = index * gemmRows
                            let n = min(gemmRows, count - firstRow)
                            var firstQuery = 0
                            while firstQuery < m {
                                let mb = min(queryBlock, m - firstQuery)
                                #if canImport(FaceNetAVX2)
                                if usePanels {
                                    PanelGEMM.multiply(m: n, n: mb, k: dimension, a: base + firstRow * dimension,
                                                       layout: PanelGEMM.RowLayout(lda: dimension),
                                                       panels: q + firstQuery * dimension, columns: 0..<mb, c: c, ldc: mb,
                                                       alpha: 1, accumulate: false)
                                }
                                #endif
                                if let blas {
                                    blas.multiplyByTranspose(m: n, n: mb, k: dimension, a: base + firstRow * dimension,
                                                             b: q + firstQuery * dimension, ldb: dimension, c: c, ldc: mb)
                                }
                                collect(block: c, rows: n, firstRow: firstRow, queries: mb, firstQuery: firstQuery,
                                        heaps: &local, thresholds: &thresholds, deleted: deleted)
                                firstQuery += mb
                            }
                        }
                    }
                    heaps.withLock { $0.append(local) }
                }
            }
        }
        let perPart = heaps.withLock { $0 }
        return (0..<m).map { i in
            var merged = TopK(k: k)
            for part in perPart { merged.merge(part[i]) }
            return merged.sorted()
        }
    }

    /// Offers a score block (rows × queries, row-major, `queries` apart) to the queries'
    /// heaps: each row's scores are compared with the queries' thresholds 8 at a time.
    @inline(__always)
    private static func collect(block c: UnsafePointer<Float>, rows: Int, firstRow: Int, queries mb: Int, firstQuery: Int,
                                heaps: inout [TopK], thresholds: inout [Float], deleted: [Bool]?) {
        thresholds.withUnsafeMutableBufferPointer { buffer in
            guard let t = buffer.baseAddress.map({ $0 + firstQuery }) else { return }
            for r in 0..<rows {
                let row = firstRow + r
                if let deleted, deleted[row] { continue }
                let line = c + r * mb
                var g = 0
                while g + 8 <= mb {
                    let v = UnsafeRawPointer(line + g).loadUnaligned(as: SIMD8<Float>.self)
                    let mask = v .>= UnsafeRawPointer(t + g).loadUnaligned(as: SIMD8<Float>.self)
                    if any(mask) {
                        for lane in 0..<8 where mask[lane] {
                            let i = firstQuery + g + lane
                            heaps[i].offer(Int32(row), v[lane])
                            t[g + lane] = heaps[i].threshold
                        }
                    }
                    g += 8
                }
                while g < mb {
                    if line[g] >= t[g] {
                        let i = firstQuery + g
                        heaps[i].offer(Int32(row), line[g])
                        t[g] = heaps[i].threshold
                    }
                    g += 1
                }
            }
        }
    }

    /// The reference: every similarity in Double, sorted (tests compare against it).
    static func reference(_ query: [Float], in matrix: EmbeddingMatrix, k: Int, deleted: [Bool]? = nil) -> [RowMatch] {
        var scored: [(row: Int, similarity: Double)] = []
        for row in 0..<matrix.count where !(deleted?[row] ?? false) {
            var sum = 0.0
            for (a, b) in zip(query, matrix.row(row)) { sum += Double(a) * Double(b) }
            scored.append((row, sum))
        }
        scored.sort { $0.similarity > $1.similarity || ($0.similarity == $1.similarity && $0.row < $1.row) }
        return scored.prefix(k).map { RowMatch(row: Int32($0.row), similarity: Float($0.similarity)) }
    }
}

extension LockedValue where Value == Int {
    /// The counter's value, then one more: threads take work items from it one at a time,
    /// so a thread on a busy core simply takes fewer.
    func claim() -> Int {
        withLock { value in
            defer { value += 1 }
            return value
        }
    }
}
