import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// One connection of a ``Connections``: stale once the connection has closed.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    public let socket: SocketID
    public var description: String { "connection#\(socket.index)" }

    /// The connection on `socket` (stale unless the transport opened one there).
    public init(socket: SocketID) { self.socket = socket }
}

/// One listener of a ``Connections``; it keeps its identifier across re-listens, and the identifier
/// goes stale once the listener is closed (its slot may serve a later listener).
public struct ListenerID: Hashable, Sendable, CustomStringConvertible {
    public let value: Int
    let generation: UInt32
    public var description: String { "listener#\(value).\(generation)" }
}

/// What a transport tells its owner. The actor layer turns these into messages.
public enum TransportEvent: Sendable, Equatable {
    /// A listener is bound (with the kernel's port for port 0) and accepting.
    case listening(ListenerID, SocketAddress)
    /// A listener could not be set up (or re-set up); a managed one tries again.
    case notListening(ListenerID, SocketAddress, ReactorError)
    /// A peer connected to a listener and passed the handshake.
    case accepted(ConnectionID, listener: ListenerID)
    /// An outgoing connection is up and past the handshake.
    case connected(ConnectionID, connector: ConnectorID)
    /// An outgoing connection failed before it was up. A connector with a backoff tries again
    /// after `retryIn`; without one (`nil`) it is finished.
    case notConnected(ConnectorID, CloseReason, retryIn: Duration?)
    /// The connection was closed by this side: asked for, or refused for bad input (the reason says).
    case closed(ConnectionID, CloseReason)
    /// The peer went away: end of stream, reset, or silent past the keep-alive deadline.
    case abandoned(ConnectionID, CloseReason)
    /// A send was refused for lack of room and the queue has drained: send again.
    case writable(ConnectionID)
}

/// One outgoing connection request. With a backoff it reconnects until closed, keeping its identifier.
public struct ConnectorID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let value: Int
    public var description: String { "connector#\(value)" }
}

/// Why ``Connections/send(_:body:on:)`` refused a frame. Nothing was queued.
public enum FrameRefused: Error, Equatable, Sendable {
    /// The connection's queue is full; ``TransportEvent/writable(_:)`` follows when it drains.
    case wouldBlock
    /// The body is over the configured maximum.
    case tooLarge(Int)
    /// The connection is closed (the identifier is stale).
    case closed
}

/// Why a connection ended or never started.
public enum CloseReason: Sendable, Equatable, CustomStringConvertible {
    /// The owner closed it.
    case requested
    /// The socket layer failed: refused, reset, deadline passed…
    case socket(ReactorError)
    /// The peer broke the protocol or the handshake; the connection was closed for it.
    case protocolError(TransportError)
    /// The peer ended the stream.
    case endOfStream
    /// The handshake did not finish in time.
    case handshakeTimeout
    /// An accepted connection still unproved, let go for a newer one: its listener had
    /// ``PendingHandshakes/Configuration/perListener`` such connections.
    case tooManyHandshakes
    /// The Unix socket at the other end belongs to another user (``TransportConfiguration/localPeers``):
    /// a name taken by someone else's process, not a peer.
    case foreignUser(UInt32)
    /// Its unfinished frames were the most of the transport's, which held more than
    /// ``TransportConfiguration/receiveMemory``: let go so that the others can be received.
    case receiveMemoryFull(held: Int)

    public var description: String {
        switch self {
        case .requested: return "closed on request"
        case .socket(let error): return "\(error)"
        case .protocolError(let error): return "\(error)"
        case .endOfStream: return "peer ended the stream"
        case .handshakeTimeout: return "handshake timed out"
        case .tooManyHandshakes: return "too many connections still handshaking: the oldest let go"
        case .foreignUser(let user): return "the socket's other end belongs to user \(user), not this one"
        case .receiveMemoryFull(let held):
            return "holding \(held) bytes of unfinished frames, the most of a transport over its receive budget"
        }
    }
}

/// Which users' processes a transport takes as peers over Unix sockets.
public enum LocalPeers: Sendable, Equatable {
    /// This process's effective user, and root.
    case sameUser
    /// Any user (a host shared by several users' groups, each proving the realm).
    case anyUser

    /// Whether a peer with `credentials` (nil: not a Unix socket) may be one.
    func admits(_ credentials: PeerCredentials?) -> Bool {
        guard self == .sameUser, let credentials else { return true }
        return credentials.user == geteuid() || credentials.user == 0
    }
}

/// Settings shared by every connection of a transport.
public struct TransportConfiguration: Sendable {
    /// The deployment's secret; both ends of every connection must hold it.
    public var secret: RealmSecret
    /// The static key this side proves in every handshake (``Identity``): one issued for the
    /// role, or nil for a fresh one each transport makes for itself when it starts.
    public var identity: Identity? = nil
    /// Encrypt records (the default). Plaintext needs both ends configured for it.
    public var encrypted = true
    /// The largest frame body accepted or sent.
    public var maximumBody = FrameHeader.defaultMaximumBody
    /// Bytes a connection may hold queued before sends are refused — plus one frame, always: a
    /// frame larger than what is left is taken whenever at most 4 KiB (small frames of the layer
    /// above's bookkeeping) is queued, and a frame larger than this whenever less than this is.
    public var sendQueueBytes = 1 << 20
    /// The largest record sealed at once; bigger output is split across records.
    public var recordBytes = 256 * 1024
    /// Keep-alive timings of connections over Unix sockets (the same host), on both ends: a dead
    /// or frozen peer is noticed within 1.5 s.
    public var keepAlive = KeepAlive.Configuration()
    /// Keep-alive timings of connections over TCP (LAN and WAN): probe after 1 s of quiet, lost
    /// after 4 s. The 3 s answer window rides out TCP's retransmissions of a lost probe or answer
    /// (200 + 400 + 800 ms and more on a lossy path) and a round trip across a continent, where
    /// Unix-socket timings would drop healthy links.
    public var networkKeepAlive = KeepAlive.Configuration(probeAfter: .seconds(1), deadline: .seconds(4))
    /// The slowest a frame may arrive once begun (against peers that trickle bytes).
    public var minimumRate = MinimumRate.Configuration()
    /// How long a handshake may take.
    public var handshakeTimeout = Duration.seconds(5)
    /// How long an accepted connection may take to prove it holds the secret (at most
    /// `handshakeTimeout`): short, as strangers may hold connections open for it.
    public var acceptedHandshakeTimeout = Duration.seconds(2)
    /// How many client hellos the transport remembers, to refuse one sent again (a replay).
    public var helloRecord = 16_384
    /// Bounds on accepted connections still handshaking, per listener and per source address.
    public var pendingHandshakes = PendingHandshakes.Configuration()
    /// Who may be at the other end of a Unix socket, by the kernel's word (`SO_PEERCRED`): this
    /// process's user and root by default, so that another user's process that took a name first
    /// (abstract names have no permissions) is refused before any handshake, either way round.
    public var localPeers = LocalPeers.sameUser
    /// Bytes of unfinished records and frames all connections of the transport may hold at once
    /// (each is bounded by `maximumBody` too): past it, the connection holding the most is closed
    /// (``CloseReason/receiveMemoryFull(held:)``), so that a member's thousand links with a
    /// partial 16 MiB frame each cannot take the process's memory.
    public var receiveMemory = 256 << 20
    /// When to rekey records.
    public var rekey = RekeyPolicy()

    public init(secret: RealmSecret) {
        self.secret = secret
    }

    /// The keep-alive timings for a connection to or from `address`.
    public func keepAlive(for address: SocketAddress) -> KeepAlive.Configuration {
        address.isTCP ? networkKeepAlive : keepAlive
    }
}

/// The owner of a transport's connections.
public protocol TransportDelegate {
    /// A connection or listener event.
    mutating func transport(_ connections: Connections, event: TransportEvent)
    /// A whole frame arrived. The body borrows a transport buffer: copy what you keep.
    mutating func transport(
        _ connections: Connections, received header: FrameHeader, body: Span<UInt8>, on connection: ConnectionID)
    /// A reactor event the transport does not own (the owner's timers, signals, wake-ups).
    mutating func transport(_ connections: Connections, reactorEvent: ReactorEvent)
}

extension TransportDelegate {
    public mutating func transport(_ connections: Connections, reactorEvent: ReactorEvent) {}
}
