#if canImport(Glibc)
    import Glibc
#endif

/// Files written all or nothing on a thread of their own: a loop that must not wait for the disk
/// (an fsync on a busy disk can take seconds, and every link of the loop would wait) hands over
/// the bytes and goes on. Jobs run in the order given; bytes for a path not yet written are
/// replaced by newer ones (only the latest state matters); `then` runs once its bytes are on disk.
public final class BackgroundFileWriter: @unchecked Sendable {
    private enum Work {
        case write(bytes: [UInt8], mode: UInt32)
        case remove
    }

    private struct Job {
        let path: String
        var work: Work
        var then: [@Sendable () -> Void]
    }

    // Heap cells: pthread objects must not move (see ``Latch``).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var jobs: [Job] = []
    private var finishing = false
    private var join: (@Sendable () -> Void)?

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        join = ThreadStarter.start { [self] in serve() }
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Writes `bytes` to `path` (through ``SystemAccess/writeFileAtomically(_:_:mode:)``), then
    /// runs `then` on the writer's thread. A failed write is dropped: what is written here is
    /// state that the next write replaces.
    public func write(_ path: String, _ bytes: [UInt8], mode: UInt32 = 0o600, then: (@Sendable () -> Void)? = nil) {
        enqueue(Job(path: path, work: .write(bytes: bytes, mode: mode), then: then.map { [$0] } ?? []))
    }

    /// Removes `path`, after what was asked before.
    public func remove(_ path: String) { enqueue(Job(path: path, work: .remove, then: [])) }

    /// Does what is queued and stops the thread.
    public func finish() {
        pthread_mutex_lock(mutex)
        finishing = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
        join?()
        join = nil
    }

    private func enqueue(_ job: Job) {
        pthread_mutex_lock(mutex)
        // The last job queued for this path, if it is the last job of all: the new bytes replace
        // its bytes (nothing after it can depend on the old ones).
        if case .write = job.work, let last = jobs.last, last.path == job.path, case .write = last.work {
            jobs[jobs.count - 1].work = job.work
            jobs[jobs.count - 1].then += job.then
        } else {
            jobs.append(job)
        }
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    private func serve() {
        while true {
            pthread_mutex_lock(mutex)
            while jobs.isEmpty && !finishing { pthread_cond_wait(condition, mutex) }
            if jobs.isEmpty {
                pthread_mutex_unlock(mutex)
                return
            }
            let job = jobs.removeFirst()
            pthread_mutex_unlock(mutex)
            switch job.work {
            case .write(let bytes, let mode): try? SystemAccess.writeFileAtomically(job.path, bytes, mode: mode)
            case .remove: unlink(job.path)
            }
            for then in job.then { then() }
        }
    }
}
