// Built unless FACENET_ENGINE_ONLY=1 (Package.swift): the gallery needs FaceNetGallery.
#if FACENET_GALLERY
import ArgumentParser
import FaceNetGallery
import FaceNetKit
import Foundation

/// `facenet bench-search --vectors V.f32 --queries Q.f32`: exact and HNSW search on raw
/// float32 matrices (Benchmarks/search.sh feeds the same files to faiss, hnswlib and usearch).
struct BenchSearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-search",
        abstract: "Time exact and HNSW search on raw float32 vectors: QPS, recall@k against exact, build time, memory.")

    @Option(help: "Stored vectors: raw little-endian float32, count × dimension.")
    var vectors: String

    @Option(help: "Query vectors: raw little-endian float32, count × dimension.")
    var queries: String

    @Option(help: "Floats per vector.")
    var dimension: Int = 512

    @Option(name: .short, help: "Neighbours per query.")
    var k: Int = 10

    @Option(help: "HNSW search widths to time, comma-separated (none: exact search only).")
    var ef: String = "16,32,48,64,96,128"

    @Option(help: "HNSW neighbours per node (2× at the bottom layer).")
    var m: Int = 16

    @Option(help: "HNSW construction width.")
    var efConstruction: Int = 200

    @Option(help: "Threads for the exact scans (the single-query HNSW timing uses one).")
    var threads: Int = 2

    @Option(help: "Also build the HNSW graph on this many threads (as `gallery import` does) and time its searches; 1: only the one-thread build.")
    var buildThreads: Int = 1

    @Flag(help: "Also time every exact-search kernel combination this CPU runs (scan and GEMM).")
    var compareKernels = false

    /// `--json`: one object with every figure.
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard dimension > 0, k > 0, m >= 2, efConstruction >= 1, threads >= 1, buildThreads >= 1 else {
            throw ValidationError("--dimension, -k, --ef-construction, --threads and --build-threads must be positive, --m at least 2")
        }
        _ = try widths()
    }

    private func widths() throws -> [Int] {
        let values = ef.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard values.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--ef takes positive integers, e.g. 16,32,64") }
        return values
    }

    func run() throws {
        let stored = try SearchBenchmark.readMatrix(vectors, dimension: dimension)
        let queryRows = try SearchBenchmark.readRows(queries, dimension: dimension)
        output.say("\(stored.count) vectors, \(queryRows.count) queries, \(dimension)-d, k \(k); CPU: \(SearchBenchmark.cpuName())")
        let report = try SearchBenchmark.run(matrix: stored, queries: queryRows, k: k, efs: try widths(), m: m,
                                             efConstruction: efConstruction, threads: threads, buildThreads: buildThreads,
                                             compareKernels: compareKernels) { output.say($0) }
        output.emit(.object(report.map { ($0.key, JSON.double($0.value)) }.sorted { $0.0 < $1.0 }))
    }
}
#endif
