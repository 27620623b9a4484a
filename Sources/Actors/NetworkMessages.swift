/// A listener is bound; `address` is the real one (with the kernel's port for port 0).
public struct Listening: Message, Equatable {
    public static let typeName = "ansar.Listening"
    public var requested: String
    public var address: String
}

/// A listener could not bind; it tries again.
public struct NotListening: Message, Equatable {
    public static let typeName = "ansar.NotListening"
    public var requested: String
    public var reason: String
}

/// A peer connected to a listener. Its return address reaches the peer's connecting object.
public struct Accepted: Message, Equatable {
    public static let typeName = "ansar.Accepted"
    public var listening: String
    /// The connection's two ends: the peer's address, and this side's (the interface it reached
    /// us on). Empty where the socket has none to tell (abstract Unix sockets).
    public var peer = ""
    public var local = ""
}

/// A connection is up. Its return address reaches the far end's listening object.
public struct Connected: Message, Equatable {
    public static let typeName = "ansar.Connected"
    public var requested: String
    /// This side's address on the connection (the interface the route chose); see ``Accepted/local``.
    public var local = ""
    /// The connector, as ``Context/connect(to:backoff:deadline:preface:role:)`` returned it: tells apart
    /// connections to one address.
    public var connector = 0
}

/// A connection attempt failed; with a backoff it is tried again after `retryInSeconds`.
public struct NotConnected: Message, Equatable {
    public static let typeName = "ansar.NotConnected"
    public var requested: String
    public var reason: String
    public var retryInSeconds: Double?
    /// The connector; see ``Connected/connector``.
    public var connector = 0
}

/// This side closed a connection (asked for, or for bad input: the reason says).
public struct Closed: Message, Equatable {
    public static let typeName = "ansar.Closed"
    public var reason: String
}

/// The peer went away: it closed, the connection broke, or it fell silent past the keep-alive bound.
public struct Abandoned: Message, Equatable {
    public static let typeName = "ansar.Abandoned"
    public var reason: String
}

/// A connection that refused a send with ``SendRefused/linkBusy(_:)`` has room again: sent, from
/// an address on that connection, to each object it refused.
public struct Writable: Message, Equatable {
    public static let typeName = "ansar.Writable"
    public init() {}
}
