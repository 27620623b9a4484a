import Logging
import Platform
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Framed, authenticated, encrypted connections over one ``Reactor``.
///
/// Listen and connect here; events and frames arrive at your ``TransportDelegate`` while the reactor
/// runs a ``ConnectionsHandler``. Every connection starts with the realm handshake; frames queued in
/// one loop turn leave as one encrypted record (split at ``TransportConfiguration/recordBytes``);
/// both ends keep the connection alive and notice a silent peer within the keep-alive deadline.
///
/// Like its reactor, a `Connections` belongs to one thread.
public final class Connections {
    public let reactor: Reactor
    public let configuration: TransportConfiguration
    /// What this transport proves in its handshakes: the configured identity, or its own.
    public let identity: Identity
    /// The client hellos this transport's listeners took lately.
    let hellos: HelloRecord
    /// Lines for accepted connections that never finished their handshake.
    var refusalLog = LogBudget()
    let logger: Logger

    var connections: [Connection?]
    var listeners: [Listener] = []
    /// Accepted connections not yet past their handshake, bounded per listener and per source.
    var pendingHandshakes: PendingHandshakes
    /// Bytes of unfinished records and frames held over all connections (``TransportConfiguration/receiveMemory``).
    public internal(set) var receiveHeld = 0
    private var freeListeners: [Int] = []
    var connectors: [Connector?] = []
    var freeConnectors: [Int] = []
    /// Connectors finished since events were last delivered: reused only after their last event
    /// reached the owner, so that a connect made meanwhile cannot take over its identifier (and
    /// be told of the finished one's failure).
    var releasedConnectors: [Int] = []
    /// Events waiting for the delegate. The handler drains them after every reactor callback; one
    /// emitted outside a callback (a `listen` before `run`) arms a zero-delay timer (``wakeSoon()``).
    var pending: [TransportEvent] = []
    var pendingTimer: TimerID? = nil
    /// True while a ``ConnectionsHandler`` callback runs (it drains `pending` before returning).
    var dispatching = false
    var flushList: [Int] = []
    /// Where records are sealed before the reactor copies them into its send queue: one buffer for
    /// all connections, since each record is handed over as soon as it is sealed.
    var recordBuffer: [UInt8] = []

    struct Listener {
        let id: ListenerID
        let address: SocketAddress
        var socket: SocketID?
        /// Where it is bound (the kernel's port for port 0), once it is.
        var bound: SocketAddress? = nil
        var backoff = Backoff()
        var retry: TimerID? = nil
        var check: TimerID? = nil
        var closed = false
    }

    struct Connector {
        let id: ConnectorID
        let address: SocketAddress
        /// How long one attempt (connect plus handshake) may take.
        let deadline: Duration
        var backoff: Backoff?
        /// Bytes sent before the handshake (a relay's rendezvous request); empty for none.
        var preface: [UInt8] = []
        /// The handshake role: the client, unless this end meets its peer through a relay as the
        /// accepting side.
        var role: Handshake.Role = .client
        /// Who the far end must prove to be; nil for any member but this process, unless the
        /// address is one of this transport's own listeners.
        var expected: PeerIdentity? = nil
        var connection: ConnectionID? = nil
        var retry: TimerID? = nil
    }

    /// The transport's timers, in its own ``TimerSpace``: the kind above the index it is for.
    enum TimerKind: UInt64 {
        case connection = 1, pending, listenerRetry, connectorRetry, listenerCheck

        func tag(_ index: Int) -> UInt64 { rawValue << 48 | UInt64(index) }

        static func decode(_ tag: UInt64) -> (TimerKind, Int)? {
            guard let kind = TimerKind(rawValue: tag >> 48) else { return nil }
            return (kind, Int(tag & 0xFFFF_FFFF_FFFF))
        }
    }

    /// What a control record carries (its one payload byte): answered by the transport, never
    /// delivered.
    enum Control: UInt8 {
        /// Asks for an answer.
        case probe = 1
        /// Answers a probe.
        case answer = 2
        /// Sent unasked by an end that stopped reading (back-pressure): it is alive, but will not
        /// read a probe, so the peer must not wait for an answer.
        case alive = 3
    }

    /// The transport's own timers: the reactor's other owners choose their tags freely.
    public let timerSpace: TimerSpace

    public init(
        reactor: Reactor, configuration: TransportConfiguration, logger: Logger = Logger(label: "ansar.transport")
    ) {
        self.reactor = reactor
        self.configuration = configuration
        identity = configuration.identity ?? .generate()
        hellos = HelloRecord(capacity: max(1, configuration.helloRecord))
        self.logger = logger
        SystemAccess.turnOffCoreDumps() // it holds the realm secret, and will hold session keys
        timerSpace = reactor.newTimerSpace()
        pendingHandshakes = PendingHandshakes(configuration.pendingHandshakes)
        connections = Array(repeating: nil, count: reactor.limits.sockets)
        flushList.reserveCapacity(reactor.limits.sockets)
    }

    // MARK: - Listening

    /// Listens on `address`; ``TransportEvent/listening(_:_:)`` or
    /// ``TransportEvent/notListening(_:_:_:)`` follows. If the socket is lost (or cannot be bound)
    /// the listener tries again with backoff until ``closeListener(_:)``.
    @discardableResult
    public func listen(on address: SocketAddress) -> ListenerID {
        let index: Int
        let id: ListenerID
        if let free = freeListeners.popLast() {
            index = free
            id = ListenerID(value: index, generation: listeners[index].id.generation &+ 1)
            listeners[index] = Listener(id: id, address: address)
        } else {
            index = listeners.count
            id = ListenerID(value: index, generation: 0)
            listeners.append(Listener(id: id, address: address))
        }
        bind(index)
        return id
    }

    /// Stops listening; established connections stay. The identifier is stale from now on.
    public func closeListener(_ id: ListenerID) {
        guard id.value < listeners.count, listeners[id.value].id == id, !listeners[id.value].closed else { return }
        listeners[id.value].closed = true
        if let retry = listeners[id.value].retry { reactor.cancelTimer(retry) }
        if let check = listeners[id.value].check { reactor.cancelTimer(check) }
        if let socket = listeners[id.value].socket { try? reactor.close(socket) }
        listeners[id.value].socket = nil
        freeListeners.append(id.value)
    }

    func bind(_ index: Int) {
        let address = listeners[index].address
        do {
            let socket = try reactor.listen(on: address)
            listeners[index].socket = socket
            listeners[index].backoff.reset()
            if case .unix = address { scheduleListenerCheck(index) }
            let bound = (try? reactor.localAddress(of: socket)) ?? address
            listeners[index].bound = bound
            emit(.listening(listeners[index].id, bound))
        } catch {
            emit(.notListening(listeners[index].id, address, error))
            scheduleListenerRetry(index)
        }
    }

    /// A listener on a Unix socket path is lost when the path goes (deleted, or replaced by
    /// another file): look every keep-alive deadline and listen anew if so.
    func scheduleListenerCheck(_ index: Int) {
        do {
            listeners[index].check = try reactor.startTimer(
                after: configuration.keepAlive.deadline, tag: TimerKind.listenerCheck.tag(index), in: timerSpace)
        } catch {
            logger.warning(
                "listener path not watched: no timer",
                metadata: ["listener": "\(listeners[index].address)", "reason": "\(error)"])
        }
    }

    func checkListener(_ index: Int, _ timer: TimerID) {
        guard index < listeners.count, listeners[index].check == timer, !listeners[index].closed,
            let socket = listeners[index].socket
        else { return }
        listeners[index].check = nil
        if (try? reactor.boundPathIntact(socket)) == true {
            scheduleListenerCheck(index)
            return
        }
        loseListenerSocket(index, .system(SystemError(ENOENT, "listener path gone")))
        bind(index)
    }

    /// A listener's socket is broken or unreachable: close it and tell the owner why; the caller
    /// then listens anew.
    func loseListenerSocket(_ index: Int, _ error: ReactorError) {
        if let socket = listeners[index].socket { try? reactor.close(socket) }
        listeners[index].socket = nil
        emit(.notListening(listeners[index].id, listeners[index].address, error))
    }

    func scheduleListenerRetry(_ index: Int) {
        guard !listeners[index].closed else { return }
        let delay = listeners[index].backoff.next()
        do {
            listeners[index].retry = try reactor.startTimer(
                after: delay, tag: TimerKind.listenerRetry.tag(index), in: timerSpace)
        } catch {
            // No timer to try again with: say so, as a listener that is not coming back.
            logger.error(
                "listener gives up: no timer to retry with",
                metadata: ["listener": "\(listeners[index].address)", "reason": "\(error)"])
            emit(.notListening(listeners[index].id, listeners[index].address, error))
        }
    }

    // MARK: - Connecting

    /// Connects to `address`; ``TransportEvent/connected(_:connector:)`` follows once the handshake
    /// is done, or ``TransportEvent/notConnected(_:_:retryIn:)`` — ``ReactorError/timedOut`` or
    /// ``CloseReason/handshakeTimeout`` when an attempt takes longer than `deadline` (default: the
    /// configured handshake timeout). With a `backoff` the connector reconnects after every failure
    /// or loss until ``closeConnector(_:)``; the backoff resets after each good connection.
    ///
    /// `preface` goes out before the handshake — the rendezvous request of a ``RelaySwitch``, which
    /// then joins this connection to another one's — and `role` says which end of the handshake
    /// this is: the two ends that meet at a relay both connect, so one of them plays `.server`.
    ///
    /// The far end must prove the identity `expecting` (a listing's publisher); without one, any
    /// member of the realm but this process itself — unless `address` is one of this transport's
    /// own listeners, reached on purpose. A connection that comes back to this process any other
    /// way has been reflected, and is refused ("peer is this process").
    @discardableResult
    public func connect(
        to address: SocketAddress, deadline: Duration? = nil, backoff: Backoff? = nil, preface: [UInt8] = [],
        role: Handshake.Role = .client, expecting: PeerIdentity? = nil
    ) -> ConnectorID {
        let index = freeConnectors.popLast() ?? connectors.count
        if index == connectors.count { connectors.append(nil) }
        let id = ConnectorID(value: index)
        connectors[index] = Connector(
            id: id, address: address, deadline: deadline ?? configuration.handshakeTimeout, backoff: backoff,
            preface: preface, role: role, expected: expecting)
        attempt(index)
        return id
    }

    /// Whom a connector's handshake takes as its peer.
    private func expectation(of connector: Connector) -> Handshake.Expected {
        if let expected = connector.expected { return .exactly(expected) }
        return listeners.contains { !$0.closed && $0.bound.map { Self.reaches($0, connector.address) } ?? false }
            ? .anyone : .anyoneElse
    }

    /// Whether a connection to `address` lands on a listener bound at `bound`: the same address, or
    /// its port on the loopback when it listens on every interface.
    static func reaches(_ bound: SocketAddress, _ address: SocketAddress) -> Bool {
        if bound == address { return true }
        guard bound.isTCP, address.isTCP, bound.port == address.port, let host = address.host else { return false }
        return (bound.host == "0.0.0.0" || bound.host == "::") && (host.hasPrefix("127.") || host == "::1")
    }

    /// Stops a connector: no more attempts; its connection, if up, is closed.
    public func closeConnector(_ id: ConnectorID) {
        guard id.value < connectors.count, let connector = connectors[id.value] else { return }
        if let retry = connector.retry { reactor.cancelTimer(retry) }
        connectors[id.value] = nil
        releasedConnectors.append(id.value)
        if let connection = connector.connection, isOpen(connection) {
            finish(connection, .requested)
        }
    }

    func attempt(_ index: Int) {
        guard let connector = connectors[index] else { return }
        connectors[index]!.retry = nil
        do {
            let socket = try reactor.connect(to: connector.address, deadline: .after(connector.deadline))
            let id = ConnectionID(socket: socket)
            let connection = Connection(
                id: id, role: connector.role, listener: nil, connector: connector.id, configuration: configuration,
                identity: identity, expected: expectation(of: connector),
                keepAlive: configuration.keepAlive(for: connector.address), peer: connector.address.description,
                now: .now())
            connection.phase = .connecting
            connection.preface = connector.preface
            startTimer(for: connection, at: .after(connector.deadline))
            connections[socket.index] = connection
            connectors[index]!.connection = id
        } catch {
            let retryIn = retryOrRelease(index)
            emit(.notConnected(connector.id, .socket(error), retryIn: retryIn))
        }
    }

    /// After a failure or loss: schedules the connector's next attempt if it has a backoff (and
    /// returns the delay), else releases it.
    func retryOrRelease(_ index: Int) -> Duration? {
        guard let connector = connectors[index] else { return nil }
        connectors[index]!.connection = nil
        guard var backoff = connector.backoff else {
            connectors[index] = nil
            releasedConnectors.append(index)
            return nil
        }
        let delay = backoff.next()
        connectors[index]!.backoff = backoff
        do {
            connectors[index]!.retry = try reactor.startTimer(
                after: delay, tag: TimerKind.connectorRetry.tag(index), in: timerSpace)
        } catch {
            // No timer to try again with: the connector is finished, and its owner hears so (no retryIn).
            logger.error(
                "connector gives up: no timer to retry with",
                metadata: ["address": "\(connector.address)", "reason": "\(error)"])
            connectors[index] = nil
            releasedConnectors.append(index)
            return nil
        }
        return delay
    }

    // MARK: - Sending

    /// Queues one frame; everything queued in a loop turn leaves as one record. Throws, queuing
    /// nothing, when the connection's queue is full (``TransportEvent/writable(_:)`` follows), the
    /// body is too large, or the connection is closed. Frames queued during the handshake leave
    /// when it completes.
    public func send(_ header: FrameHeader, body: Span<UInt8>, on connection: ConnectionID) throws(FrameRefused) {
        // One table read: this is the hot path, and every access to the table is checked.
        guard let state = self.connection(connection), !state.closing else { throw .closed }
        let index = connection.socket.index
        guard body.count <= configuration.maximumBody else { throw .tooLarge(body.count) }
        // Within the limit, or the one frame that may go over it: a frame larger than the whole
        // queue goes in whenever the queue is below the limit. And a few small frames queued
        // ahead (the layer above's bookkeeping: a type declaration, a credit frame) count as an
        // empty queue, so they never make the frame after them wait.
        let queued = state.pendingBytes
        let size = FrameHeader.size + body.count
        let limit = configuration.sendQueueBytes
        if queued > Self.smallAhead && (queued >= limit || (queued + size > limit && size <= limit)) {
            state.refusedSend = true
            throw .wouldBlock
        }
        var header = header
        header.bodyLength = body.count
        header.flags.remove(.reserved)
        state.stage(header, body)
        if !state.flushQueued {
            state.flushQueued = true
            flushList.append(index)
            if !dispatching { wakeSoon() }
        }
    }

    /// Queued bytes that still count as an empty queue for the next frame (see ``send(_:body:on:)``).
    static let smallAhead = 4 * 1024

    /// Queues one frame from an array; see ``send(_:body:on:)``.
    public func send(_ header: FrameHeader, body: [UInt8], on connection: ConnectionID) throws(FrameRefused) {
        try send(header, body: body.span, on: connection)
    }

    /// Closes a connection; ``TransportEvent/closed(_:_:)`` follows with ``CloseReason/requested``,
    /// and a connector with a backoff does not reconnect after it — unless `reconnecting`: a reset,
    /// to start the link over.
    ///
    /// A graceful close (the default) sends everything already queued, ends this side of the
    /// stream, and waits for the peer to end its side — at most the keep-alive deadline — so the
    /// peer receives every frame. `graceful: false` closes at once and discards what is queued.
    /// Either way no further sends are accepted.
    public func close(_ connection: ConnectionID, graceful: Bool = true, reconnecting: Bool = false) {
        guard let state = self.connection(connection) else { return }
        if !reconnecting, let connector = state.connector, connector.value < connectors.count {
            connectors[connector.value]?.backoff = nil // closed on purpose: do not come back
        }
        guard graceful, state.phase == .established else {
            finish(connection, .requested)
            return
        }
        guard !state.closing else { return }
        state.closing = true
        startTimer(for: state, at: .after(state.keepAlive.configuration.deadline))
        queueFlush(connection.socket.index)
    }

    /// Stops reading from the peer (back-pressure): TCP then pushes back on the sender. A paused
    /// connection is never declared lost for what it did not read: unread bytes count as the
    /// peer's sign of life.
    public func pauseReceiving(_ connection: ConnectionID) {
        guard let state = self.connection(connection) else { return }
        state.paused = true
        try? reactor.stopReceiving(connection.socket)
    }

    /// Reads from the peer again after ``pauseReceiving(_:)``.
    public func resumeReceiving(_ connection: ConnectionID) {
        guard let state = self.connection(connection) else { return }
        state.paused = false
        try? reactor.startReceiving(connection.socket)
    }

    /// True while the connection is open (connecting, handshaking or established).
    public func isOpen(_ connection: ConnectionID) -> Bool { self.connection(connection) != nil }

    /// Who the peer of an established connection proved to be; nil before the handshake is done
    /// or for a stale identifier.
    public func peerIdentity(of connection: ConnectionID) -> PeerIdentity? { self.connection(connection)?.peerIdentity }

    /// The state of an open connection; nil for a stale identifier.
    func connection(_ id: ConnectionID) -> Connection? {
        guard id.socket.index < connections.count, let state = connections[id.socket.index], state.id == id else {
            return nil
        }
        return state
    }

    // MARK: - Internals

    /// Queues an event for the delegate.
    func emit(_ event: TransportEvent) {
        pending.append(event)
        if !dispatching { wakeSoon() }
    }

    /// Work queued outside a handler callback (before `run`, say) would otherwise wait for the next
    /// event: a zero-delay timer makes the next loop turn come at once and deliver or flush it.
    func wakeSoon() {
        if pendingTimer == nil {
            // From the reserve: without it, queued events would wait for an unrelated one.
            pendingTimer = try? reactor.startTimer(
                after: .zero, tag: TimerKind.pending.tag(0), in: timerSpace, socketBound: true)
        }
    }

    func queueFlush(_ index: Int) {
        let state = connections[index]!
        if !state.flushQueued {
            state.flushQueued = true
            flushList.append(index)
            if !dispatching { wakeSoon() }
        }
    }

    /// Ends a connection on this side and tells the owner: `closed` (we ended it) or `abandoned`
    /// (the peer went away) once established, `notConnected` for an outgoing one that never got
    /// there. An outgoing connection whose connector has a backoff is tried again.
    func finish(_ connection: ConnectionID, _ reason: CloseReason, peerWentAway: Bool = false) {
        guard let state = self.connection(connection) else { return }
        if let timer = state.timer { reactor.cancelTimer(timer) }
        receiveHeld -= state.heldBytes
        connections[connection.socket.index] = nil
        pendingHandshakes.ended(connection)
        try? reactor.close(connection.socket)
        if reason == .tooManyHandshakes {
            // One per stranger in a flood: not a line each at info.
            logger.debug("connection ended", metadata: ["peer": "\(state.peer)", "reason": "\(reason)"])
        } else if state.phase != .established && state.listener != nil {
            // A stranger's refused handshake: at most ten lines a second, and a count of the rest.
            if case .write(let dropped) = refusalLog.admit() {
                var metadata: Logger.Metadata = ["peer": "\(state.peer)", "reason": "\(reason)"]
                if dropped > 0 { metadata["refusals not logged"] = "\(dropped)" }
                logger.info("connection ended", metadata: metadata)
            }
        } else if reason != .requested {
            logger.info("connection ended", metadata: ["peer": "\(state.peer)", "reason": "\(reason)"])
        }
        if state.phase == .established {
            emit(peerWentAway ? .abandoned(connection, reason) : .closed(connection, reason))
            if let connector = state.connector { _ = retryOrRelease(connector.value) }
        } else if let connector = state.connector, let id = connectors[connector.value]?.id {
            emit(.notConnected(id, reason, retryIn: retryOrRelease(connector.value)))
        }
        // A server-side connection that never finished its handshake was never announced: the log
        // line above is all there is to say.
    }
}
