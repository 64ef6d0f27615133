import ArgumentParser
import CAllocationCounter
import FaceNetKit
import FaceNetTools
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time forward passes: ms per image at a batch size, after warm-up.")

    @OptionGroup var model: ModelFiles

    @Option(help: "Images per forward pass.")
    var batch: Int = 1

    @Option(help: "Timed forward passes (after one warm-up pass).")
    var iterations: Int = 10

    @OptionGroup var engine: EngineFlags

    @Flag(help: "Let OpenBLAS thread inside each GEMM instead of the engine's own threads (for comparison).")
    var blasThreads = false

    @Flag(help: "Per-layer table: time and GFLOP/s of every distinct step shape (median over the iterations).")
    var layers = false

    @Option(help: "Height,width for a model input whose size is free (P-Net); default 160,160.")
    var size: String?

    /// `--json`: one object, `{"ms_per_image", "batch", "threads", …}`; the report goes to stderr.
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard batch > 0, iterations > 0 else { throw ValidationError("--batch and --iterations must be positive") }
        if let size, try parseShape(size).count != 2 { throw ValidationError("--size takes height,width, e.g. 160,160") }
    }

    func run() throws {
        let options = try engine.engineOptions()
        let threadCount = options.resolvedThreads
        let loadStart = DispatchTime.now()
        let loaded = try model.load(options: options)
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart.uptimeNanoseconds) / 1e9
        let inputName = loaded.topology.inputNames[0]
        let free = try size.map(parseShape) ?? [160, 160]
        let sample = try loaded.outputShape(of: inputName).enumerated().map { i, d in d ?? (i < 2 ? free[i] : 3) }
        let shape = [batch] + sample
        var generator = SystemRandomNumberGenerator()
        let input = try Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &generator) })
        let session = try InferenceSession(model: loaded, inputShapes: [inputName: shape], outputs: loaded.topology.outputNames,
                                           threads: blasThreads ? 1 : threadCount)
        if blasThreads { BLASInfo.setThreads(threadCount) }
        let inputs = [inputName: input]
        var outputs: [String: Tensor] = [:]
        try session.run(inputs, into: &outputs)  // warm-up: first-touch of buffers, OpenBLAS threads
        var times: [Double] = []
        times.reserveCapacity(iterations)
        facenet_allocation_counting(1)
        let allocationsBefore = facenet_allocation_count()
        for _ in 0..<iterations {
            let start = DispatchTime.now()
            try session.run(inputs, into: &outputs)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6)
        }
        let allocations = Double(facenet_allocation_count() - allocationsBefore) / Double(iterations)
        facenet_allocation_counting(0)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peakRSSMB = Double(usage.ru_maxrss) / 1024  // Linux reports kilobytes
        times.sort()
        let median = times[times.count / 2]
        let perImage = median / Double(batch)
        let flops = Double(try ModelSummary(topology: loaded.topology, sampleShape: sample).flops)
        let gflops = flops * Double(batch) / (median / 1e3) / 1e9
        output.say(loaded.options.gemm.note)
        output.say("\(try BLASInfo.selection().note); " + (blasThreads ? "\(BLASInfo.threads) OpenBLAS threads per GEMM"
              : "\(session.threads) engine threads, OpenBLAS single-threaded inside them"))
        output.say("load \(String(format: "%.3f", loadSeconds)) s; batch \(batch): median \(String(format: "%.2f", median)) ms/pass, "
              + "\(String(format: "%.2f", perImage)) ms/image, \(String(format: "%.1f", gflops)) GFLOP/s "
              + "(min \(String(format: "%.2f", times[0] / Double(batch))), max \(String(format: "%.2f", times[times.count - 1] / Double(batch))) ms/image over \(iterations))")
        // Through symlinks (Weights/ often links to a shared copy): the file's size, not the link's.
        let weightsPath = URL(fileURLWithPath: loaded.weightsSource).resolvingSymlinksInPath().path
        let weightsMB = Double((try? FileManager.default.attributesOfItem(atPath: weightsPath)[.size] as? Int) ?? 0) / 1e6
        output.say("peak RSS \(String(format: "%.1f", peakRSSMB)) MB (weights file \(String(format: "%.1f", weightsMB)) MB, "
              + "activations \(String(format: "%.1f", Double(session.activationFloats) * 4 / 1e6)) MB); heap allocations per forward pass "
              + (facenet_allocation_counter_available() != 0 ? String(format: "%.1f", allocations) : "not measurable here"))
        let layerRows = layers ? try layerTable(session: session, input: inputs) : []
        output.emit(.object([
            ("ms_per_image", .double(perImage)), ("batch", .int(batch)), ("threads", .int(threadCount)),
            ("parallelism", .string(blasThreads ? "openblas" : "engine")), ("blas_core", .string(BLASInfo.coreName)),
            ("gemm", .string(loaded.options.gemm.rawValue)), ("model", .string(model.name)), ("load_seconds", .double(loadSeconds)),
            ("gflops", .double(gflops)), ("ms_per_pass_min", .double(times[0])), ("ms_per_pass_median", .double(median)),
            ("ms_per_pass_max", .double(times[times.count - 1])), ("iterations", .int(iterations)),
            ("peak_rss_mb", .double(peakRSSMB)),
            ("allocations_per_pass", facenet_allocation_counter_available() != 0 ? .double(allocations) : .null),
        ] + (layers ? [("layers", .array(layerRows))] : [])))
    }

    /// Median time per step over the iterations, grouped by step kind and shape: printed as
    /// a table (`OutputOptions.say`), returned as JSON rows.
    private func layerTable(session: InferenceSession, input: [String: Tensor]) throws -> [JSON] {
        var samples: [[Double]] = Array(repeating: [], count: session.stepNames.count)
        for _ in 0..<iterations {
            for (i, t) in try session.profile(input).enumerated() { samples[i].append(t) }
        }
        struct Row { var count = 0; var seconds = 0.0; var flops = 0 }
        var rows: [String: Row] = [:]
        for (i, kind) in session.stepKinds.enumerated() {
            let sorted = samples[i].sorted()
            rows[kind, default: Row()].count += 1
            rows[kind, default: Row()].seconds += sorted[sorted.count / 2]
            rows[kind, default: Row()].flops += session.stepFlops[i]
        }
        let total = rows.values.reduce(0) { $0 + $1.seconds }
        output.say("step kind and shape (per pass, batch \(batch))".padding(toLength: 48, withPad: " ", startingAt: 0)
                   + "  count    ms/pass  share  GFLOP/s")
        var json: [JSON] = []
        for (kind, row) in rows.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            let gflops = row.flops > 0 ? Double(row.flops) / row.seconds / 1e9 : nil
            output.say(kind.padding(toLength: 48, withPad: " ", startingAt: 0)
                       + String(format: "  %5d  %9.3f  %4.1f%%  ", row.count, row.seconds * 1e3, row.seconds / total * 100)
                       + (gflops.map { String(format: "%7.1f", $0) } ?? "      -"))
            json.append(.object([("step", .string(kind)), ("count", .int(row.count)), ("ms_per_pass", .double(row.seconds * 1e3)),
                                 ("share", .double(row.seconds / total)), ("gflops", gflops.map(JSON.double) ?? .null)]))
        }
        output.say(String(format: "sum of steps: %.3f ms/pass", total * 1e3))
        return json
    }
}
