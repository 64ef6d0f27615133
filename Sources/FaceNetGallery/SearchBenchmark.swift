import Dispatch
import FaceNetKernels
import Foundation

/// `facenet bench-search`: exact and HNSW search timed on the same vectors, HNSW recall
/// measured against the exact results. Figures only; nothing here is asserted.
package enum SearchBenchmark {
    /// Raw little-endian float32 rows, normalised into a matrix.
    package static func readMatrix(_ path: String, dimension: Int) throws -> EmbeddingMatrix {
        var matrix = EmbeddingMatrix(dimension: dimension)
        let rows = try readRows(path, dimension: dimension)
        matrix.reserveCapacity(rows: rows.count)
        for row in rows { matrix.append(row) }
        return matrix
    }

    package static func readRows(_ path: String, dimension: Int) throws -> [[Float]] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw FaceNetError.noSuchFile(path, advice: "give raw little-endian float32 vectors (count × dimension)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        guard data.count % (dimension * 4) == 0, !data.isEmpty else {
            throw FaceNetError.unreadableFile(path: path, reason: "\(data.count) bytes is not a whole number of \(dimension)-d float32 rows")
        }
        return data.withUnsafeBytes { raw in
            (0..<data.count / (dimension * 4)).map { row in
                (0..<dimension).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: (row * dimension + $0) * 4, as: UInt32.self)))
                }
            }
        }
    }

    package static func cpuName() -> String {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let name = text.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last
        return name.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    }

    private static func seconds(_ work: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try work()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Every figure, by name; `log` gets a line per measurement.
    package static func run(matrix: EmbeddingMatrix, queries: [[Float]], k: Int, efs: [Int], m: Int, efConstruction: Int,
                            threads: Int, buildThreads: Int = 1, compareKernels: Bool = false,
                            log: (String) -> Void) throws -> [String: Double] {
        var report: [String: Double] = ["vectors": Double(matrix.count), "queries": Double(queries.count), "k": Double(k)]
        let normalized = queries.map(EmbeddingMatrix.normalized)
        // Exact: one query per call, on one thread and on `threads`.
        var truth: [[RowMatch]] = []
        for t in Set([1, threads]).sorted() {
            var found: [[RowMatch]] = []
            let time = try seconds { found = try normalized.map { try ExactSearch.search([$0], in: matrix, k: k, threads: t)[0] } }
            truth = found
            report["exact_single_qps_\(t)t"] = Double(queries.count) / time
            log(String(format: "exact, one query per call, %d thread(s): %.1f QPS (%.3f ms/query)", t, Double(queries.count) / time,
                       time * 1e3 / Double(queries.count)))
        }
        var batched: [[RowMatch]] = []
        let batchTime = try seconds { batched = try ExactSearch.search(normalized, in: matrix, k: k, threads: threads) }
        report["exact_batched_qps"] = Double(queries.count) / batchTime
        let agree = zip(batched, truth).filter { $0.map(\.row) == $1.map(\.row) }.count
        log(String(format: "exact, all %d queries in one call, %d thread(s): %.1f QPS (%d/%d identical to one at a time)",
                   queries.count, threads, Double(queries.count) / batchTime, agree, queries.count))
        if compareKernels {
            // Every kernel combination this CPU runs, on `threads` (Docs/search.md says which won).
            for kernels in ExactKernels.available {
                let name = "\(kernels.scan.rawValue)_\(kernels.gemm.rawValue)"
                var single: [[RowMatch]] = []
                let singleTime = try seconds {
                    single = try normalized.map { try ExactSearch.search([$0], in: matrix, k: k, threads: threads, kernels: kernels)[0] }
                }
                var many: [[RowMatch]] = []
                let manyTime = try seconds { many = try ExactSearch.search(normalized, in: matrix, k: k, threads: threads, kernels: kernels) }
                report["exact_single_qps_\(name)"] = Double(queries.count) / singleTime
                report["exact_batched_qps_\(name)"] = Double(queries.count) / manyTime
                let same = zip(single, truth).filter { $0.map(\.row) == $1.map(\.row) }.count
                    + zip(many, truth).filter { $0.map(\.row) == $1.map(\.row) }.count
                log(String(format: "exact, %@, %d thread(s): one query per call %.1f QPS, all in one call %.1f QPS (%d/%d identical)",
                           kernels.description, threads, Double(queries.count) / singleTime, Double(queries.count) / manyTime,
                           same, 2 * queries.count))
            }
        }
        guard !efs.isEmpty else { return report }

        var index = HNSWIndex(parameters: HNSWParameters(m: m, efConstruction: efConstruction))
        let buildTime = seconds {
            for row in 0..<matrix.count { index.insert(row: Int32(row), in: matrix) }
        }
        try timeSearches(index, label: "", matrix: matrix, queries: normalized, truth: truth, k: k, efs: efs,
                         buildTime: buildTime, m: m, efConstruction: efConstruction, threads: 1, report: &report, log: log)
        if buildThreads > 1 {
            var parallel = HNSWIndex(parameters: HNSWParameters(m: m, efConstruction: efConstruction))
            let parallelTime = seconds { parallel.insert(rowsUpTo: matrix.count, in: matrix, threads: buildThreads) }
            try timeSearches(parallel, label: "_parallel", matrix: matrix, queries: normalized, truth: truth, k: k, efs: efs,
                             buildTime: parallelTime, m: m, efConstruction: efConstruction, threads: buildThreads,
                             report: &report, log: log)
        }
        return report
    }

    /// Records the build and, per ef, recall@k against `truth` and single-query QPS.
    private static func timeSearches(_ index: HNSWIndex, label: String, matrix: EmbeddingMatrix, queries normalized: [[Float]],
                                     truth: [[RowMatch]], k: Int, efs: [Int], buildTime: Double,
                                     m: Int, efConstruction: Int, threads: Int, report: inout [String: Double],
                                     log: (String) -> Void) throws {
        let queries = normalized
        let bytes = index.serialized().count
        report["hnsw\(label)_build_seconds"] = buildTime
        report["hnsw\(label)_index_bytes"] = Double(bytes)
        report["vector_bytes"] = Double(matrix.count * matrix.dimension * 4)
        log(String(format: "HNSW M=%d efConstruction=%d: built in %.1f s on %d thread(s); index %.1f MB beside %.1f MB of vectors (%.1f%%)", m,
                   efConstruction, buildTime, threads, Double(bytes) / 1e6, Double(matrix.count * matrix.dimension * 4) / 1e6,
                   100 * Double(bytes) / Double(matrix.count * matrix.dimension * 4)))
        for ef in efs {
            var found: [[(row: Int32, similarity: Float)]] = []
            let time = seconds { found = normalized.map { index.search($0, k: k, ef: max(ef, k), in: matrix) } }
            var hits = 0
            for (got, want) in zip(found, truth) {
                let expected = Set(want.map(\.row))
                hits += got.filter { expected.contains($0.row) }.count
            }
            let recall = Double(hits) / Double(max(1, truth.reduce(0) { $0 + $1.count }))
            report["hnsw\(label)_ef\(ef)_recall"] = recall
            report["hnsw\(label)_ef\(ef)_qps"] = Double(queries.count) / time
            log(String(format: "HNSW%@ ef %d: recall@%d %.4f, %.1f QPS (one query per call, 1 thread)",
                       label.isEmpty ? "" : " (graph built on \(threads) threads)", ef, k, recall,
                       Double(queries.count) / time))
        }
    }
}
