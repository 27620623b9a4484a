import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs Swift concurrency jobs on a reactor's thread, so `async` code (a task started with
/// `Task(executorPreference:)`) shares the thread, and the state, of the reactor's handlers with no
/// lock. Jobs enqueued on the reactor thread go on a plain queue; jobs from other threads take a
/// lock and wake the reactor once per batch.
///
/// The owner calls ``runJobs(limit:)`` from its handler (on ``ReactorEvent/woken`` and at the end
/// of each turn). The executor never refuses a job: a job is a suspended task, and dropping one
/// would leak it forever.
public final class ReactorExecutor: TaskExecutor, @unchecked Sendable {
    // `local` is touched only on the owner thread; `remote` is guarded by its mutex.
    private var local: [UnownedJob] = []
    private var running: [UnownedJob] = []
    private let remote = Mutex<[UnownedJob]>([])
    private let waker: Waker
    private let ownerThread: pthread_t

    /// An executor for the reactor running on the calling thread.
    public init(waking waker: Waker) {
        self.waker = waker
        self.ownerThread = pthread_self()
        local.reserveCapacity(256)
        running.reserveCapacity(256)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if pthread_equal(pthread_self(), ownerThread) != 0 {
            local.append(job)
            return
        }
        let wasEmpty = remote.withLock { queue in
            queue.append(job)
            return queue.count == 1
        }
        if wasEmpty { waker.wake() }
    }

    /// Whether jobs are waiting to run (owner thread only).
    public var hasJobs: Bool { !local.isEmpty || !remote.withLock { $0.isEmpty } }

    /// Runs the jobs queued so far, oldest first, at most `limit` of them; returns how many ran.
    /// Jobs they enqueue run on a later call. Owner thread only.
    @discardableResult
    public func runJobs(limit: Int = .max) -> Int {
        precondition(pthread_equal(pthread_self(), ownerThread) != 0, "ReactorExecutor jobs run on the reactor thread")
        remote.withLock { queue in
            local.append(contentsOf: queue)
            queue.removeAll(keepingCapacity: true)
        }
        guard !local.isEmpty else { return 0 }
        swap(&local, &running)
        let count = min(limit, running.count)
        let executor = asUnownedTaskExecutor()
        for index in 0..<count {
            running[index].runSynchronously(on: executor)
        }
        if count < running.count {
            // Put the rest back in front of anything the jobs just enqueued.
            local.insert(contentsOf: running[count...], at: 0)
        }
        running.removeAll(keepingCapacity: true)
        return count
    }
}
