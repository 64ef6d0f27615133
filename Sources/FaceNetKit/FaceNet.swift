import Foundation
import FaceNetKernels
import FaceNetEngine
import FaceNetVision

/// Faces in, decisions out: a loaded FaceNet with the preprocessing and thresholds that go
/// with its weights.
///
/// ```swift
/// let facenet = try FaceNet(preset: .facenet512Casia)
/// let result = try facenet.verify("a.jpg", "b.jpg")
/// print(result.verified, result.distance)
/// ```
///
/// `FaceNet` is `Sendable`: share one instance across threads and tasks. Each call takes
/// a planned inference session from an internal pool (or plans one), so concurrent calls
/// never share buffers.
public final class FaceNet: Sendable {
    public let model: Model
    public let preprocessing: PreprocessOptions
    /// The weights' identity, which picks default thresholds; nil for unknown weights.
    public let weightSet: WeightSet?
    /// The layer whose output is the embedding (the model's first output).
    public let embeddingLayer: String
    public let imageLimits: ImageLimits
    /// How photos become faces: detector, alignment, margin.
    public let extraction: FaceExtraction
    private let pool = SessionPool()

    /// Wraps a loaded model. `extraction` defaults to `.skip` here (images are face crops);
    /// the file- and preset-based initialisers default to MTCNN detection.
    public init(model: Model, preprocessing: PreprocessOptions, weightSet: WeightSet? = nil,
                imageLimits: ImageLimits = .default, extraction: FaceExtraction = .skip) throws {
        guard model.topology.inputNames.count == 1, let output = model.topology.outputNames.first else {
            throw FaceNetError.invalidArgument("a face model needs one input and an output; this one has inputs \(model.topology.inputNames)")
        }
        let inputShape = try model.outputShape(of: model.topology.inputNames[0])
        guard inputShape.count == 3, inputShape[2] == 3 else {
            throw FaceNetError.invalidArgument("a face model takes (H, W, 3) images; this one takes \(inputShape)")
        }
        if let h = inputShape[0], let w = inputShape[1], h != preprocessing.size || w != preprocessing.size {
            throw FaceNetError.invalidArgument("the model takes \(h)×\(w) images; preprocessing makes \(preprocessing.size)×\(preprocessing.size)")
        }
        self.model = model
        self.preprocessing = preprocessing
        self.weightSet = weightSet
        self.embeddingLayer = output
        self.imageLimits = imageLimits
        self.extraction = extraction
    }

    /// Loads a preset (its built-in topology, the weights from `Preset.searchDirectories()`),
    /// optionally overriding its preprocessing. `extraction` nil: the built-in MTCNN, no
    /// alignment.
    /// `verification` (as for `Model.load`) applies to every weights file loaded here;
    /// `options` (`EngineOptions`) to the FaceNet model and the MTCNN it loads (a given
    /// `extraction`'s detector keeps its own).
    public convenience init(preset: Preset, preprocessing: PreprocessOptions? = nil, extraction: FaceExtraction? = nil,
                            verification: WeightsVerification = .warn, options: EngineOptions = .default) throws {
        try self.init(model: try preset.loadModel(verification: verification, options: options),
                      preprocessing: preprocessing ?? preset.preprocessing, weightSet: preset.weightSet,
                      extraction: extraction ?? FaceExtraction.mtcnn(verification: verification, engineOptions: options))
    }

    /// Loads a model from files. `preprocessing` nil: the weight set's, else the default
    /// options. `extraction` nil: the built-in MTCNN, no alignment. `options`: as
    /// for `init(preset:)`.
    public convenience init(topologyPath: String?, weightsPath: String, preprocessing: PreprocessOptions? = nil,
                            weightSet: WeightSet? = nil, extraction: FaceExtraction? = nil,
                            verification: WeightsVerification = .warn, options: EngineOptions = .default) throws {
        try self.init(model: try Model.load(weightsPath: weightsPath, topologyPath: topologyPath, verification: verification,
                                            options: options),
                      preprocessing: preprocessing ?? weightSet?.preprocessing ?? PreprocessOptions(), weightSet: weightSet,
                      extraction: extraction ?? FaceExtraction.mtcnn(verification: verification, engineOptions: options))
    }

    // MARK: Embedding

    /// The model input for one image: size × size × 3 floats (HWC). With a detector, the
    /// largest face is cut out first, and the preprocessing's `crop` is not applied (the
    /// face box is the crop). `source` names the image in errors.
    public func prepare(_ image: RGBImage, source: String = "image") throws -> [Float] {
        try prepareFace(image, source: source).input
    }

    /// `prepare`, with the face used (nil: the whole image) and how many were found.
    func prepareFace(_ image: RGBImage, source: String) throws -> (input: [Float], face: DetectedFace?, found: Int) {
        let chosen = try extraction.chosenFace(image, source: source)
        return (try prepareCrop(chosen.image, isFace: chosen.face != nil), chosen.face, chosen.found)
    }

    /// The model input for a face crop (its box is the crop: the preprocessing's `crop` is
    /// not applied) or for a whole image (the preprocessing as it is).
    private func prepareCrop(_ image: RGBImage, isFace: Bool) throws -> [Float] {
        var options = preprocessing
        if isFace { options.crop = .none }
        return try Preprocessor.prepare(image, options: options)
    }

    /// Every face of an image file, largest first (at most `maxFaces`; all when nil), each
    /// with its detection and embedding. Without a detector, or with
    /// `FaceExtraction.fallbackToWholeImage` when none is found, one entry for the whole
    /// image (`face` nil). Throws `noFaceFound` otherwise when there is no face.
    public func embedFaces(file path: String, maxFaces: Int? = nil, l2Normalize: Bool = false) throws -> [FaceEmbedding] {
        let prepared = try prepareFaces(file: path, maxFaces: maxFaces)
        let rows = try embed(prepared: prepared.batch, l2Normalize: l2Normalize)
        return zip(prepared.faces, rows).map { FaceEmbedding(face: $0, embedding: $1) }
    }

    /// `embedFaces(file:maxFaces:)` up to the forward pass: decoded, detected, cut out and
    /// preprocessed, each face's detection (nil: the whole image) with one batch of inputs.
    /// Split out so a caller can prepare the next photo while this one is embedded.
    package func prepareFaces(file path: String, maxFaces: Int?) throws -> (faces: [DetectedFace?], batch: Tensor) {
        if let maxFaces, maxFaces < 1 { throw FaceNetError.invalidArgument("maxFaces must be at least 1 (it is \(maxFaces))") }
        let image = try ImageDecoder.decode(path: path, limits: imageLimits)
        return try prepareFaces(image, source: path, extraction: extraction, maxFaces: maxFaces)
    }

    /// `prepareFaces(file:maxFaces:)` for an image decoded already, through `extraction`
    /// instead of this instance's (a server's per-request detector, alignment and fallback).
    /// `source` names the image in errors. Returns each face's detection (nil: the whole
    /// image) and one batch of inputs, faces × size × size × 3 (NHWC).
    package func prepareFaces(_ image: RGBImage, source path: String, extraction: FaceExtraction,
                              maxFaces: Int?) throws -> (faces: [DetectedFace?], batch: Tensor) {
        if let maxFaces, maxFaces < 1 { throw FaceNetError.invalidArgument("maxFaces must be at least 1 (it is \(maxFaces))") }
        let faces = try namingFile(path) { try extraction.allFaces(image, source: path, maxFaces: maxFaces) }
        var scalars: [Float] = []
        for face in faces { scalars += try namingFile(path) { try prepareCrop(face.image, isFace: face.face != nil) } }
        let batch = try Tensor(shape: [faces.count, preprocessing.size, preprocessing.size, 3], scalars: scalars)
        return (faces.map(\.face), batch)
    }

    /// The faces in an image file, largest first (empty without a detector).
    public func detectFaces(file path: String) throws -> [DetectedFace] {
        guard let detector = extraction.detector else { return [] }
        let image = try ImageDecoder.decode(path: path, limits: imageLimits)
        do {
            return try detector.detect(image)
        } catch let error as FaceNetError {
            if case .invalidArgument(let reason) = error { throw FaceNetError.invalidImage(path: path, reason: reason) }
            throw error
        }
    }

    /// Decodes and prepares one image file; every error names the file.
    public func prepare(file path: String) throws -> [Float] {
        try prepareFace(file: path).input
    }

    /// `prepare(file:)`, with the face used and how many were found.
    func prepareFace(file path: String) throws -> (input: [Float], face: DetectedFace?, found: Int) {
        let image = try ImageDecoder.decode(path: path, limits: imageLimits)
        return try namingFile(path) { try prepareFace(image, source: path) }
    }

    /// Runs `body`; its errors come out naming `path` (as `invalidImage` unless they do already).
    private func namingFile<R>(_ path: String, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as FaceNetError {
            switch error {
            case .noFaceFound, .invalidImage(path, _): throw error  // already name the file
            case .internalError: throw error  // a bug, not a problem with this file
            default: throw FaceNetError.invalidImage(path: path, reason: String(describing: error))
            }
        } catch {
            throw FaceNetError.invalidImage(path: path, reason: String(describing: error))
        }
    }

    /// Embeds a batch of already prepared inputs (N × size × size × 3, NHWC); one row each.
    public func embed(prepared batch: Tensor, l2Normalize: Bool = false, batchSize: Int = 8) throws -> [[Float]] {
        guard let n = batch.shape.first, n > 0 else { return [] }
        guard batchSize > 0 else { throw FaceNetError.invalidArgument("batch size must be positive") }
        let perSample = batch.count / n
        var rows: [[Float]] = []
        rows.reserveCapacity(n)
        var start = 0
        while start < n {
            let count = min(batchSize, n - start)
            let shape = [count] + batch.shape.dropFirst()
            let chunk = count == n ? batch
                : try Tensor(shape: shape, scalars: Array(batch.scalars[(start * perSample)..<((start + count) * perSample)]))
            let output = try pool.withSession(model: model, input: model.topology.inputNames[0], shape: shape,
                                              output: embeddingLayer) { session in
                try session.run([model.topology.inputNames[0]: chunk])[embeddingLayer]
            }
            guard let output else { throw FaceNetError.unknownLayer(name: embeddingLayer) }
            let width = output.count / count
            for r in 0..<count {
                let row = Array(output.scalars[(r * width)..<((r + 1) * width)])
                rows.append(l2Normalize ? l2Normalized(row) : row)
            }
            start += count
        }
        return rows
    }

    /// Embeds decoded images.
    public func embed(_ images: [RGBImage], l2Normalize: Bool = false, batchSize: Int = 8) throws -> [[Float]] {
        guard !images.isEmpty else { return [] }
        var scalars: [Float] = []
        scalars.reserveCapacity(images.count * preprocessing.size * preprocessing.size * 3)
        for image in images { scalars.append(contentsOf: try prepare(image)) }
        let batch = try Tensor(shape: [images.count, preprocessing.size, preprocessing.size, 3], scalars: scalars)
        return try embed(prepared: batch, l2Normalize: l2Normalize, batchSize: batchSize)
    }

    /// Embeds one image.
    public func embed(_ image: RGBImage, l2Normalize: Bool = false) throws -> [Float] {
        try embed([image], l2Normalize: l2Normalize)[0]
    }

    /// Embeds one image file.
    public func embed(file path: String, l2Normalize: Bool = false) throws -> [Float] {
        let input = try prepare(file: path)
        let batch = try Tensor(shape: [1, preprocessing.size, preprocessing.size, 3], scalars: input)
        return try embed(prepared: batch, l2Normalize: l2Normalize)[0]
    }

    /// Embeds image files in batches. A file that fails does not stop the others: its
    /// entry holds the error. `progress` is called after each batch with (done, total), on
    /// the calling thread. From async code, the `async` variant runs off Swift's cooperative
    /// threads and stops on cancellation.
    public func embed(files: [String], l2Normalize: Bool = false, batchSize: Int = 8,
                      progress: ((Int, Int) -> Void)? = nil) -> [(file: String, result: Result<[Float], Error>)] {
        embedFiles(files, l2Normalize: l2Normalize, batchSize: batchSize, checkpoint: {}, progress: progress)
    }

    /// `embed(files:…)` with `checkpoint` called before each image and before each batch
    /// runs; what it throws stops the work (the async variant throws `CancellationError`
    /// there; the synchronous one never throws, `E` is `Never`).
    func embedFiles<E: Error>(_ files: [String], l2Normalize: Bool, batchSize: Int, checkpoint: () throws(E) -> Void,
                              progress: ((Int, Int) -> Void)?) throws(E) -> [(file: String, result: Result<[Float], Error>)] {
        var results: [(file: String, result: Result<[Float], Error>)] = []
        results.reserveCapacity(files.count)
        var start = 0
        while start < files.count {
            let slice = files[start..<min(start + max(batchSize, 1), files.count)]
            var prepared: [(index: Int, input: [Float])] = []
            var chunk: [(file: String, result: Result<[Float], Error>)] = []
            for file in slice {
                try checkpoint()
                do {
                    let input = try prepare(file: file)
                    prepared.append((chunk.count, input))
                    chunk.append((file, .success([])))
                } catch {
                    chunk.append((file, .failure(error)))
                }
            }
            if !prepared.isEmpty {
                try checkpoint()
                do {
                    let batch = try Tensor(shape: [prepared.count, preprocessing.size, preprocessing.size, 3],
                                           scalars: prepared.flatMap(\.input))
                    let rows = try embed(prepared: batch, l2Normalize: l2Normalize, batchSize: batchSize)
                    for (k, item) in prepared.enumerated() { chunk[item.index].result = .success(rows[k]) }
                } catch {
                    for item in prepared { chunk[item.index].result = .failure(error) }
                }
            }
            results.append(contentsOf: chunk)
            start += slice.count
            progress?(start, files.count)
        }
        return results
    }

    // MARK: Decisions

    /// The outcome of comparing two faces.
    public struct Verification: Sendable, Equatable, Codable {
        public let distance: Double
        public let threshold: Double
        public let metric: DistanceMetric
        /// `distance ≤ threshold`.
        public let verified: Bool
        /// The face compared in each image (nil: the whole image, or embeddings given).
        public var faces: [DetectedFace?] = []
        /// How many faces the detector found in each image (0 without a detector): more
        /// than one means the choice (`FaceExtraction.faceIndex`, the largest by default)
        /// mattered.
        public var facesFound: [Int] = []
    }

    /// The threshold for a metric: the given one, else the weight set's. Throws
    /// `FaceNetError.invalidArgument` when neither is known.
    public func threshold(for metric: DistanceMetric, override: Double? = nil) throws(FaceNetError) -> Double {
        if let override { return override }
        guard let weightSet else {
            throw FaceNetError.invalidArgument("no threshold known for these weights: pass one (`--threshold X`, `threshold:`), "
                + "or name the weight set they are (`--weight-set \(WeightSet.allCases.map(\.rawValue).joined(separator: "|"))`, `weightSet:`)")
        }
        return weightSet.threshold(for: metric)
    }

    /// Compares two embeddings. Throws only `FaceNetError` (as `threshold(for:override:)` and
    /// `DistanceMetric.distance(_:_:)` do), so a `catch` can switch over its cases.
    public func verify(embeddings a: [Float], _ b: [Float], metric: DistanceMetric = .euclideanL2,
                       threshold: Double? = nil) throws(FaceNetError) -> Verification {
        let t = try self.threshold(for: metric, override: threshold)
        let d = try metric.distance(a, b)
        return Verification(distance: d, threshold: t, metric: metric, verified: d <= t)
    }

    /// Compares the faces in two image files.
    public func verify(_ fileA: String, _ fileB: String, metric: DistanceMetric = .euclideanL2,
                       threshold: Double? = nil) throws -> Verification {
        try verifyFiles(fileA, fileB, metric: metric, threshold: threshold, checkpoint: {})
    }

    /// `verify(_:_:…)` with `checkpoint` called before each image and before the model runs.
    func verifyFiles(_ fileA: String, _ fileB: String, metric: DistanceMetric, threshold: Double?,
                     checkpoint: () throws -> Void) throws -> Verification {
        let t = try self.threshold(for: metric, override: threshold)
        try checkpoint()
        let first = try prepareFace(file: fileA)
        try checkpoint()
        let second = try prepareFace(file: fileB)
        try checkpoint()
        let inputs = first.input + second.input
        let e = try embed(prepared: try Tensor(shape: [2, preprocessing.size, preprocessing.size, 3], scalars: inputs))
        var result = try verify(embeddings: e[0], e[1], metric: metric, threshold: t)
        result.faces = [first.face, second.face]
        result.facesFound = [first.found, second.found]
        return result
    }
}

/// Planned sessions kept for reuse, by input shape. A session is taken out while it runs,
/// so no two threads ever share one.
final class SessionPool: Sendable {
    private final class Box: @unchecked Sendable {
        // Only ever touched by the one thread that took it out of the pool.
        package let session: InferenceSession
        package init(_ session: InferenceSession) { self.session = session }
    }

    private let idle = LockedValue<[[Int]: [Box]]>([:])
    /// Sessions kept per shape; more concurrent callers plan their own and drop them.
    private let keepPerShape = 4

    func withSession<R>(model: Model, input: String, shape: [Int], output: String,
                        _ body: (InferenceSession) throws -> R) throws -> R {
        let taken = idle.withLock { pool -> Box? in pool[shape]?.popLast() }
        let box = try taken ?? Box(InferenceSession(model: model, inputShapes: [input: shape], outputs: [output]))
        defer {
            idle.withLock { pool in
                if pool[shape, default: []].count < keepPerShape { pool[shape, default: []].append(box) }
            }
        }
        return try body(box.session)
    }
}

/// One face of a photo and its embedding (`FaceNet.embedFaces(file:maxFaces:l2Normalize:)`).
public struct FaceEmbedding: Sendable, Equatable {
    /// The detection (box, confidence, landmarks); nil when the whole image was embedded.
    public let face: DetectedFace?
    public let embedding: [Float]
}
