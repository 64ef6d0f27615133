import ArgumentParser
import FaceNetKit
import FaceNetTools
import Foundation

struct BenchDetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-detect",
        abstract: "Time MTCNN detection per photo (pyramid + P-Net, R-, O-Net) and photo-to-embedding end to end.",
        discussion: """
            Stage times are wall clock and add up to the detection time. The pyramid and P-Net \
            also get CPU times summed over the threads that scan the levels in parallel, which \
            can exceed the wall time.
            """)

    @Argument(help: "Photos to time.")
    var photos: [String]

    @Option(help: "Timed runs per photo (after one warm-up run).")
    var iterations: Int = 5

    @Option(help: "Directory holding pnet/rnet/onet .json + .h5 (default: the nets built into facenet).")
    var mtcnn: String?

    @Option(help: "Model preset for the end-to-end time (skipped when its weights are missing).")
    var model: Preset = .facenet512Casia

    /// `--json`: one object per photo; the report goes to stderr.
    @OptionGroup var output: OutputOptions

    @OptionGroup var check: WeightsCheckOptions

    @OptionGroup var engine: EngineFlags

    func validate() throws {
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
    }

    func run() throws {
        let engineOptions = try engine.engineOptions()
        let detector = try MTCNN(directory: mtcnn, verification: check.verification, engineOptions: engineOptions)
        let facenet: FaceNet? = try? FaceNet(preset: model, extraction: FaceExtraction(detector: detector),
                                             verification: check.verification, options: engineOptions)
        check.warnAboutMismatches(detector.models + (facenet.map { [$0.model] } ?? []))
        if facenet == nil { printError("no \(model.rawValue) weights: end-to-end time skipped") }
        output.say(engineOptions.gemm.note)
        output.say("\(try BLASInfo.selection().note); \(ProcessInfo.processInfo.activeProcessorCount) processors")
        for photo in photos {
            let image = try ImageDecoder.decode(path: photo)
            var runs: [MTCNNTimings] = []
            var faces: [DetectedFace] = []
            for i in 0...iterations {
                var t = MTCNNTimings()
                do {
                    faces = try detector.detect(image, timings: &t)
                } catch FaceNetError.invalidArgument(let reason) {
                    throw FaceNetError.invalidImage(path: photo, reason: reason)  // e.g. smaller than the smallest face
                }
                if i > 0 { runs.append(t) }
            }
            let median = runs.sorted { $0.total < $1.total }[runs.count / 2]
            var endToEnd: Double?
            if let facenet {
                var times: [Double] = []
                for i in 0...iterations {
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = try facenet.embed(file: photo, l2Normalize: true)
                    if i > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
                }
                endToEnd = times.sorted()[times.count / 2]
            }
            let megapixels = Double(image.width * image.height) / 1e6
            func ms(_ s: Double) -> String { String(format: "%.1f", s * 1000) }
            // Wall-clock stages that add up to the total; the pyramid and P-Net CPU times are
            // summed over the threads that scan the levels in parallel, so they do not.
            let other = median.total - median.scan - median.rnet - median.onet
            output.say("\(photo): \(image.width)×\(image.height) (\(String(format: "%.2f", megapixels)) MP), \(faces.count) face(s); "
                + "detect \(ms(median.total)) ms = pyramid + P-Net \(ms(median.scan)) "
                + "(\(median.scales) scales, \(median.proposals) proposals) + R-Net \(ms(median.rnet)) (\(median.refined) kept) "
                + "+ O-Net \(ms(median.onet)) + other \(ms(other)) (wall clock); "
                + "CPU summed over threads: pyramid \(ms(median.pyramid)), P-Net \(ms(median.pnet))"
                + (endToEnd.map { "; photo → embedding \(ms($0)) ms (decode, detect, crop, embed)" } ?? ""))
            output.emit(.object([
                ("file", .string(photo)), ("width", .int(image.width)), ("height", .int(image.height)),
                ("detect_ms", .double(median.total * 1000)), ("pyramid_pnet_ms", .double(median.scan * 1000)),
                ("rnet_ms", .double(median.rnet * 1000)), ("onet_ms", .double(median.onet * 1000)),
                ("other_ms", .double(other * 1000)), ("pyramid_cpu_ms", .double(median.pyramid * 1000)),
                ("pnet_cpu_ms", .double(median.pnet * 1000)), ("faces", .int(faces.count)),
            ] + (endToEnd.map { [("photo_to_embedding_ms", JSON.double($0 * 1000))] } ?? [])))
        }
    }
}
