import Cryptography
import Platform
import Reactor
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A rendezvous relay for two ends that cannot reach each other: both connect to it and send the
/// same 16-byte token (``preface(token:)``); it joins the two connections and copies bytes both ways
/// without looking at them. The ends then run the ordinary realm handshake across it (one of them
/// as the server, see ``Connections/connect(to:deadline:backoff:preface:role:)``), so their session
/// keys come from an ephemeral exchange the relay never sees: the traffic is encrypted end to end,
/// and the relay needs no secret at all. The token is the only credential, handed to the two ends
/// over their (encrypted) directory links.
///
/// Bounded everywhere: ends waiting for a partner, how long they wait, what they may send before
/// the partner comes, and what is queued towards a slow end (the reactor's send queue; the fast end
/// is not read meanwhile).
/// Runs on a reactor of its own: `RelaySwitch(listening:).run()` on a dedicated thread.
public final class RelaySwitch {
    public struct Configuration: Sendable {
        /// Connections that sent no (or half a) preface, or wait for their partner.
        public var maximumWaiting = 1024
        /// How long an end may take to send its preface and be joined.
        public var waitLimit = Duration.seconds(10)
        /// Bytes an end may send before its partner arrives (its handshake hello, typically).
        public var earlyBytes = 64 * 1024
        public init() {}
    }

    static let magic: [UInt8] = Array("ANSR".utf8)
    static let version: UInt8 = 1
    public static let tokenBytes = 16
    static let prefaceBytes = 8 + tokenBytes

    /// What an end sends first: magic, version, three zero bytes, the token.
    public static func preface(token: [UInt8]) -> [UInt8] {
        precondition(token.count == tokenBytes, "a relay token is \(tokenBytes) bytes")
        return magic + [version, 0, 0, 0] + token
    }

    /// A fresh random token for one rendezvous.
    public static func newToken() -> [UInt8] { Sodium.randomBytes(tokenBytes) }

    private enum Phase {
        /// Reading the preface.
        case preface
        /// Preface read; bytes that came after it wait for the partner.
        case waiting([UInt8])
        case joined(SocketID)
    }

    private struct End {
        let socket: SocketID
        var phase: Phase
        var received: [UInt8] = []
        var timer: TimerID?
        var token: [UInt8] = []
        /// Bytes from this end that did not fit in the partner's send queue; this end is not read
        /// until they have gone.
        var backlog: [UInt8] = []
        /// This end finished sending (its end of stream was passed on to the partner).
        var readEnded = false
    }

    public let reactor: Reactor
    public let configuration: Configuration
    /// Where it listens (with the kernel's port if asked for port 0).
    public let address: SocketAddress
    private let listener: SocketID
    private var ends: [Int: End] = [:]
    private var waiting: [[UInt8]: SocketID] = [:]
    private var unjoined = 0
    /// Joined pairs so far (for tests and logs).
    public private(set) var joinedPairs = 0

    public init(
        listening address: SocketAddress, configuration: Configuration = Configuration(), reactor: Reactor? = nil
    ) throws(ReactorError) {
        if let reactor {
            self.reactor = reactor
        } else {
            self.reactor = try Reactor()
        }
        self.configuration = configuration
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
            guard unjoined < configuration.maximumWaiting else {
                try? reactor.close(socket)
                return
            }
            unjoined += 1
            let timer = try? reactor.startTimer(after: configuration.waitLimit, tag: socket.packed)
            ends[socket.index] = End(socket: socket, phase: .preface, timer: timer)
            try? reactor.startReceiving(socket)
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
            // An end that was not joined in time, or a finished pair's last moment to flush.
            if let socket = SocketID(packed: tag) { drop(socket) }
        default:
            break
        }
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
        case .preface:
            end.received.append(span: bytes)
            guard end.received.count >= Self.prefaceBytes else {
                ends[socket.index] = end
                return
            }
            let preface = Array(end.received[0..<Self.prefaceBytes])
            guard Array(preface[0..<4]) == Self.magic, preface[4] == Self.version else { return drop(socket) }
            let token = Array(preface[8...])
            let rest = Array(end.received[Self.prefaceBytes...])
            end.received = []
            end.token = token
            guard let partner = waiting.removeValue(forKey: token), let other = self.end(partner),
                case .waiting(let theirs) = other.phase
            else {
                end.phase = .waiting(rest)
                ends[socket.index] = end
                waiting[token] = socket
                return
            }
            join(end, other, mine: rest, theirs: theirs)
        }
    }

    private func join(_ a: End, _ b: End, mine: [UInt8], theirs: [UInt8]) {
        for end in [a, b] {
            if let timer = end.timer { reactor.cancelTimer(timer) }
        }
        ends[a.socket.index] = End(socket: a.socket, phase: .joined(b.socket))
        ends[b.socket.index] = End(socket: b.socket, phase: .joined(a.socket))
        unjoined -= 2
        joinedPairs += 1
        if !theirs.isEmpty { forward(theirs.span, from: b.socket, to: a.socket) }
        if !mine.isEmpty { forward(mine.span, from: a.socket, to: b.socket) }
    }

    /// Queues bytes towards `destination` as far as its send queue has room; the rest waits in the
    /// source's backlog, and the source is not read until `destination` is writable again.
    private func forward(_ bytes: Span<UInt8>, from source: SocketID, to destination: SocketID) {
        guard let state = end(source) else { return }
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
            drop(partner)
        case .waiting:
            if waiting[end.token] == socket { waiting[end.token] = nil }
            unjoined -= 1
        case .preface:
            unjoined -= 1
        }
    }
}

extension RelaySwitch {
    /// Starts a relay on a thread of its own (it runs for the life of the process); returns once
    /// it listens, with its address, or throws why it could not.
    public static func startThread(listening address: SocketAddress, configuration: Configuration = Configuration())
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
