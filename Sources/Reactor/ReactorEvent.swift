/// What a reactor tells the owner of an operation. Every failure arrives here or as a thrown
/// ``ReactorError``: nothing is dropped without someone being told.
public enum ReactorEvent: Sendable, Equatable {
    /// A listener accepted a connection; `socket` is new and open, not yet receiving.
    case accepted(SocketID, listener: SocketID)
    /// A listener could not accept (out of descriptors, socket limit…). It keeps listening and
    /// retries after a short pause; the refused peer, if any, sees its connection closed.
    case acceptFailed(listener: SocketID, ReactorError)
    /// An outgoing connection is established.
    case connected(SocketID)
    /// An outgoing connection failed (refused, unreachable, ``ReactorError/timedOut``). The socket
    /// is already released; its identifier is stale.
    case connectFailed(SocketID, ReactorError)
    /// No more bytes will arrive: `nil` for an orderly end of stream, else why (reset by peer…).
    case receiveEnded(SocketID, ReactorError?)
    /// Queued bytes could not be sent (peer closed mid-send, reset…); `unsentBytes` were discarded.
    case sendFailed(SocketID, ReactorError, unsentBytes: Int)
    /// A send was refused for lack of room, and the queue has since drained to half its limit or
    /// less: send again.
    case writable(SocketID)
    /// The socket is closed and its identifier stale; `discardedBytes` of queued output were not sent.
    case closed(SocketID, discardedBytes: Int)
    /// Datagrams wait on a datagram socket (see ``Reactor/openDatagramSocket(port:)``): take them
    /// with ``Reactor/receiveDatagram(on:)`` until it returns nil; the reactor tells again when more come.
    case datagramsReadable(SocketID)
    /// A timer's deadline passed.
    case timer(TimerID, tag: UInt64)
    /// A watched signal arrived (see ``Reactor/watchSignals(_:)``).
    case signal(Int32)
    /// Another thread woke the reactor through its ``Waker``: drain your inboxes.
    case woken
}

/// The owner of a reactor's operations. The reactor calls it only in its run phase, never while
/// reaping, with the reactor itself so the handler can start further operations.
public protocol ReactorHandler {
    /// An event for one of the handler's sockets or timers, a signal, or a wake-up.
    mutating func handle(_ event: ReactorEvent, reactor: Reactor)
    /// Bytes received on `socket`. The span borrows a reactor buffer that is recycled when this
    /// returns: copy what you need to keep.
    mutating func received(_ bytes: Span<UInt8>, on socket: SocketID, reactor: Reactor)
    /// The run phase of a loop turn is over; what is sent now leaves with this turn's other output.
    /// Layers that batch (e.g. one encrypted record per turn) flush here. Optional.
    mutating func turnEnded(reactor: Reactor)
}

extension ReactorHandler {
    public mutating func turnEnded(reactor: Reactor) {}
}
