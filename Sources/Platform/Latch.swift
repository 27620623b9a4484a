#if canImport(Glibc)
    import Glibc
#endif

/// A value one thread sets once and others wait for, asleep on a condition variable rather than
/// polling: how a thread that starts a runtime or a relay learns its outcome.
public final class Latch<Value: Sendable>: @unchecked Sendable {
    // Heap cells, not stored properties: pthread objects must not move, and an inout access to a
    // class property is not guaranteed to reach the same address twice.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var value: Value?

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Sets the value and wakes every waiter; later calls change nothing.
    public func set(_ newValue: Value) {
        pthread_mutex_lock(mutex)
        if value == nil { value = newValue }
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// The value, once set; nil if `limit` passed first (nil limit: wait as long as it takes).
    public func wait(upTo limit: Duration? = nil) -> Value? {
        var until = timespec()
        if let limit {
            let due = Deadline.after(limit).nanoseconds
            until.tv_sec = Int(due / 1_000_000_000)
            until.tv_nsec = Int(due % 1_000_000_000)
        }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while value == nil {
            if limit == nil {
                pthread_cond_wait(condition, mutex)
            } else if pthread_cond_timedwait(condition, mutex, &until) == ETIMEDOUT {
                break
            }
        }
        return value
    }
}
