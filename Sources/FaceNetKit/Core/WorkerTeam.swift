import Foundation

/// A fixed team of threads that runs one parallel loop at a time, for the inference
/// session's own (single-level) parallelism: each member gets a part index and the team
/// waits for all. Dispatch allocates nothing: a job is a C-convention function and a
/// pointer to the caller's (stack) context, not a closure (which would be boxed on the
/// heap once shared with another thread); the threads sleep on semaphores between jobs.
final class WorkerTeam: @unchecked Sendable {
    /// A job: `task(context, part, parts)`.
    typealias Task = @convention(c) (UnsafeRawPointer, Int, Int) -> Void

    /// What the threads share. Written by the caller only while every worker is parked on
    /// its semaphore, read by workers only between `start` and `done`: the semaphores order it.
    private final class Shared: @unchecked Sendable {
        var task: Task?
        var context: UnsafeRawPointer?
        var stopping = false
        let start: [DispatchSemaphore]
        let done = DispatchSemaphore(value: 0)

        init(workers: Int) {
            start = (0..<workers).map { _ in DispatchSemaphore(value: 0) }
        }

        func work(_ member: Int, parts: Int) {
            while true {
                start[member - 1].wait()
                if stopping {
                    done.signal()
                    return
                }
                if let task, let context { task(context, member, parts) }
                done.signal()
            }
        }
    }

    let size: Int
    private let shared: Shared

    /// A team of `size` members: the caller plus `size − 1` threads.
    init(size: Int) {
        let size = max(1, size)
        self.size = size
        let shared = Shared(workers: size - 1)
        self.shared = shared
        for member in 1..<size {
            let thread = Thread { shared.work(member, parts: size) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit {
        shared.stopping = true
        for s in shared.start { s.signal() }
        for _ in 1..<size { shared.done.wait() }
    }

    /// Runs `task(context, part, size)` for every part in 0..<size at once, the caller
    /// taking part 0; returns when all are done.
    func run(_ task: Task, context: UnsafeRawPointer) {
        guard size > 1 else { return task(context, 0, 1) }
        shared.task = task
        shared.context = context
        for s in shared.start { s.signal() }
        task(context, 0, size)
        for _ in 1..<size { shared.done.wait() }
        shared.task = nil
        shared.context = nil
    }

    /// The part of `0..<count` that member `part` of `parts` takes (contiguous, balanced).
    static func share(of count: Int, part: Int, parts: Int) -> Range<Int> {
        (count * part / parts)..<(count * (part + 1) / parts)
    }
}
