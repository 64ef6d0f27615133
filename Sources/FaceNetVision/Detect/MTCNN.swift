import Foundation
import FaceNetKernels
import FaceNetEngine

/// Settings of the MTCNN cascade. Defaults are those of the Python `mtcnn` package 1.0.0.
public struct MTCNNOptions: Sendable, Equatable {
    /// Smallest face side searched, in pixels: sets the largest pyramid scale, 12 / minFaceSize.
    /// The smallest scale does not depend on it, so lowering it only adds levels.
    public var minFaceSize: Float = 20
    /// Ratio between successive pyramid scales.
    public var scaleFactor: Float = 0.709
    /// Face probability a box needs to pass P-, R- and O-Net.
    public var pnetThreshold: Float = 0.6
    public var rnetThreshold: Float = 0.7
    public var onetThreshold: Float = 0.8
    /// NMS overlap limits: P-Net within one scale and across scales (IoU), R-Net (IoU),
    /// O-Net (intersection over the smaller box).
    public var pnetScaleNMS: Float = 0.5
    public var pnetNMS: Float = 0.7
    public var rnetNMS: Float = 0.7
    public var onetNMS: Float = 0.7
    /// Largest image searched (pixels): the pyramid holds ~2 float copies of the image.
    public var maxPixels: Int = 40_000_000

    public init() {}
}

/// Where one detection spent its time (seconds) and how many boxes each stage passed on.
/// `scan`, `rnet` and `onet` are wall-clock and follow each other: with what is left
/// (mapping the faces back, `total` − the three) they add up to `total`.
public struct MTCNNTimings: Sendable, Equatable {
    /// CPU time resizing the pyramid levels, summed over the threads that scan them.
    /// The threads run in parallel, so this and `pnet` can add up to more than `scan`.
    public var pyramid = 0.0
    /// CPU time running P-Net on the levels, summed over the threads (as `pyramid`).
    public var pnet = 0.0
    /// Wall-clock time of the whole P-Net stage: resizing and scanning every level (in
    /// parallel), then the NMS across levels.
    public var scan = 0.0
    /// Wall-clock time of R-Net: sampling the patches, the network, NMS.
    public var rnet = 0.0
    /// Wall-clock time of O-Net, as `rnet`.
    public var onet = 0.0
    /// Wall-clock time of the whole detection.
    public var total = 0.0
    public var scales = 0
    public var proposals = 0
    public var refined = 0
    public var faces = 0

    public init() {}
}

/// Seconds since `start` (a `DispatchTime` uptime in nanoseconds).
private func seconds(since start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// The MTCNN face detector (Zhang et al. 2016) on this engine: an image pyramid scanned by
/// P-Net, candidates refined by R-Net and O-Net, which also gives five landmarks.
/// `Sendable`: one instance serves concurrent callers (each call plans its own sessions).
public final class MTCNN: Sendable {
    public let options: MTCNNOptions
    private let pnet: Stage
    private let rnet: Stage
    private let onet: Stage

    /// One network with its outputs identified by width: 4 box offsets, 2 class
    /// probabilities (face is the second), 10 landmark coordinates (O-Net).
    private struct Stage: Sendable {
        package let model: Model
        package let input: String
        let offsets: String
        let probability: String
        package let landmarks: String?

        package init(_ model: Model, name: String, landmarks wantsLandmarks: Bool) throws {
            self.model = model
            guard model.topology.inputNames.count == 1 else {
                throw FaceNetError.invalidArgument("MTCNN \(name) needs one input; it has \(model.topology.inputNames)")
            }
            input = model.topology.inputNames[0]
            var byWidth: [Int: String] = [:]
            for output in model.topology.outputNames {
                if let width = try model.outputShape(of: output).last ?? nil { byWidth[width] = output }
            }
            guard let offsets = byWidth[4], let probability = byWidth[2], !wantsLandmarks || byWidth[10] != nil else {
                let expected = wantsLandmarks ? "4, 10 and 2" : "4 and 2"
                throw FaceNetError.invalidArgument("MTCNN \(name): expected outputs \(expected) wide, found \(model.topology.outputNames)")
            }
            self.offsets = offsets
            self.probability = probability
            self.landmarks = wantsLandmarks ? byWidth[10] : nil
        }

        /// Runs the network on an NHWC batch; returns (offsets, probabilities, landmarks).
        package func run(_ batch: Tensor, threads: Int? = nil) throws -> (offsets: Tensor, probability: Tensor, landmarks: Tensor?) {
            let outputs = [offsets, probability] + (landmarks.map { [$0] } ?? [])
            let session = try InferenceSession(model: model, inputShapes: [input: batch.shape], outputs: outputs,
                                               threads: threads)
            let result = try session.run([input: batch])
            guard let o = result[offsets], let p = result[probability], landmarks.map({ result[$0] != nil }) ?? true else {
                throw internalFault("MTCNN: a session did not return every output it was planned for (\(outputs))")
            }
            return (o, p, landmarks.flatMap { result[$0] })
        }
    }

    public init(pnet: Model, rnet: Model, onet: Model, options: MTCNNOptions = MTCNNOptions()) throws {
        self.pnet = try Stage(pnet, name: "P-Net", landmarks: false)
        self.rnet = try Stage(rnet, name: "R-Net", landmarks: false)
        self.onet = try Stage(onet, name: "O-Net", landmarks: true)
        self.options = options
    }

    /// Loads `pnet`, `rnet` and `onet` `.json` + `.h5` from `directory`, or, when it is nil,
    /// the nets built into the library (those of the `mtcnn` 1.0.0 package; no file is
    /// read). `verification`: as for `Model.load`. `engineOptions`: how the three networks
    /// are packed and run (`EngineOptions`; its `threads` also bounds the threads that scan
    /// pyramid scales).
    public convenience init(directory: String? = nil, options: MTCNNOptions = MTCNNOptions(),
                            verification: WeightsVerification = .warn, engineOptions: EngineOptions = .default) throws {
        let nets: [(weights: BundledModelFile, topology: BundledModelFile, name: String)] = [
            (.pnetWeights, .pnetTopology, "pnet"), (.rnetWeights, .rnetTopology, "rnet"), (.onetWeights, .onetTopology, "onet"),
        ]
        let models = try nets.map { net -> Model in
            guard let directory else {
                return try Model.load(bundledWeights: net.weights, topology: net.topology, verification: verification,
                                      options: engineOptions)
            }
            let base = (directory as NSString).appendingPathComponent(net.name)
            return try Model.load(weightsPath: base + ".h5", topologyPath: base + ".json", verification: verification,
                                  options: engineOptions)
        }
        try self.init(pnet: models[0], rnet: models[1], onet: models[2], options: options)
    }

    /// P-, R- and O-Net, e.g. for their `weightsCheck`.
    public var models: [Model] { [pnet.model, rnet.model, onet.model] }

    /// Every face in the image, largest box first. Boxes are clipped to the image (as the
    /// Python package's `fit_to_image`); landmarks are not.
    public func detect(_ image: RGBImage) throws -> [DetectedFace] {
        var timings = MTCNNTimings()
        return try detect(image, timings: &timings)
    }

    /// `detect`, recording where the time went.
    public func detect(_ image: RGBImage, timings: inout MTCNNTimings) throws -> [DetectedFace] {
        var none: MTCNNStages?
        return try detect(image, timings: &timings, stages: &none)
    }

    /// The cascade of `detect` on `image`, keeping what each stage handed on (for checking
    /// the stages one by one against the Python package; `detect` itself keeps nothing).
    func stages(_ image: RGBImage) throws -> MTCNNStages {
        var timings = MTCNNTimings()
        var stages: MTCNNStages? = MTCNNStages()
        _ = try detect(image, timings: &timings, stages: &stages)
        return stages ?? MTCNNStages()
    }

    /// `detect`; when `stages` is not nil, each stage's candidates are stored in it (only
    /// references to arrays the cascade builds anyway: nothing is computed for it).
    private func detect(_ image: RGBImage, timings: inout MTCNNTimings, stages: inout MTCNNStages?) throws -> [DetectedFace] {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { timings.total = seconds(since: start) }
        let cell = 12
        guard image.width >= cell, image.height >= cell else {
            throw FaceNetError.invalidArgument("image \(image.width)×\(image.height) is smaller than MTCNN's 12×12 window")
        }
        guard image.width * image.height <= options.maxPixels else {
            throw FaceNetError.invalidArgument("image \(image.width)×\(image.height) has more than the detector's limit of \(options.maxPixels) pixels")
        }
        // The 8-bit photo is read as it is: resampling maps to (x − 127.5)/128 afterwards,
        // so no normalised float copy of the whole photo (12 MB per megapixel) is made.
        return try image.pixels.withUnsafeBufferPointer { buffer in
            guard let pixels = buffer.baseAddress else { return [] }
            var t = DispatchTime.now().uptimeNanoseconds
            var candidates = try proposals(pixels, width: image.width, height: image.height, timings: &timings,
                                           stages: &stages)
            timings.scan = seconds(since: t)
            stages?.pnet = candidates
            timings.proposals = candidates.count
            guard !candidates.isEmpty else { return [] }
            t = DispatchTime.now().uptimeNanoseconds
            candidates = try refine(pixels, width: image.width, height: image.height, candidates)
            timings.rnet = seconds(since: t)
            timings.refined = candidates.count
            stages?.rnet = candidates
            guard !candidates.isEmpty else { return [] }
            t = DispatchTime.now().uptimeNanoseconds
            candidates = try output(pixels, width: image.width, height: image.height, candidates)
            timings.onet = seconds(since: t)
            timings.faces = candidates.count
            stages?.onet = candidates
            return try candidates.map { c -> DetectedFace in
                guard let landmarks = c.landmarks else {
                    throw internalFault("MTCNN: a face passed O-Net without landmarks")
                }
                let maxX = Float(image.width - 1), maxY = Float(image.height - 1)
                let box = FaceBox(x1: min(max(c.box.x1, 0), maxX), y1: min(max(c.box.y1, 0), maxY),
                                  x2: min(max(c.box.x2, 0), maxX), y2: min(max(c.box.y2, 0), maxY))
                return DetectedFace(box: box, confidence: c.score, landmarks: landmarks)
            }.sorted { $0.box.area > $1.box.area }
        }
    }

    // MARK: Stages

    /// P-Net over the pyramid: boxes where the face probability passes, NMS per scale and
    /// across scales, squared. Scales are independent, so the threads take whole scales
    /// (largest first, each to the least loaded thread; as many threads as P-Net's
    /// `options.threads`), each running P-Net on one thread: resizing, pooling and the
    /// epilogues then run in parallel too, not only the GEMMs.
    private func proposals(_ pixels: UnsafePointer<UInt8>, width: Int, height: Int,
                           timings: inout MTCNNTimings, stages: inout MTCNNStages?) throws -> [Candidate] {
        let scales = ScalePyramid.scales(width: width, height: height, minFaceSize: options.minFaceSize,
                                         scaleFactor: options.scaleFactor)
        timings.scales = scales.count
        let sizes = scales.map { ScalePyramid.scaledSize(width: width, height: height, scale: $0) }
        let workers = max(1, min(pnet.model.options.resolvedThreads, scales.count))
        var assignment = [[Int]](repeating: [], count: workers)
        var load = [Int](repeating: 0, count: workers)
        for i in scales.indices.sorted(by: { sizes[$0].width * sizes[$0].height > sizes[$1].width * sizes[$1].height }) {
            let w = load.indices.min { load[$0] < load[$1] } ?? 0
            assignment[w].append(i)
            load[w] += sizes[i].width * sizes[i].height
        }
        let plan = assignment
        let results = ScaleResults(count: scales.count)
        let image = SendablePixels(base: pixels, width: width, height: height)
        let scan = { @Sendable (worker: Int) in
            let line = UnsafeMutablePointer<Float>.allocate(capacity: ScalePyramid.lineFloats(inWidth: width))
            defer { line.deallocate() }
            for i in plan[worker] {
                results.store(i, Result { try self.scan(image, scale: scales[i], size: sizes[i], line: line,
                                                         threads: workers > 1 ? 1 : nil) })
            }
        }
        if workers > 1 {
            DispatchQueue.concurrentPerform(iterations: workers, execute: scan)
        } else {
            scan(0)
        }
        var all: [Candidate] = []
        for i in scales.indices {
            let scanned = try results.take(i)
            timings.pyramid += scanned.resizeSeconds
            timings.pnet += scanned.pnetSeconds
            all += scanned.candidates
            stages?.levels.append(MTCNNStages.Level(scale: scales[i], width: sizes[i].width, height: sizes[i].height,
                                                    candidates: scanned.candidates))
        }
        return Candidate.suppress(all, threshold: options.pnetNMS, overlap: .union, sort: true).map { c in
            var c = c
            c.box = c.box.squared()
            return c
        }
    }

    /// One pyramid level: resized, scanned by P-Net, thresholded, NMS within the scale.
    private func scan(_ image: SendablePixels, scale: Float, size: (width: Int, height: Int),
                      line: UnsafeMutablePointer<Float>, threads: Int?) throws -> ScannedScale {
        guard size.width >= 12, size.height >= 12 else { return ScannedScale(candidates: [], resizeSeconds: 0, pnetSeconds: 0) }
        var t = DispatchTime.now().uptimeNanoseconds
        // The resize writes every pixel: no zero fill first (megabytes per photo).
        let count = size.height * size.width * 3
        let pixels = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            if let base = out.baseAddress {
                ScalePyramid.resize(image.base, width: image.width, height: image.height, to: base, width: size.width,
                                    height: size.height, map: .mtcnn, line: line)
            }
            initialized = count
        }
        let level = try Tensor(shape: [1, size.height, size.width, 3], scalars: pixels)
        let resizeSeconds = seconds(since: t)
        t = DispatchTime.now().uptimeNanoseconds
        let (offsets, probability, _) = try pnet.run(level, threads: threads)
        let pnetSeconds = seconds(since: t)
        let found = Self.cells(offsets: offsets, probability: probability, threshold: options.pnetThreshold, scale: scale)
        return ScannedScale(candidates: Candidate.suppress(found, threshold: options.pnetScaleNMS, overlap: .union, sort: true),
                            resizeSeconds: resizeSeconds, pnetSeconds: pnetSeconds)
    }

    /// P-Net output cells whose face probability passes: each is a 12-pixel window at
    /// stride 2 in the scaled image, moved by the regressed offsets, mapped back by 1/scale.
    static func cells(offsets: Tensor, probability: Tensor, threshold: Float, scale: Float) -> [Candidate] {
        let (rows, columns) = (probability.shape[1], probability.shape[2])
        var found: [Candidate] = []
        for y in 0..<rows {
            for x in 0..<columns {
                let cell = y * columns + x
                let score = probability.scalars[cell * 2 + 1]
                guard score > threshold else { continue }
                let o = offsets.scalars[(cell * 4)..<(cell * 4 + 4)].map { $0 }
                let left = Float(2 * x + 1), top = Float(2 * y + 1)
                let right = Float(2 * x + 12), bottom = Float(2 * y + 12)
                let side = right - left
                let box = FaceBox(x1: (left + o[0] * side) / scale, y1: (top + o[1] * side) / scale,
                                  x2: (right + o[2] * side) / scale, y2: (bottom + o[3] * side) / scale)
                found.append(Candidate(box: box, score: score))
            }
        }
        return found
    }

    /// R-Net on 24×24 patches: new scores, regressed boxes, threshold, NMS, squared.
    private func refine(_ pixels: UnsafePointer<UInt8>, width: Int, height: Int, _ candidates: [Candidate]) throws -> [Candidate] {
        let batch = Self.patches(pixels, width: width, height: height, candidates.map(\.box), size: 24)
        let (offsets, probability, _) = try rnet.run(batch)
        var passed: [Candidate] = []
        for (i, c) in candidates.enumerated() {
            let score = probability.scalars[i * 2 + 1]
            guard score > options.rnetThreshold else { continue }
            passed.append(Candidate(box: Self.adjusted(c.box, offsets, i), score: score))
        }
        return Candidate.suppress(passed, threshold: options.rnetNMS, overlap: .union, sort: true).map { c in
            var c = c
            c.box = c.box.squared()
            return c
        }
    }

    /// O-Net on 48×48 patches: scores, regressed boxes and landmarks, threshold, NMS (min).
    private func output(_ pixels: UnsafePointer<UInt8>, width: Int, height: Int, _ candidates: [Candidate]) throws -> [Candidate] {
        let batch = Self.patches(pixels, width: width, height: height, candidates.map(\.box), size: 48)
        let (offsets, probability, landmarkOutput) = try onet.run(batch)
        guard let landmarkOutput else { throw internalFault("MTCNN: O-Net ran without its landmark output") }
        var passed: [Candidate] = []
        for (i, c) in candidates.enumerated() {
            let score = probability.scalars[i * 2 + 1]
            guard score > options.onetThreshold else { continue }
            // Landmarks are relative to the box O-Net was given (x = w·l + x1 − 1, w = x2 − x1 + 1).
            let w = c.box.width + 1, h = c.box.height + 1
            let l = Array(landmarkOutput.scalars[(i * 10)..<(i * 10 + 10)])
            let points = (0..<5).map { k in FacePoint(x: w * l[k] + c.box.x1 - 1, y: h * l[k + 5] + c.box.y1 - 1) }
            let landmarks = FaceLandmarks(leftEye: points[0], rightEye: points[1], nose: points[2],
                                          mouthLeft: points[3], mouthRight: points[4])
            passed.append(Candidate(box: Self.adjusted(c.box, offsets, i), score: score, landmarks: landmarks))
        }
        return Candidate.suppress(passed, threshold: options.onetNMS, overlap: .minimum, sort: true)
    }

    /// A box moved by regressed offsets (fractions of its size, which counts +1 pixel).
    static func adjusted(_ box: FaceBox, _ offsets: Tensor, _ i: Int) -> FaceBox {
        let w = box.width + 1, h = box.height + 1
        let o = offsets.scalars[(i * 4)..<(i * 4 + 4)].map { $0 }
        return FaceBox(x1: box.x1 + o[0] * w, y1: box.y1 + o[1] * h, x2: box.x2 + o[2] * w, y2: box.y2 + o[3] * h)
    }

    /// A (count, size, size, 3) batch of patches.
    static func patches(_ pixels: UnsafePointer<UInt8>, width: Int, height: Int, _ boxes: [FaceBox], size: Int) -> Tensor {
        var batch = Tensor(zeros: [boxes.count, size, size, 3])
        batch.scalars.withUnsafeMutableBufferPointer { out in
            guard let out = out.baseAddress else { return }
            for (i, box) in boxes.enumerated() {
                PatchSampler.sample(pixels, width: width, height: height, box: box, size: size, map: .mtcnn,
                                    into: out + i * size * size * 3)
            }
        }
        return batch
    }
}

/// What each stage of one `MTCNN` detection handed on, boxes in image pixels (x1, y1, x2, y2),
/// each list by falling score — the same cut points as the Python package's stages.
package struct MTCNNStages: Sendable {
    /// One pyramid level: its scale, the size P-Net scanned (scaled width × height, 0 cells
    /// when a side is under 12), and the cells over `pnetThreshold` left by the level's own
    /// NMS (`pnetScaleNMS`), mapped back by 1/scale, not squared.
    package struct Level: Sendable {
        package var scale: Float
        package var width: Int
        package var height: Int
        var candidates: [Candidate]
    }

    /// Largest scale first.
    package var levels: [Level] = []
    /// All levels after the cross-scale NMS (`pnetNMS`), squared: R-Net's input.
    package var pnet: [Candidate] = []
    /// After `rnetThreshold` and `rnetNMS`, squared: O-Net's input.
    package var rnet: [Candidate] = []
    /// After `onetThreshold` and `onetNMS` (over the smaller box), with landmarks; boxes not
    /// yet clipped to the image.
    package var onet: [Candidate] = []
}

/// The image as the pyramid threads read it (read-only while they run).
private struct SendablePixels: @unchecked Sendable {
    package let base: UnsafePointer<UInt8>
    package let width: Int
    package let height: Int
}

/// What one pyramid level gave.
private struct ScannedScale: Sendable {
    var candidates: [Candidate]
    var resizeSeconds: Double
    var pnetSeconds: Double
}

/// One slot per scale, each written by exactly one thread, read after all have finished.
/// Raw storage, not an Array: `Array.withUnsafeMutableBufferPointer` moves the buffer out
/// while it runs, so two threads writing different slots through it would race.
private final class ScaleResults: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<Result<ScannedScale, Error>?>
    private let count: Int

    package init(count: Int) {
        self.count = count
        slots = .allocate(capacity: max(count, 1))
        slots.initialize(repeating: nil, count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func store(_ index: Int, _ result: Result<ScannedScale, Error>) {
        slots[index] = result
    }

    package func take(_ index: Int) throws -> ScannedScale {
        guard let result = slots[index] else {
            throw internalFault("MTCNN: pyramid scale \(index) was never scanned (no thread was given it)")
        }
        return try result.get()
    }
}
