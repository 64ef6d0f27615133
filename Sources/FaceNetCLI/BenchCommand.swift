import ArgumentParser
import FaceNetKit
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

    @Option(help: "OpenBLAS threads (default: OpenBLAS's own choice).")
    var threads: Int?

    @Flag(help: "End with one JSON object.")
    var json = false

    func run() throws {
        guard batch > 0, iterations > 0 else { throw ValidationError("--batch and --iterations must be positive") }
        if let threads { BLASInfo.setThreads(threads) }
        let loadStart = DispatchTime.now()
        let loaded = try model.load()
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart.uptimeNanoseconds) / 1e9
        let inputName = loaded.topology.inputNames[0]
        let sample = try loaded.outputShape(of: inputName).map { $0 ?? 160 }
        let shape = [batch] + sample
        var generator = SystemRandomNumberGenerator()
        let input = try Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &generator) })
        let session = try InferenceSession(model: loaded, inputShapes: [inputName: shape], outputs: loaded.topology.outputNames)
        _ = try session.run([inputName: input])
        var times: [Double] = []
        for _ in 0..<iterations {
            let start = DispatchTime.now()
            _ = try session.run([inputName: input])
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6)
        }
        times.sort()
        let median = times[times.count / 2]
        let perImage = median / Double(batch)
        let flops = Double(try ModelSummary(topology: loaded.topology, sampleShape: sample).flops)
        let gflops = flops * Double(batch) / (median / 1e3) / 1e9
        print("OpenBLAS \(BLASInfo.coreName) kernels, \(BLASInfo.threads) threads")
        print("load \(String(format: "%.3f", loadSeconds)) s; batch \(batch): median \(String(format: "%.2f", median)) ms/pass, "
              + "\(String(format: "%.2f", perImage)) ms/image, \(String(format: "%.1f", gflops)) GFLOP/s "
              + "(min \(String(format: "%.2f", times[0] / Double(batch))), max \(String(format: "%.2f", times[times.count - 1] / Double(batch))) ms/image over \(iterations))")
        if json {
            print("{\"ms_per_image\": \(perImage), \"batch\": \(batch), \"threads\": \(BLASInfo.threads), "
                  + "\"blas_core\": \"\(BLASInfo.coreName)\", \"load_seconds\": \(loadSeconds), \"gflops\": \(gflops)}")
        }
    }
}
