import Dispatch
import FaceNetKernels

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

/// Exact k-nearest search over every live row of an `EmbeddingMatrix`.
///
/// One query: a dot product per row, the rows split across `threads` (the scan is bound by
/// memory bandwidth: 2 KB per 512-d row). Several queries: blocks of 64 queries × 1,024 rows
/// multiplied as one GEMM (`Qᵀ`-free: queries · rowsᵀ through OpenBLAS, single-threaded
/// inside each of our threads), each score block then fed to the queries' top-k heaps.
enum ExactSearch {
    static let queryBlock = 64
    static let rowBlock = 1024

    /// For each query (dimension floats, l2-normalised), the k best rows, best first.
    /// `deleted[row]` rows are skipped (nil: none are).
    static func search(_ queries: [[Float]], in matrix: EmbeddingMatrix, k: Int, deleted: [Bool]? = nil,
                       threads: Int = 2) throws -> [[RowMatch]] {
        guard k > 0, matrix.count > 0, !queries.isEmpty else { return queries.map { _ in [] } }
        let parts = max(1, min(threads, matrix.count / 4096 + 1))
        if queries.count == 1 { return [scanOne(queries[0], matrix, k: k, deleted: deleted, parts: parts)] }
        return try multiply(queries, matrix, k: k, deleted: deleted, parts: parts)
    }

    /// One query: `parts` threads each scan a share of the rows into their own heap.
    private static func scanOne(_ query: [Float], _ matrix: EmbeddingMatrix, k: Int, deleted: [Bool]?, parts: Int) -> [RowMatch] {
        let heaps = LockedValue([TopK](repeating: TopK(k: k), count: parts))
        let dimension = matrix.dimension, count = matrix.count
        matrix.storage.withUnsafeBufferPointer { rows in
            query.withUnsafeBufferPointer { q in
                guard let rowBase = rows.baseAddress, let queryBase = q.baseAddress else { return }
                let shared = (rows: SharedPointer(base: rowBase), query: SharedPointer(base: queryBase))
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    let base = shared.rows.base, q = shared.query.base
                    var heap = TopK(k: k)
                    for row in WorkerTeam.share(of: count, part: part, parts: parts) {
                        if let deleted, deleted[row] { continue }
                        let similarity = dot(q, base + row * dimension, count: dimension)
                        if similarity >= heap.threshold { heap.offer(Int32(row), similarity) }
                    }
                    heaps.withLock { $0[part] = heap }
                }
            }
        }
        var merged = TopK(k: k)
        for heap in heaps.withLock({ $0 }) { merged.merge(heap) }
        return merged.sorted()
    }

    /// Many queries: GEMM blocks, rows shared across `parts` threads.
    private static func multiply(_ queries: [[Float]], _ matrix: EmbeddingMatrix, k: Int, deleted: [Bool]?,
                                 parts: Int) throws -> [[RowMatch]] {
        let blas = try BLAS.require()
        let dimension = matrix.dimension, count = matrix.count, m = queries.count
        let packed = queries.flatMap { $0 }
        let heaps = LockedValue([[TopK]](repeating: [], count: parts))
        matrix.storage.withUnsafeBufferPointer { rows in
            packed.withUnsafeBufferPointer { q in
                guard let rowBase = rows.baseAddress, let queryBase = q.baseAddress else { return }
                let shared = (rows: SharedPointer(base: rowBase), queries: SharedPointer(base: queryBase))
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    let base = shared.rows.base, q = shared.queries.base
                    var local = [TopK](repeating: TopK(k: k), count: m)
                    var scores = [Float](repeating: 0, count: queryBlock * rowBlock)
                    let share = WorkerTeam.share(of: count, part: part, parts: parts)
                    scores.withUnsafeMutableBufferPointer { block in
                        guard let c = block.baseAddress else { return }
                        var firstRow = share.lowerBound
                        while firstRow < share.upperBound {
                            let n = min(rowBlock, share.upperBound - firstRow)
                            var firstQuery = 0
                            while firstQuery < m {
                                let mb = min(queryBlock, m - firstQuery)
                                blas.multiplyByTranspose(m: mb, n: n, k: dimension, a: q + firstQuery * dimension,
                                                         b: base + firstRow * dimension, ldb: dimension, c: c, ldc: rowBlock)
                                for i in 0..<mb {
                                    let scoresOfQuery = c + i * rowBlock
                                    var threshold = local[firstQuery + i].threshold
                                    for j in 0..<n where scoresOfQuery[j] >= threshold {
                                        let row = firstRow + j
                                        if let deleted, deleted[row] { continue }
                                        local[firstQuery + i].offer(Int32(row), scoresOfQuery[j])  // in place
                                        threshold = local[firstQuery + i].threshold
                                    }
                                }
                                firstQuery += mb
                            }
                            firstRow += n
                        }
                    }
                    heaps.withLock { $0[part] = local }
                }
            }
        }
        let perPart = heaps.withLock { $0 }
        return (0..<m).map { i in
            var merged = TopK(k: k)
            for part in perPart where i < part.count { merged.merge(part[i]) }
            return merged.sorted()
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
