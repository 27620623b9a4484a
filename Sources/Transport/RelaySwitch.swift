import Cryptography
import Platform
import Reactor
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A rendezvous relay for two ends that cannot reach each other: both connect to it and send a
/// ticket for the same rendezvous (``RelayTicket``, issued by the directory that matched their
/// session); it joins the two connections and copies bytes both ways without looking at them.
/// The ends then run the ordinary realm handshake across it (one of them as the server, see
/// ``Connections/connect(to:deadline:backoff:preface:role:expecting:)``), so their session keys come from an
/// ephemeral exchange the relay never sees: the traffic is encrypted end to end, and the relay
/// holds only the key that checks tickets, never the realm secret.
///
/// Bounded everywhere, so neither strangers nor members can take it over: connections that have
/// not shown a ticket (per source and in all, the oldest let go for a newcomer, as the transport
/// does for handshakes) and how long they may take; ends waiting for their partner and how long
/// they wait; what an end may send before its partner comes; joined pairs, the bytes each pair
/// may carry and how long it may stay idle; what is queued towards a slow end (the reactor's send
/// queue; the fast end is not read meanwhile). A ticket joins once: a copied one is refused.
/// Runs on a reactor of its own: `RelaySwitch(listening:configuration:).run()` on a dedicated thread.
public final class RelaySwitch {
    public struct Configuration: Sendable {
        /// Checks tickets: the key shared with the one directory that issues them (``RelayTicket/newKey()``).
        public var key: [UInt8]
        /// Connections that have not yet sent a whole ticket (a stranger's idle ones among them).
        public var unproved = PendingHandshakes.Configuration()
        /// How long a connection may take to send its ticket.
        public var ticketLimit = Duration.seconds(2)
        /// Ends with a good ticket that wait for their partner.
        public var maximumWaiting = 1024
        /// How long an end may wait to be joined.
        public var waitLimit = Duration.seconds(10)
        /// Bytes an end may send before its partner arrives (its handshake hello, typically).
        public var earlyBytes = 64 * 1024
        /// Pairs joined at once.
        public var maximumPairs = 1024
        /// Bytes one pair may carry, both ways together; past it the pair is closed (its session
        /// is dropped and reopened by the ends, through a new ticket).
        public var pairBytes = 1 << 30
        /// How long a pair may carry nothing before it is closed (the ends' keep-alives cross it
        /// every second or so).
        public var idleLimit = Duration.seconds(30)

        public init(key: [UInt8]) {
            precondition(key.count == RelayTicket.keyBytes, "a relay key is \(RelayTicket.keyBytes) bytes")
            self.key = key
        }

        /// The reactor's sockets and timers that these bounds need.
        var reactorLimits: Limits {
            var limits = Limits()
            limits.sockets = unproved.perListener + maximumWaiting + 2 * maximumPairs + 16
            limits.timers = limits.sockets + 16
            return limits
        }
    }

    private enum Phase {
        /// Reading the ticket.
        case ticket
        /// Ticket checked; bytes that came after it wait for the partner.
        case waiting([UInt8])
        case joined(SocketID)
    }

    private struct End {
        let socket: SocketID
        var phase: Phase
        var received: [UInt8] = []
        var timer: TimerID?
        var ticket: RelayTicket?
        /// Bytes from this end that did not fit in the partner's send queue; this end is not read
        /// until they have gone.
        var backlog: [UInt8] = []
        /// This end finished sending (its end of stream was passed on to the partner).
        var readEnded = false
        /// Bytes this end sent to its partner.
        var sent = 0
        var lastActive = Deadline.now()
    }

    public let reactor: Reactor
    public let configuration: Configuration
    /// Where it listens (with the kernel's port if asked for port 0).
    public let address: SocketAddress
    private let listener: SocketID
    private var ends: [Int: End] = [:]
    private var unproved: PendingHandshakes
    /// The relay has one listener: the transport's bound per listener is its bound in all.
    private static let listenerKey = ListenerID(value: 0, generation: 0)
    private var waiting: [[UInt8]: SocketID] = [:]
    /// Tokens already joined, until their tickets expire: a ticket joins once.
    private var used: [[UInt8]: UInt64] = [:]
    static let usedLimit = 65_536
    private var pairs = 0
    /// Joined pairs so far (for tests and logs).
    public private(set) var joinedPairs = 0

    public init(
        listening address: SocketAddress, configuration: Configuration, reactor: Reactor? = nil
    ) throws(ReactorError) {
        if let reactor {
            self.reactor = reactor
        } else {
            self.reactor = try Reactor(limits: configuration.reactorLimits)
        }
        self.configuration = configuration
        unproved = PendingHandshakes(configuration.unproved)
        listener = try self.reactor.listen(on: address)
        self.address = (try? self.reactor.localAddress(of: listener)) ?? address
    }

    /// Runs until ``stop()`` (from the relay's own thread) or forever.
    public func run() throws(ReactorError) {
        var handler = Handler(relay: self)
        try reactor.run(&handler)
    }

    public func stop() { reactor.stop() }

    private struct Handler: ReactorHandler {
        let relay: RelaySwitch
        mutating func handle(_ event: ReactorEvent, reactor: Reactor) { relay.handle(event) }
        mutating func received(_ bytes: Span<UInt8>, on socket: SocketID, reactor: Reactor) {
            relay.received(bytes, on: socket)
        }
    }

    private func handle(_ event: ReactorEvent) {
        switch event {
        case .accepted(let socket, _):
            accepted(socket)
        case .receiveEnded(let socket, nil):
            ended(socket)
        case .receiveEnded(let socket, _), .sendFailed(let socket, _, _):
            drop(socket)
        case .writable(let socket):
            // The queue towards `socket` drained: what its partner could not send goes now.
            guard let end = self.end(socket), case .joined(let partner) = end.phase, let other = self.end(partner),
                !other.backlog.isEmpty
            else { return }
            ends[partner.index]!.backlog = []
            forward(other.backlog.span, from: partner, to: socket)
            guard self.end(partner)?.backlog.isEmpty == true else { return }
            // All of it went: read the partner again, or pass on the end of its stream.
            if other.readEnded { try? reactor.shutdownWrite(socket) } else { try? reactor.startReceiving(partner) }
        case .timer(_, let tag):
            if let socket = SocketID(packed: tag) { timedOut(socket) }
        default:
            break
        }
    }

    private func accepted(_ socket: SocketID) {
        let source = (try? reactor.peerAddress(of: socket))?.host
        switch unproved.admit(ConnectionID(socket: socket), listener: Self.listenerKey, source: source) {
        case .refuse:
            try? reactor.close(socket)
            return
        case .admitEvicting(let oldest):
            drop(oldest.socket)
        case .admit:
            break
        }
        let timer = try? reactor.startTimer(after: configuration.ticketLimit, tag: socket.packed)
        ends[socket.index] = End(socket: socket, phase: .ticket, timer: timer)
        try? reactor.startReceiving(socket)
    }

    /// An end's timer: it did not show its ticket, or was not joined, in time; a pair was idle
    /// too long; or a finished pair's last moment to flush passed.
    private func timedOut(_ socket: SocketID) {
        guard let end = end(socket) else { return }
        guard case .joined(let partner) = end.phase, let other = self.end(partner), !(end.readEnded && other.readEnded)
        else { return drop(socket) }
        let due = max(end.lastActive, other.lastActive) + configuration.idleLimit
        let left = Deadline.now().nanoseconds(until: due)
        guard left > 0 else { return drop(socket) }
        ends[socket.index]!.timer = try? reactor.startTimer(after: .nanoseconds(Int64(left)), tag: socket.packed)
    }

    private func end(_ socket: SocketID) -> End? {
        guard let end = ends[socket.index], end.socket == socket else { return nil }
        return end
    }

    private func received(_ bytes: Span<UInt8>, on socket: SocketID) {
        guard var end = end(socket) else { return }
        switch end.phase {
        case .joined(let partner):
            forward(bytes, from: socket, to: partner)
        case .waiting(var early):
            guard early.count + bytes.count <= configuration.earlyBytes else { return drop(socket) }
            early.append(span: bytes)
            end.phase = .waiting(early)
            ends[socket.index] = end
        case .ticket:
            end.received.append(span: bytes)
            guard end.received.count >= RelayTicket.bytes else {
                ends[socket.index] = end
                return
            }
            let now = SystemAccess.wallClockSeconds()
            guard
                let ticket = try? RelayTicket(
                    checking: Array(end.received[0..<RelayTicket.bytes]), key: configuration.key, now: now),
                used[ticket.token] == nil
            else { return drop(socket) }
            unproved.ended(ConnectionID(socket: socket))
            let rest = Array(end.received[RelayTicket.bytes...])
            end.received = []
            end.ticket = ticket
            guard let partner = waiting[ticket.token], let other = self.end(partner),
                case .waiting(let theirs) = other.phase
            else {
                guard waiting.count < configuration.maximumWaiting else { return drop(socket) }
                if let timer = end.timer { reactor.cancelTimer(timer) }
                end.timer = try? reactor.startTimer(after: configuration.waitLimit, tag: socket.packed)
                end.phase = .waiting(rest)
                ends[socket.index] = end
                waiting[ticket.token] = socket
                return
            }
            // The same end twice (a copied ticket): the first to come keeps its place.
            guard other.ticket?.end == ticket.end.other, pairs < configuration.maximumPairs, remember(ticket)
            else { return drop(socket) }
            waiting[ticket.token] = nil
            join(end, other, mine: rest, theirs: theirs)
        }
    }

    /// Marks `ticket`'s token as joined until it expires; false when the record is full of
    /// tokens still good (then nothing more joins until some expire).
    private func remember(_ ticket: RelayTicket) -> Bool {
        if used.count >= Self.usedLimit {
            let now = SystemAccess.wallClockSeconds()
            used = used.filter { $0.value >= now }
            guard used.count < Self.usedLimit else { return false }
        }
        used[ticket.token] = ticket.expiresAt
        return true
    }

    private func join(_ a: End, _ b: End, mine: [UInt8], theirs: [UInt8]) {
        for end in [a, b] {
            if let timer = end.timer { reactor.cancelTimer(timer) }
        }
        // One idle timer watches the pair.
        let idle = try? reactor.startTimer(after: configuration.idleLimit, tag: a.socket.packed)
        ends[a.socket.index] = End(socket: a.socket, phase: .joined(b.socket), timer: idle)
        ends[b.socket.index] = End(socket: b.socket, phase: .joined(a.socket))
        pairs += 1
        joinedPairs += 1
        if !theirs.isEmpty { forward(theirs.span, from: b.socket, to: a.socket) }
        if !mine.isEmpty { forward(mine.span, from: a.socket, to: b.socket) }
    }

    /// Queues bytes towards `destination` as far as its send queue has room; the rest waits in the
    /// source's backlog, and the source is not read until `destination` is writable again. A
    /// pair past its byte quota is closed.
    private func forward(_ bytes: Span<UInt8>, from source: SocketID, to destination: SocketID) {
        guard let state = end(source), let other = end(destination) else { return }
        guard state.sent + other.sent + bytes.count <= configuration.pairBytes else { return drop(source) }
        ends[source.index]!.sent += bytes.count
        ends[source.index]!.lastActive = .now()
        guard state.backlog.isEmpty else {
            ends[source.index]!.backlog.append(span: bytes)
            return
        }
        do {
            let room = min(try reactor.sendCapacity(on: destination), bytes.count)
            if room > 0 { try reactor.send(bytes.extracting(0..<room), on: destination) }
            guard room < bytes.count else { return }
            ends[source.index]!.backlog.append(span: bytes.extracting(room...))
            try? reactor.stopReceiving(source)
            try reactor.notifyWhenWritable(destination)
        } catch {
            drop(source)
        }
    }

    /// An end finished sending: its partner reads end of stream after the last byte. Once both
    /// have, the pair is closed after a moment to flush.
    private func ended(_ socket: SocketID) {
        guard let end = end(socket) else { return }
        guard case .joined(let partner) = end.phase, let other = self.end(partner) else { return drop(socket) }
        ends[socket.index]!.readEnded = true
        if end.backlog.isEmpty { try? reactor.shutdownWrite(partner) } // else once the backlog has gone
        if other.readEnded {
            if let timer = end.timer { reactor.cancelTimer(timer) }
            ends[socket.index]!.timer = try? reactor.startTimer(after: .seconds(1), tag: socket.packed)
        }
    }

    /// Closes an end, and its partner if joined.
    private func drop(_ socket: SocketID) {
        guard let end = ends.removeValue(forKey: socket.index) else { return }
        guard end.socket == socket else {
            ends[socket.index] = end
            return
        }
        if let timer = end.timer { reactor.cancelTimer(timer) }
        try? reactor.close(socket)
        switch end.phase {
        case .joined(let partner):
            if self.end(partner) != nil { pairs -= 1 }
            drop(partner)
        case .waiting:
            if let token = end.ticket?.token, waiting[token] == socket { waiting[token] = nil }
        case .ticket:
            unproved.ended(ConnectionID(socket: socket))
        }
    }
}

extension RelaySwitch {
    /// Starts a relay on a thread of its own (it runs for the life of the process); returns once
    /// it listens, with its address, or throws why it could not.
    public static func startThread(listening address: SocketAddress, configuration: Configuration)
        throws(ReactorError) -> SocketAddress
    {
        let outcome = Latch<Result<SocketAddress, ReactorError>>()
        _ = ThreadStarter.start {
            do throws(ReactorError) {
                let relay = try RelaySwitch(listening: address, configuration: configuration)
                outcome.set(.success(relay.address))
                try relay.run()
            } catch {
                outcome.set(.failure(error))
            }
        }
        return try outcome.wait()!.get()
    }
}
