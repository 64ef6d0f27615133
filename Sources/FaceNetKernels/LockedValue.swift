import Foundation

/// A value behind a pthread mutex (`NSLock`). Used instead of `Synchronization.Mutex`,
/// whose contended path on Linux hands the lock over inside the kernel (priority-
/// inheritance futex): ThreadSanitizer cannot see that ordering and reports races between
/// accesses the lock does order; it understands pthread mutexes.
package final class LockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    package init(_ value: Value) {
        self.value = value
    }

    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
