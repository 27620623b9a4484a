import Logging
import Platform
import Synchronization
import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// The runtimes of this process, by index (the 8 bits of an object identifier above its slot), so
/// that an address of an object on one thread reaches it from any other.
enum RuntimeRegistry {
    typealias Post = Inbox<Posted>
    static let capacity = 256
    private static let inboxes = Mutex<[Post?]>(Array(repeating: nil, count: capacity))

    /// Takes a free index for `inbox`; nil when `capacity` runtimes are alive.
    static func register(_ inbox: Post) -> Int? {
        inboxes.withLock { table in
            guard let free = table.firstIndex(where: { $0 == nil }) else { return nil }
            table[free] = inbox
            return free
        }
    }

    static func unregister(_ index: Int) { inboxes.withLock { $0[index] = nil } }

    static func inbox(_ index: Int) -> Post? { inboxes.withLock { $0[index] } }
}

/// A runtime on a thread of its own, running a sequential main object: how a process puts
/// objects on several cores. Objects on different threads send to each other by address as
/// usual; those messages travel through the receiving runtime's inbox, one wake-up per batch.
public final class RuntimeThread: Sendable {
    private final class Shared: Sendable {
        let state = Mutex<(result: (any Message)?, join: (@Sendable () -> Void)?)>((nil, nil))
        /// The main object's address once it exists; nil if the runtime could not start.
        let main = Latch<Address?>()
    }
    private let shared = Shared()

    /// Starts the thread: a reactor, a runtime with `transport` and `limits` with `tuning` laid over
    /// them (its socket and timer tables, keep-alives, messages per turn: a thread that holds
    /// 10,000 links says `tuning.sockets`), `prepare` to set up what layers above keep on the
    /// runtime, and `main`.
    public init(
        transport: TransportConfiguration = TransportConfiguration(secret: .generate()),
        limits: RuntimeLimits = RuntimeLimits(), tuning: Tuning = Tuning(),
        logger: Logger = Logger(label: "ansar.actors"), prepare: @escaping @Sendable (Runtime) -> Void = { _ in },
        _ main: @escaping @Sendable (Mailbox) async throws -> any Message
    ) {
        let shared = self.shared
        let join = ThreadStarter.start {
            let value: any Message
            do {
                var transport = transport
                var limits = limits
                tuning.apply(to: &transport, runtime: &limits)
                let runtime = Runtime(
                    reactor: try tuning.makeReactor(logger: logger), transport: transport, limits: limits,
                    logger: logger)
                prepare(runtime)
                value = try runtime.run(main) { address in shared.main.set(address) }
            } catch {
                value = Faulted("runtime failed", explanation: "\(error)")
            }
            shared.main.set(nil) // a runtime that failed before its main object existed
            shared.state.withLock { $0.result = value }
        }
        shared.state.withLock { $0.join = join }
    }

    /// The main object's address, once it exists (waiting up to `limit` for it); nil if the
    /// runtime could not start or the time ran out.
    public func mainAddress(waitingUpTo limit: Duration = .seconds(5)) -> Address? {
        shared.main.wait(upTo: limit) ?? nil
    }

    /// Waits for the thread to end and returns what its main object completed with.
    public func wait() -> any Message {
        let join = shared.state.withLock { state in
            defer { state.join = nil }
            return state.join
        }
        join?()
        return shared.state.withLock { $0.result ?? Faulted("runtime thread ended without a result") }
    }
}
