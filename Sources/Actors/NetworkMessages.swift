/// A listener is bound; `address` is the real one (with the kernel's port for port 0).
public struct Listening: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.Listening"
    public var requested: SocketAddress
    public var address: SocketAddress
}

/// A listener could not bind; it tries again.
public struct NotListening: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.NotListening"
    public var requested: SocketAddress
    public var reason: String
}

/// A peer connected to a listener. Its return address reaches the peer's connecting object.
public struct Accepted: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.Accepted"
    public var listening: SocketAddress
    /// The connection's two ends: the peer's address, and this side's (the interface it reached
    /// us on); nil for Unix sockets, whose ends have no useful name.
    public var peer: SocketAddress?
    public var local: SocketAddress?
    /// Over a Unix socket, the peer's process, by the kernel's word (nil over TCP).
    public var peerProcess: Int32? = nil
    /// Who the peer proved to be in the handshake (its ``Identity``).
    public var peerIdentity: PeerIdentity
}

/// A connection is up. Its return address reaches the far end's listening object.
public struct Connected: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.Connected"
    public var requested: SocketAddress
    /// This side's address on the connection (the interface the route chose); see ``Accepted/local``.
    public var local: SocketAddress?
    /// The connector, as ``Context/connect(to:backoff:deadline:preface:role:expecting:)`` returned it: tells apart
    /// connections to one address.
    public var connector: ConnectorID
    /// Who the far end proved to be in the handshake (its ``Identity``).
    public var peerIdentity: PeerIdentity
}

/// A connection attempt failed; with a backoff it is tried again after `retryInSeconds`.
public struct NotConnected: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.NotConnected"
    public var requested: SocketAddress
    public var reason: String
    public var retryInSeconds: Double?
    /// The connector; see ``Connected/connector``.
    public var connector: ConnectorID
}

/// This side closed a connection (asked for, or for bad input: the reason says).
public struct Closed: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.Closed"
    public var reason: String
    /// Messages sent over it that the far end had not confirmed taking, by sender and
    /// destination (each sender is also told its own, ``NotConfirmed``).
    public var unconfirmed: [UnconfirmedMessages] = []
}

/// The peer went away: it closed, the connection broke, or it fell silent past the keep-alive bound.
public struct Abandoned: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.Abandoned"
    public var reason: String
    /// See ``Closed/unconfirmed``.
    public var unconfirmed: [UnconfirmedMessages] = []
}

/// How many messages one sender sent to one object beyond a connection, which that object's
/// process had not confirmed taking when the connection was lost. Confirmed messages were taken
/// by the object; unconfirmed ones may have been lost, or taken just before the loss (the
/// confirmation of a process's last turn may not get out): at most once, never silent.
public struct UnconfirmedMessages: Codable, Sendable, Equatable {
    public var sender: Address
    public var destination: Address
    public var count: Int
}

/// Sent to each object with messages unconfirmed on a connection that is gone: `count` of those
/// it sent to `destination` were not confirmed (see ``UnconfirmedMessages``). From the
/// connection's owner address, like ``Abandoned``.
public struct NotConfirmed: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.NotConfirmed"
    public var destination: Address
    public var count: Int
    public var reason: String
}

/// A connection that refused a send with ``SendRefused/linkBusy(_:)`` has room again — its send
/// queue drained, or the destination's process granted credit — sent, from the connection's
/// owner address, to each object it refused.
public struct Writable: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.Writable"
    public init() {}
}

/// One datagram on a socket this object opened, with its sender.
public struct DatagramReceived: LocalOnlyMessage {
    public static let typeName = "ansar.DatagramReceived"
    public var socket: DatagramSocketID
    public var bytes: [UInt8]
    public var from: SocketAddress
}
