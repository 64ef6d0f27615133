import FaceNetKit
import Foundation

/// Runs concurrent requests' faces through the network together (dynamic batching, the
/// idea of Triton's and TF-Serving's batchers), on a thread of its own so that inference
/// never occupies Swift's cooperative pool or the HTTP event loops.
///
/// A request announces itself (`announce()`) before it decodes and detects, then submits
/// its prepared faces (`embed(_:…)`). The thread takes the waiting requests in arrival
/// order, whole, up to `maxBatch` faces (a request with more faces runs alone, in chunks of
/// `maxBatch`), and runs them as one batch:
///
/// - at once when no other request is being prepared: nothing would join the batch;
/// - otherwise when `maxBatch` faces are waiting, no request is being prepared any more, or
///   the oldest face has waited `maxDelay`, whichever comes first.
///
/// Each face's embedding is its row of the batch's output. The engine computes every row
/// from its own input only, in the same order whatever the batch size, so a face's
/// embedding does not depend on the batch it rode in (`BatchingTests` checks this bit for
/// bit; Docs/serving.md).
final class EmbeddingBatcher: @unchecked Sendable {
    /// One request's faces, N × size × size × 3, waiting for the network.
    private struct Waiting {
        let id: UInt64
        let batch: Tensor
        let deadline: ContinuousClock.Instant
        let arrived: ContinuousClock.Instant
        let continuation: CheckedContinuation<[[Float]], Error>

        var faces: Int { batch.shape.first ?? 0 }
    }

    private let facenet: FaceNet
    private let maxBatch: Int
    private let maxDelay: Duration
    private let metrics: ServerMetrics
    // `condition` guards everything below it; `@unchecked Sendable` rests on that.
    private let condition = NSCondition()
    private var waiting: [Waiting] = []
    private var preparing = 0
    private var nextID: UInt64 = 0
    private var stopped = false
    private var thread: Thread?

    init(facenet: FaceNet, maxBatch: Int, maxDelay: Duration, metrics: ServerMetrics) {
        self.facenet = facenet
        self.maxBatch = maxBatch
        self.maxDelay = maxDelay
        self.metrics = metrics
    }

    /// Starts the batching thread (once).
    func start() {
        condition.lock()
        defer { condition.unlock() }
        guard thread == nil, !stopped else { return }
        let thread = Thread { [self] in run() }
        thread.name = "facenet-batcher"
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    /// Lets the thread finish what is waiting and end. Faces submitted afterwards fail with
    /// `APIError.shuttingDown`.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// A request is about to decode and detect: the batcher may wait a little for its faces.
    /// Call `withdraw()` if it fails before submitting, or submit with `announced: true`.
    func announce() {
        condition.lock()
        preparing += 1
        condition.unlock()
    }

    /// An announced request will not submit (it failed while preparing).
    func withdraw() {
        condition.lock()
        preparing -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// The embeddings of `batch`'s faces (N × size × size × 3, NHWC), one row each, not
    /// normalised. `announced`: the request called `announce()` first. Throws
    /// `APIError.timedOut` when `deadline` passes before its batch starts, `CancellationError`
    /// when the task is cancelled before it starts, and what the engine throws.
    func embed(_ batch: Tensor, deadline: ContinuousClock.Instant, announced: Bool) async throws -> [[Float]] {
        guard (batch.shape.first ?? 0) > 0 else {
            if announced { withdraw() }
            return []
        }
        let id = newID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                self.enqueue(Waiting(id: id, batch: batch, deadline: deadline, arrived: .now, continuation: continuation),
                             announced: announced)
            }
        } onCancel: {
            self.cancel(id)
        }
    }

    /// A request id not given before.
    private func newID() -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        nextID += 1
        return nextID
    }

    /// Adds a request to the queue (or fails it when the batcher has stopped).
    private func enqueue(_ request: Waiting, announced: Bool) {
        condition.lock()
        defer { condition.unlock() }
        if announced { preparing -= 1 }
        guard !stopped else { return request.continuation.resume(throwing: APIError.shuttingDown) }
        waiting.append(request)
        metrics.queueDepth.set(Double(facesWaiting))
        condition.broadcast()
    }

    /// Drops request `id` if it is still waiting (its task was cancelled).
    private func cancel(_ id: UInt64) {
        condition.lock()
        defer { condition.unlock() }
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    // MARK: The thread

    private func run() {
        while let batch = nextBatch() {
            runBatch(batch)
        }
    }

    /// Waits for work and takes the next batch (nil: stopped and nothing left).
    private func nextBatch() -> [Waiting]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            while waiting.isEmpty {
                if stopped { return nil }
                condition.wait()
            }
            // Wait for faces on their way, while there is room and the oldest may still wait.
            let due = waiting[0].arrived + maxDelay
            while !stopped, preparing > 0, facesWaiting < maxBatch, ContinuousClock.now < due {
                _ = condition.wait(until: Date(timeIntervalSinceNow: max(0, (due - .now).seconds)))
            }
            let taken = takeBatch()
            metrics.queueDepth.set(Double(facesWaiting))
            if !taken.isEmpty { return taken }
        }
    }

    private var facesWaiting: Int { waiting.reduce(0) { $0 + $1.faces } }

    /// Removes the requests of the next batch from `waiting`: whole requests in arrival
    /// order up to `maxBatch` faces (at least one request). Requests past their deadline are
    /// answered with `APIError.timedOut` and skipped.
    private func takeBatch() -> [Waiting] {
        let now = ContinuousClock.now
        var taken: [Waiting] = [], faces = 0
        while let request = waiting.first {
            if request.deadline <= now {
                waiting.removeFirst().continuation.resume(throwing: APIError.timedOut)
                continue
            }
            if !taken.isEmpty, faces + request.faces > maxBatch { break }
            taken.append(waiting.removeFirst())
            faces += request.faces
        }
        return taken
    }

    /// Runs one batch through the network and answers its requests.
    private func runBatch(_ batch: [Waiting]) {
        let faces = batch.reduce(0) { $0 + $1.faces }
        let started = ContinuousClock.now
        let result = Result { () throws -> [[Float]] in
            let input = batch.count == 1 ? batch[0].batch
                : try Tensor(shape: [faces] + batch[0].batch.shape.dropFirst(), scalars: batch.flatMap(\.batch.scalars))
            return try facenet.embed(prepared: input, l2Normalize: false, batchSize: maxBatch)
        }
        metrics.inferenceSeconds.record(ContinuousClock.now - started)
        metrics.batchSize.record(Double(faces))
        switch result {
        case .success(let rows):
            var start = 0
            for request in batch {
                request.continuation.resume(returning: Array(rows[start..<(start + request.faces)]))
                start += request.faces
            }
        case .failure(let error):
            for request in batch { request.continuation.resume(throwing: error) }
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
