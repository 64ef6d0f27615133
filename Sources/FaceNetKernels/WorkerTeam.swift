import Foundation
import Synchronization

/// A fixed team of threads that runs one parallel loop at a time, for the inference
/// session's own (single-level) parallelism: each member gets a part index and the team
/// waits for all. Dispatch allocates nothing: a job is a C-convention function and a
/// pointer to the caller's (stack) context, not a closure (which would be boxed on the
/// heap once shared with another thread).
///
/// Between jobs a worker spins for a short while (`spinLimit` polls, ~50 µs at
/// `EngineOptions.teamSpinLimit`'s default) watching the
/// job counter, then sleeps on its semaphore: the convolutions of one forward pass follow
/// each other within microseconds, and a semaphore wake-up costs ~10 µs per job here.
package final class WorkerTeam: @unchecked Sendable {
    /// A job: `task(context, part, parts)`.
    package typealias Task = @convention(c) (UnsafeRawPointer, Int, Int) -> Void

    /// What the threads share. `task` and `context` are written by the caller before it
    /// publishes a job (`jobs` incremented) and read by workers after they see it; the
    /// sequentially consistent atomics order them.
    /// An atomic in a box, so there can be an array of them.
    private final class Flag: Sendable {
        package let value = Atomic<Int>(0)
    }

    private final class Shared: @unchecked Sendable {
        package var task: Task?
        package var context: UnsafeRawPointer?
        var stopping = false
        /// Jobs published so far.
        let jobs = Atomic<Int>(0)
        /// Workers still busy with the current job.
        package let pending = Atomic<Int>(0)
        /// Per worker: 1 while it sleeps (or is about to) on its semaphore.
        let sleeping: [Flag]
        package let start: [DispatchSemaphore]
        let spinLimit: Int

        package init(workers: Int, spinLimit: Int) {
            start = (0..<workers).map { _ in DispatchSemaphore(value: 0) }
            sleeping = (0..<workers).map { _ in Flag() }
            self.spinLimit = spinLimit
        }

        package func work(_ member: Int, parts: Int) {
            let slot = member - 1
            var seen = 0
            while true {
                waitForJob(after: seen, slot: slot)
                seen = jobs.load(ordering: .sequentiallyConsistent)
                if stopping {
                    pending.subtract(1, ordering: .sequentiallyConsistent)
                    return
                }
                if let task, let context { task(context, member, parts) }
                pending.subtract(1, ordering: .sequentiallyConsistent)
            }
        }

        /// Returns once `jobs` has moved past `seen`: spinning first, then asleep (a wake-up is only a hint).
        private func waitForJob(after seen: Int, slot: Int) {
            var polls = 0
            while jobs.load(ordering: .sequentiallyConsistent) == seen {
                polls += 1
                guard polls >= spinLimit else { continue }
                // Announce the sleep, then look again: a job published in between is either
                // seen here or finds `sleeping` set and signals.
                sleeping[slot].value.store(1, ordering: .sequentiallyConsistent)
                if jobs.load(ordering: .sequentiallyConsistent) == seen {
                    start[slot].wait()
                } else if sleeping[slot].value.exchange(0, ordering: .sequentiallyConsistent) == 0 {
                    start[slot].wait()  // the caller took the flag and signalled: consume it
                }
                // Look again rather than return: the signal may be a late one from the publish of
                // the job this worker already ran (the caller was preempted between `jobs.add` and
                // its `exchange`, and took the flag set for the next job), so `jobs` may still be `seen`.
                polls = 0
            }
        }

        /// Publishes a job (or the stop) and wakes the sleepers.
        func publish(workers: Int) {
            pending.store(workers, ordering: .sequentiallyConsistent)
            jobs.add(1, ordering: .sequentiallyConsistent)
            for slot in 0..<workers where sleeping[slot].value.exchange(0, ordering: .sequentiallyConsistent) == 1 {
                start[slot].signal()
            }
        }

        /// Waits for every worker to finish the current job: spinning, then yielding.
        func waitForWorkers() {
            var polls = 0
            while pending.load(ordering: .sequentiallyConsistent) > 0 {
                polls += 1
                if polls > spinLimit { sched_yield() }
            }
        }
    }

    package let size: Int
    private let shared: Shared

    /// A team of `size` members: the caller plus `size − 1` threads. `spinLimit`: polls
    /// before a waiting worker sleeps (`EngineOptions.teamSpinLimit`; 0 sleeps at once).
    package init(size: Int, spinLimit: Int) {
        let size = max(1, size)
        self.size = size
        let shared = Shared(workers: size - 1, spinLimit: max(1, spinLimit))
        self.shared = shared
        for member in 1..<size {
            let thread = Thread { shared.work(member, parts: size) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit {
        guard size > 1 else { return }  // no worker threads to stop
        shared.stopping = true
        shared.publish(workers: size - 1)
        shared.waitForWorkers()
    }

    /// Runs `task(context, part, size)` for every part in 0..<size at once, the caller
    /// taking part 0; returns when all are done.
    package func run(_ task: Task, context: UnsafeRawPointer) {
        guard size > 1 else { return task(context, 0, 1) }
        shared.task = task
        shared.context = context
        shared.publish(workers: size - 1)
        task(context, 0, size)
        shared.waitForWorkers()
        shared.task = nil
        shared.context = nil
    }

    /// The part of `0..<count` that member `part` of `parts` takes (contiguous, balanced).
    package static func share(of count: Int, part: Int, parts: Int) -> Range<Int> {
        (count * part / parts)..<(count * (part + 1) / parts)
    }
}
