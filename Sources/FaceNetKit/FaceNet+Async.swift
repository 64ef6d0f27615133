import Foundation
import FaceNetKernels
import FaceNetEngine
import FaceNetVision

/// The `async` variants of the file-based calls. Each runs the synchronous work on a thread
/// of FaceNetKit's own dispatch queue, not on Swift's cooperative pool, so a call that takes
/// seconds does not hold one of the pool's few threads; the awaiting task is suspended
/// meanwhile. The queue is concurrent: calls from several tasks run at once, as the
/// synchronous calls do from several threads (each takes its own session from the pool).
///
/// Cancelling the awaiting task is seen between images (before each image is decoded and
/// prepared, and before each batch runs the model): the call then throws
/// `CancellationError` and drops the work in progress. An image already inside the model
/// finishes first. The `FaceNet` stays usable.
extension FaceNet {
    /// Embeds one image file, off the cooperative pool. Throws `CancellationError` when the
    /// task is cancelled before the work starts, else what `embed(file:l2Normalize:)` throws.
    public func embed(file path: String, l2Normalize: Bool = false) async throws -> [Float] {
        try await offCooperativePool { cancelled in
            Result {
                try cancelled.check()
                return try self.embed(file: path, l2Normalize: l2Normalize)
            }
        }.get()
    }

    /// Embeds image files in batches, off the cooperative pool. A file that fails does not
    /// stop the others: its entry holds the error. `progress` is called after each batch
    /// with (done, total), on FaceNetKit's queue (hence `@Sendable`). The only error thrown is
    /// `CancellationError`, when the task is cancelled: checked before each image and before
    /// each batch runs.
    public func embed(files: [String], l2Normalize: Bool = false, batchSize: Int = 8,
                      progress: (@Sendable (Int, Int) -> Void)? = nil) async throws(CancellationError)
        -> [(file: String, result: Result<[Float], Error>)] {
        try await offCooperativePool { cancelled in
            Result { () throws(CancellationError) in
                try self.embedFiles(files, l2Normalize: l2Normalize, batchSize: batchSize,
                                    checkpoint: { () throws(CancellationError) in try cancelled.check() }, progress: progress)
            }
        }.get()
    }

    /// Compares the faces in two image files, off the cooperative pool. Throws
    /// `CancellationError` when the task is cancelled before either image or the model run,
    /// else what `verify(_:_:metric:threshold:)` throws.
    public func verify(_ fileA: String, _ fileB: String, metric: DistanceMetric = .euclideanL2,
                       threshold: Double? = nil) async throws -> Verification {
        try await offCooperativePool { cancelled in
            Result {
                try self.verifyFiles(fileA, fileB, metric: metric, threshold: threshold, checkpoint: { try cancelled.check() })
            }
        }.get()
    }

    /// The faces in an image file, largest first (empty without a detector), off the
    /// cooperative pool. Throws `CancellationError` when the task is cancelled before the
    /// work starts, else what `detectFaces(file:)` throws.
    public func detectFaces(file path: String) async throws -> [DetectedFace] {
        try await offCooperativePool { cancelled in
            Result {
                try cancelled.check()
                return try self.detectFaces(file: path)
            }
        }.get()
    }

    /// Every face of an image file, largest first, embedded (`embedFaces(file:maxFaces:l2Normalize:)`),
    /// off the cooperative pool. Throws `CancellationError` when the task is cancelled
    /// before the work starts.
    public func embedFaces(file path: String, maxFaces: Int? = nil, l2Normalize: Bool = false) async throws -> [FaceEmbedding] {
        try await offCooperativePool { cancelled in
            Result {
                try cancelled.check()
                return try self.embedFaces(file: path, maxFaces: maxFaces, l2Normalize: l2Normalize)
            }
        }.get()
    }

    /// `prepareFaces(file:maxFaces:)` off the cooperative pool.
    package func prepareFaces(file path: String, maxFaces: Int?) async throws -> (faces: [DetectedFace?], batch: Tensor) {
        try await offCooperativePool { cancelled in
            Result {
                try cancelled.check()
                return try self.prepareFaces(file: path, maxFaces: maxFaces)
            }
        }.get()
    }

    /// `embed(prepared:l2Normalize:)` off the cooperative pool.
    package func embed(prepared batch: Tensor, l2Normalize: Bool) async throws -> [[Float]] {
        try await offCooperativePool { cancelled in
            Result {
                try cancelled.check()
                return try self.embed(prepared: batch, l2Normalize: l2Normalize)
            }
        }.get()
    }

    /// Runs `work` on `workQueue` and suspends the task until it returns. `work` receives a
    /// flag that the task's cancellation sets (at once if the task is cancelled already).
    private func offCooperativePool<R: Sendable, E: Error>(
        _ work: @escaping @Sendable (CancellationFlag) -> Result<R, E>) async -> Result<R, E> {
        let cancelled = CancellationFlag()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                FaceNet.workQueue.async { continuation.resume(returning: work(cancelled)) }
            }
        } onCancel: {
            cancelled.set()
        }
    }

    /// The threads the async calls run on: a queue of FaceNetKit's own, outside Swift's
    /// cooperative pool.
    private static let workQueue = DispatchQueue(label: "FaceNetKit.FaceNet.async", qos: .userInitiated,
                                                 attributes: .concurrent)
}

/// Set once by a task's cancellation handler, read by the work running for that task on
/// another thread (which is not inside the task, so `Task.isCancelled` would not see it).
private final class CancellationFlag: Sendable {
    private let value = LockedValue(false)

    func set() { value.withLock { $0 = true } }

    /// Throws `CancellationError` once the flag is set.
    func check() throws(CancellationError) {
        if value.withLock({ $0 }) { throw CancellationError() }
    }
}
