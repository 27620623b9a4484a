import Actors
import Logging
import Reactor
import Synchronization
import Transport

/// What a crowd or its holder has seen so far, read from another thread while it runs.
public final class CrowdCounts: Sendable {
    private let counts = Mutex<(up: Int, lost: Int, failed: Int, lastFailure: String)>((0, 0, 0, ""))
    private let bound = Mutex<SocketAddress?>(nil)

    public init() {}

    /// Where a holder listens, once it does (with the kernel's port for port 0).
    public var listening: SocketAddress? { bound.withLock { $0 } }
    func listens(at address: SocketAddress) { bound.withLock { $0 = address } }

    /// Connections up (connected or accepted), lost after they were up, and attempts that failed.
    public var up: Int { counts.withLock { $0.up } }
    public var lost: Int { counts.withLock { $0.lost } }
    public var failed: Int { counts.withLock { $0.failed } }
    public var lastFailure: String { counts.withLock { $0.lastFailure } }

    func cameUp() { counts.withLock { $0.up += 1 } }
    func wasLost() { counts.withLock { $0.lost += 1 } }
    func attemptFailed(_ reason: String) {
        counts.withLock {
            $0.failed += 1
            $0.lastFailure = reason
        }
    }
}

/// Many idle connections from one process: opens `count` to `target`, at most `window` of them in
/// their handshake at once (a listener bounds unproved connections per source), and then holds
/// them, sending nothing, until its runtime ends.
public final class Crowd: Object {
    let target: SocketAddress
    let count: Int
    let window: Int
    let counts: CrowdCounts
    private var started = 0
    private var pending = 0

    /// A socket table that holds `links` links and what a runtime has beside them.
    public static func sockets(for links: Int) -> Int { links + 256 }

    /// The `link-node` arguments of a crowd process of `count` links to `target` (its realm secret
    /// in `ANSAR_REALM_SECRET`); it says `crowd up N failed F lost L` on stderr as they come up.
    public static func linkNodeArguments(to target: SocketAddress, count: Int) -> [String] {
        ["--role=crowd", "--address=\(target)", "--count=\(count)", "--sockets=\(sockets(for: count))"]
    }

    public init(target: SocketAddress, count: Int, window: Int = 8, counts: CrowdCounts) {
        self.target = target
        self.count = count
        self.window = window
        self.counts = counts
    }

    public func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start: break
        case is Connected:
            pending -= 1
            counts.cameUp()
        case let failed as NotConnected:
            // Retried by the backoff: still in its handshake window.
            counts.attemptFailed(failed.reason)
            return
        case is Abandoned, is Closed: counts.wasLost()
        default: return
        }
        while pending < window && started < count {
            // A backoff retries an attempt a busy listener turned away; a lost link stays lost.
            context.connect(to: target, backoff: Backoff(initial: .milliseconds(20), maximum: .seconds(1)))
            started += 1
            pending += 1
        }
    }
}

/// The other end of a ``Crowd``: listens at `address` and counts who came and who was lost.
public final class CrowdHolder: Object {
    let address: SocketAddress
    let counts: CrowdCounts

    public init(at address: SocketAddress, counts: CrowdCounts) {
        self.address = address
        self.counts = counts
    }

    public func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start: context.listen(at: address)
        case let bound as Listening: counts.listens(at: bound.address)
        case is Accepted: counts.cameUp()
        case is Abandoned, is Closed: counts.wasLost()
        default: break
        }
    }
}

/// A ``CrowdHolder`` on a runtime thread of its own, its socket table sized for `links`: what a
/// test or benchmark holding a crowd starts, and ends with ``stop()``.
public final class HeldCrowd: Sendable {
    public let counts = CrowdCounts()
    private final class Flag: Sendable { let raised = Atomic<Bool>(false) }
    private let done = Flag()
    private let thread: RuntimeThread

    public init(links: Int, transport: TransportConfiguration, logger: Logger = Logger(label: "ansar.actors")) {
        var tuning = Tuning()
        tuning.sockets = Crowd.sockets(for: links)
        let (counts, done) = (counts, done)
        thread = RuntimeThread(transport: transport, tuning: tuning, logger: logger) { mailbox in
            _ = mailbox.create(CrowdHolder(at: .ipv4("127.0.0.1", port: 0), counts: counts))
            while !done.raised.load(ordering: .relaxed) {
                _ = try await mailbox.select(Finish.self, timeout: .milliseconds(50))
            }
            return Ack()
        }
    }

    /// Where it listens, once it does (within 10 s), else nil.
    public func address() -> SocketAddress? {
        within(10) { counts.listening != nil } ? counts.listening : nil
    }

    public func stop() {
        done.raised.store(true, ordering: .relaxed)
        _ = thread.wait()
    }
}
