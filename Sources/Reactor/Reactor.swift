import CShims
import Logging
import Platform

#if canImport(Glibc)
    import Glibc
#endif

/// An event loop over io_uring (or epoll where io_uring is unavailable) for one thread.
///
/// Every operation is completion-based: start it, and its outcome arrives later as a
/// ``ReactorEvent`` (or received bytes) passed to your ``ReactorHandler`` from ``run(_:)``.
/// A loop turn has three phases: **submit** (one `io_uring_enter` for everything queued, waiting
/// until the next timer deadline), **reap** (copy completions aside) and **run** (act on them and
/// call the handler). Handlers are never called while reaping.
///
/// A reactor belongs to the thread that created it: create it on the thread that runs it, and reach
/// it from other threads only through ``waker`` and an ``Inbox``. Everything it holds is bounded by
/// the ``Limits`` given at init; reaching one is an error the caller sees.
public final class Reactor {
    /// How to choose the kernel interface.
    public enum BackendChoice: Sendable {
        /// `ANSAR_REACTOR=uring|epoll` if set, else io_uring when it initialises, else epoll.
        case automatic
        case uring
        case epoll
    }

    enum SocketState: UInt8 { case free, listening, connecting, connected, datagram, closing }

    struct Socket {
        var fd: Int32 = -1
        var generation: UInt32 = 0
        var state = SocketState.free
        var isTCP = false
        var accepting = false
        var receiving = false
        var receiveArmed = false
        var acceptArmed = false
        var sendInFlight = false
        var flushQueued = false
        var refusedSend = false
        /// Queued bytes at or below which a refused owner is told it may send: half the queue
        /// unless ``Reactor/notifyWhenWritable(_:atMost:)`` asked for less.
        var writableAt: Int? = nil
        var waitingForChunks = false
        var shutdownAfterFlush = false
        var deadlinePassed = false
        /// Bytes the kernel has taken from this socket's send queue, ever.
        var sentBytes: UInt64 = 0
        var inFlight = 0
        var deadline: TimerID? = nil
        var boundPath: String? = nil
        /// Device and inode of the socket file at `boundPath`, to tell it from a file that replaced it.
        var boundFile: (device: UInt64, inode: UInt64)? = nil
    }

    /// The fixed bounds this reactor enforces.
    public let limits: Limits
    /// Which kernel interface drives it.
    public var backendKind: BackendKind { backend.kind }
    /// Wakes this reactor from another thread; see ``Inbox``.
    public let waker: Waker

    // The hot tables below skip dynamic exclusivity checks (measured: ~7 % of the send path). That
    // is sound because a reactor is confined to one thread and no access to them spans a handler call.
    let backend: any ReactorBackend
    let logger: Logger
    private let ownerThread = pthread_self()
    @exclusivity(unchecked)
    var sockets: [Socket]
    @exclusivity(unchecked)
    private var freeSockets: [UInt32]
    @exclusivity(unchecked)
    var sendQueues: SendQueues
    @exclusivity(unchecked)
    var timers: TimerQueue
    /// Timer spaces handed out so far.
    private var timerSpaces: UInt8 = 0
    let receiveMemory: UnsafeMutableRawPointer
    let addresses: UnsafeMutablePointer<sockaddr_storage>
    let messages: UnsafeMutablePointer<msghdr>
    let iovecs: UnsafeMutablePointer<iovec>
    /// One iovec per socket for a send of one chunk, the common case: a socket's pages of `iovecs`
    /// (a kilobyte each at the default limits) are touched only once it sends more than a chunk
    /// at a time, so idle connections stay small in memory.
    let singleIovecs: UnsafeMutablePointer<iovec>
    @exclusivity(unchecked)
    var flushList: [UInt32] = []
    /// Sockets refused because the shared chunk pool ran dry; told ``ReactorEvent/writable(_:)``
    /// when any socket returns chunks.
    @exclusivity(unchecked)
    var chunkWaiters: [UInt32] = []
    @exclusivity(unchecked)
    var ready: [Completion] = []
    @exclusivity(unchecked)
    private var running: [Completion] = []
    /// Events produced outside the run phase (e.g. a close with nothing in flight), delivered next turn.
    @exclusivity(unchecked)
    var deferred: [ReactorEvent] = []
    /// The datagram sockets in the table, by slot; each owns its descriptor.
    var datagramSockets: [Int: any DatagramChannel] = [:]
    let wakeBuffer: UnsafeMutableRawBufferPointer
    var signalFD: Int32 = -1
    var signalMask = sigset_t()
    var previousSignalMask = sigset_t()
    let signalBuffer: UnsafeMutableRawBufferPointer
    private var stopRequested = false
    /// Set by ``skipNextWait()``: the owner has work left over, so the next turn only polls.
    private var workLeftOver = false
    /// Set once the kernel has let go of our memory at shutdown (``releaseKernelHold()``).
    private var kernelReleased = false

    /// Creates a reactor on the calling thread, which is the only one that may use it.
    public convenience init(
        limits: Limits = Limits(), backend choice: BackendChoice = .automatic,
        logger: Logger = Logger(label: "ansar.reactor")
    ) throws(ReactorError) {
        try self.init(limits: limits, logger: logger) { limits, memory throws(ReactorError) in
            try Self.makeBackend(choice, limits: limits, receiveMemory: memory, logger: logger)
        }
    }

    /// A reactor over the backend `makeBackend` builds on the receive memory (the simulator's).
    init(
        limits: Limits, logger: Logger,
        backend makeBackend: (Limits, UnsafeMutableRawPointer) throws(ReactorError) -> any ReactorBackend
    ) throws(ReactorError) {
        let limits = try limits.validated()
        self.limits = limits
        self.logger = logger
        receiveMemory = .allocate(byteCount: limits.receiveBuffers * limits.receiveBufferSize, alignment: 4096)
        do {
            backend = try makeBackend(limits, receiveMemory)
        } catch {
            receiveMemory.deallocate()
            throw error
        }
        let signal = try WakeSignal()
        waker = Waker(signal: signal)
        sockets = Array(repeating: Socket(), count: limits.sockets)
        freeSockets = (0..<UInt32(limits.sockets)).reversed()
        sendQueues = SendQueues(limits: limits)
        // Two socket-bound timers per socket at most (a connection's own and a connect deadline),
        // and a few for owners' per-loop needs (a transport's wake-up).
        timers = TimerQueue(capacity: limits.timers, reserve: 2 * limits.sockets + 8)
        addresses = .allocate(capacity: limits.sockets)
        messages = .allocate(capacity: limits.sockets)
        iovecs = .allocate(capacity: limits.sockets * limits.chunksPerSocket)
        singleIovecs = .allocate(capacity: limits.sockets)
        wakeBuffer = .allocate(byteCount: 8, alignment: 8)
        signalBuffer = .allocate(byteCount: 16 * MemoryLayout<signalfd_siginfo>.size, alignment: 8)
        flushList.reserveCapacity(limits.sockets)
        chunkWaiters.reserveCapacity(limits.sockets)
        ready.reserveCapacity(limits.completionsPerTurn)
        running.reserveCapacity(limits.completionsPerTurn)
        deferred.reserveCapacity(limits.sockets)
        backend.armRead(fd: signal.fd, kind: .wake, buffer: wakeBuffer)
    }

    private static func makeBackend(
        _ choice: BackendChoice, limits: Limits, receiveMemory: UnsafeMutableRawPointer, logger: Logger
    ) throws(ReactorError) -> any ReactorBackend {
        var choice = choice
        if choice == .automatic, let forced = getenv("ANSAR_REACTOR").map({ String(cString: $0) }) {
            switch forced {
            case "uring": choice = .uring
            case "epoll": choice = .epoll
            case "": break
            default: throw .unavailable("ANSAR_REACTOR=\(forced): expected uring or epoll")
            }
        }
        switch choice {
        case .epoll:
            return try EpollBackend(limits: limits, receiveBuffers: receiveMemory)
        case .uring:
            let uring = try URingBackend(limits: limits, receiveBuffers: receiveMemory)
            logger.debug("reactor: io_uring", metadata: ["features": "\(uring.features)"])
            return uring
        case .automatic:
            do {
                let uring = try URingBackend(limits: limits, receiveBuffers: receiveMemory)
                logger.debug("reactor: io_uring", metadata: ["features": "\(uring.features)"])
                return uring
            } catch {
                logger.notice("reactor: io_uring unavailable, using epoll", metadata: ["reason": "\(error)"])
                return try EpollBackend(limits: limits, receiveBuffers: receiveMemory)
            }
        }
    }

    deinit {
        releaseKernelHold()
        for slot in sockets.indices where sockets[slot].fd >= 0 {
            // A datagram socket's descriptor is its own (it closes with the table below).
            if datagramSockets[slot] == nil { Glibc.close(sockets[slot].fd) }
            unlinkBoundPath(slot)
        }
        datagramSockets.removeAll()
        if signalFD >= 0 { stopWatchingSignals() }
        backend.shutdown()
        sendQueues.deallocate()
        receiveMemory.deallocate()
        addresses.deallocate()
        messages.deallocate()
        iovecs.deallocate()
        singleIovecs.deallocate()
        wakeBuffer.deallocate()
        signalBuffer.deallocate()
    }

    /// io_uring operations in flight point into memory the reactor is about to free (receive
    /// buffers, send chunks, message headers, the wake and signal buffers). Cancel them all and wait,
    /// at most a second, for each to complete, so the kernel lets go first. Epoll holds nothing.
    @discardableResult
    func releaseKernelHold() -> Int {
        guard backend.kind == .uring, !kernelReleased else { return 0 }
        kernelReleased = true
        var outstanding = 0
        for slot in sockets.indices where sockets[slot].inFlight > 0 {
            backend.cancel(fd: sockets[slot].fd, socket: socketID(slot), kinds: .everything)
            outstanding += sockets[slot].inFlight
        }
        backend.cancelRead(kind: .wake)
        outstanding += 1
        if signalFD >= 0 {
            backend.cancelRead(kind: .signal)
            outstanding += 1
        }
        var completions: [Completion] = []
        completions.reserveCapacity(limits.completionsPerTurn)
        let deadline = Deadline.after(.seconds(1))
        while outstanding > 0 && Deadline.now() < deadline {
            completions.removeAll(keepingCapacity: true)
            try? backend.wait(timeout: 10_000_000, into: &completions, limit: limits.completionsPerTurn)
            for completion in completions where !completion.more && completion.userData.kind != .cancel {
                outstanding -= 1
            }
        }
        if outstanding > 0 {
            logger.notice("reactor: operations still in flight at shutdown", metadata: ["count": "\(outstanding)"])
        }
        return outstanding
    }

    /// Traps when called off the reactor's thread: a misuse that would otherwise corrupt state.
    @inline(__always)
    func checkThread() {
        precondition(
            pthread_equal(pthread_self(), ownerThread) != 0,
            "a Reactor must be used only on the thread that created it")
    }

    // MARK: - The loop

    /// Runs loop turns until the handler calls ``stop()``.
    public func run<Handler: ReactorHandler>(_ handler: inout Handler) throws(ReactorError) {
        checkThread()
        stopRequested = false
        while !stopRequested {
            try turn(&handler, timeout: nil)
        }
    }

    /// Runs loop turns until `deadline` passes or the handler calls ``stop()``.
    public func run<Handler: ReactorHandler>(_ handler: inout Handler, until deadline: Deadline) throws(ReactorError) {
        checkThread()
        stopRequested = false
        while !stopRequested {
            let now = Deadline.now()
            if now >= deadline { return }
            try turn(&handler, timeout: now.nanoseconds(until: deadline))
        }
    }

    /// Makes ``run(_:)`` return after the current turn.
    public func stop() { stopRequested = true }

    /// Makes the next turn poll the kernel without waiting: for a handler that stopped short of
    /// finishing its own work (a run-queue budget) and must be called again soon.
    public func skipNextWait() { workLeftOver = true }

    /// Whether the next turn has work without waiting (events deferred, completions or an owner's
    /// work left over): the simulator moves its clock only when no reactor has.
    var hasWorkWithoutWaiting: Bool { !deferred.isEmpty || !ready.isEmpty || workLeftOver }

    /// When the next timer is due, if any.
    var nextTimerDeadline: Deadline? { timers.nextDeadline }

    /// One loop turn: submit and wait (at most `timeout` nanoseconds, and never past the next
    /// timer), reap, run.
    func turn<Handler: ReactorHandler>(_ handler: inout Handler, timeout: UInt64?) throws(ReactorError) {
        flushSends()
        var wait = timeout
        if let next = timers.nextDeadline {
            let untilTimer = Deadline.now().nanoseconds(until: next)
            wait = min(wait ?? .max, untilTimer)
        }
        if !deferred.isEmpty || !ready.isEmpty || workLeftOver { wait = 0 }
        workLeftOver = false
        try backend.wait(timeout: wait, into: &ready, limit: limits.completionsPerTurn)

        // Run phase: act on a batch taken aside, so handlers may queue more without disturbing it.
        swap(&ready, &running)
        var index = 0
        while index < deferred.count {
            let event = deferred[index]
            index += 1
            handler.handle(event, reactor: self)
        }
        deferred.removeFirst(index)
        for completion in running {
            process(completion, &handler)
        }
        running.removeAll(keepingCapacity: true)
        fireTimers(&handler)
        handler.turnEnded(reactor: self)
    }

    private func fireTimers<Handler: ReactorHandler>(_ handler: inout Handler) {
        let now = Deadline.now()
        while let (id, purpose) = timers.popExpired(now: now) {
            switch purpose {
            case .user(let tag, let space):
                handler.handle(
                    .timer(TimerID(slot: id.slot, generation: id.generation, space: space), tag: tag), reactor: self)
            case .connectDeadline(let slot, let generation):
                connectDeadlinePassed(slot: slot, generation: generation)
            case .acceptRetry(let slot, let generation):
                retryAccept(slot: slot, generation: generation)
            }
        }
    }

    // MARK: - Timers

    /// Arms a one-shot timer in `space`; ``ReactorEvent/timer(_:tag:)`` carries `tag` when it
    /// fires. Throws ``ReactorError/limitReached(_:)`` when ``Limits/timers`` are armed. A
    /// `socketBound` timer — at most one per open socket, such as a connection's keep-alive — comes
    /// from a reserve of its own and is never refused for that.
    public func startTimer(
        at deadline: Deadline, tag: UInt64 = 0, in space: TimerSpace = .shared, socketBound: Bool = false
    ) throws(ReactorError) -> TimerID {
        checkThread()
        let id = try timers.start(at: deadline, purpose: .user(tag: tag, space: space), reserved: socketBound)
        return TimerID(slot: id.slot, generation: id.generation, space: space)
    }

    /// Arms a one-shot timer `delay` from now.
    public func startTimer(
        after delay: Duration, tag: UInt64 = 0, in space: TimerSpace = .shared, socketBound: Bool = false
    ) throws(ReactorError) -> TimerID {
        try startTimer(at: .after(delay), tag: tag, in: space, socketBound: socketBound)
    }

    /// A timer space of its own, for a layer that shares this reactor with others (at most 255).
    public func newTimerSpace() -> TimerSpace {
        checkThread()
        precondition(timerSpaces < UInt8.max, "more than 255 timer spaces on one reactor")
        timerSpaces += 1
        return TimerSpace(value: timerSpaces)
    }

    /// Disarms a timer. Returns false if it had already fired or been cancelled.
    @discardableResult
    public func cancelTimer(_ timer: TimerID) -> Bool {
        checkThread()
        return timers.cancel(timer)
    }

    // MARK: - Socket table

    func allocateSocket(fd: Int32, state: SocketState, isTCP: Bool) throws(ReactorError) -> SocketID {
        guard let slot = freeSockets.popLast() else { throw .limitReached(.sockets) }
        let generation = sockets[Int(slot)].generation
        sockets[Int(slot)] = Socket(fd: fd, generation: generation, state: state, isTCP: isTCP)
        let id = SocketID(slot: slot, generation: generation & UserData.generationMask)
        do {
            try backend.register(fd: fd, socket: id)
        } catch {
            sockets[Int(slot)] = Socket(generation: generation &+ 1)
            freeSockets.append(slot)
            throw error
        }
        return id
    }

    /// The slot of a live socket, or `.closed` for a stale or closing identifier.
    func slot(of socket: SocketID) throws(ReactorError) -> Int {
        let slot = socket.index
        guard slot < sockets.count,
            sockets[slot].generation & UserData.generationMask == socket.generation,
            sockets[slot].state != .free, sockets[slot].state != .closing
        else { throw .closed }
        return slot
    }

    /// Closes the descriptor and frees the slot once nothing is in flight on it.
    func release(_ slot: Int) -> Int {
        let id = SocketID(slot: UInt32(slot), generation: sockets[slot].generation & UserData.generationMask)
        backend.deregister(fd: sockets[slot].fd, socket: id)
        // A datagram socket's descriptor is its own: it closes when the table lets go of it.
        if datagramSockets.removeValue(forKey: slot) == nil { Glibc.close(sockets[slot].fd) }
        unlinkBoundPath(slot)
        if let deadline = sockets[slot].deadline { timers.cancel(deadline) }
        let discarded = sendQueues.discard(slot)
        sockets[slot] = Socket(generation: sockets[slot].generation &+ 1)
        freeSockets.append(UInt32(slot))
        return discarded
    }

    /// The identity of the file at `path`, if any.
    static func fileIdentity(_ path: String) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    /// Removes a listener's socket file, unless someone else's file has taken its place.
    func unlinkBoundPath(_ slot: Int) {
        guard let path = sockets[slot].boundPath, let ours = sockets[slot].boundFile,
            let current = Self.fileIdentity(path), current == ours
        else { return }
        unlink(path)
    }
}
