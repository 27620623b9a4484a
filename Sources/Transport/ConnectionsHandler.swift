import Cryptography
import Platform
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a ``Connections`` on its reactor: pass it to `reactor.run(&handler)`. It turns reactor
/// events into handshakes, frames, keep-alive and ``TransportEvent``s for `delegate`, and hands on
/// the reactor events it does not own (your timers, signals, wake-ups).
public struct ConnectionsHandler<Delegate: TransportDelegate>: ReactorHandler {
    public let connections: Connections
    public var delegate: Delegate

    public init(connections: Connections, delegate: Delegate) {
        self.connections = connections
        self.delegate = delegate
    }

    public mutating func handle(_ event: ReactorEvent, reactor: Reactor) {
        connections.dispatching = true
        defer { drain() }
        switch event {
        case .accepted(let socket, let listenerSocket):
            connections.accepted(socket, on: listenerSocket)
        case .acceptFailed(let listenerSocket, let error):
            connections.acceptFailed(on: listenerSocket, error)
        case .connected(let socket):
            connections.connected(socket)
        case .connectFailed(let socket, let error):
            connections.finish(ConnectionID(socket: socket), .socket(error))
        case .receiveEnded(let socket, let error):
            connections.receiveEnded(socket, error)
        case .sendFailed(let socket, let error, _):
            connections.finish(ConnectionID(socket: socket), .socket(error), peerWentAway: true)
        case .writable(let socket):
            if connections.isOpen(ConnectionID(socket: socket)) { connections.queueFlush(socket.index) }
        case .closed:
            break // the transport already told the owner when it decided to close
        case .timer(let timer, let tag):
            if timer.space == connections.timerSpace, let (kind, index) = Connections.TimerKind.decode(tag) {
                connections.timerFired(kind, index, timer)
            } else {
                delegate.transport(connections, reactorEvent: event)
            }
        case .signal, .woken, .datagramsReadable:
            delegate.transport(connections, reactorEvent: event)
        }
    }

    public mutating func received(_ bytes: Span<UInt8>, on socket: SocketID, reactor: Reactor) {
        connections.dispatching = true
        defer { drain() }
        connections.received(bytes, on: socket, delegate: &delegate)
    }

    /// Seals and sends what the turn produced. An owner that runs its own queue at the end of the
    /// turn does so first (see ``holdingEvents(_:)``), so that what it sends leaves with this
    /// turn's output, without an extra loop turn.
    public mutating func turnEnded(reactor: Reactor) {
        connections.dispatching = true
        connections.flush()
        drain()
    }

    /// Runs `work` — the owner's own queue — with the transport's events held until it returns:
    /// what it sends, closes or has refused is told to the delegate after it, not in its middle.
    public mutating func holdingEvents(_ work: () -> Void) {
        connections.dispatching = true
        work()
        drain()
    }

    private mutating func drain() {
        connections.deliverPending(to: &delegate)
        connections.dispatching = false
    }
}

extension Connections {
    func accepted(_ socket: SocketID, on listenerSocket: SocketID) {
        guard let listener = listeners.first(where: { $0.socket == listenerSocket && !$0.closed }) else {
            try? reactor.close(socket)
            return
        }
        let peerAddress = try? reactor.peerAddress(of: socket)
        let peer = peerAddress?.description ?? "unknown peer"
        let id = ConnectionID(socket: socket)
        let credentials = try? reactor.peerCredentials(of: socket)
        guard configuration.localPeers.admits(credentials) else {
            logger.debug(
                "connection refused: another user's process",
                metadata: ["listener": "\(listener.address)", "user": "\(credentials?.user ?? 0)"])
            try? reactor.close(socket)
            return
        }
        switch pendingHandshakes.admit(id, listener: listener.id, source: peerAddress?.host) {
        case .refuse:
            // Its source has its share of unproved connections: no state, no key pair, no log line
            // per attempt beyond debug (a flood would write one each).
            logger.debug("connection refused: too many handshakes from its source", metadata: ["peer": "\(peer)"])
            try? reactor.close(socket)
            return
        case .admitEvicting(let oldest):
            finish(oldest, .tooManyHandshakes)
        case .admit:
            break
        }
        let connection = Connection(
            id: id, role: .server, listener: listener.id, connector: nil,
            // The connecting end knows where it meant to go: it refuses a reflection.
            configuration: configuration, identity: identity, expected: .anyone, hellos: hellos,
            keepAlive: configuration.keepAlive(for: listener.address),
            peer: peer,
            now: .now())
        // A stranger's connection is held briefly: a member's handshake is a round trip.
        startTimer(
            for: connection, at: .after(min(configuration.handshakeTimeout, configuration.acceptedHandshakeTimeout)))
        connections[socket.index] = connection
        try? reactor.startReceiving(socket)
    }

    func acceptFailed(on listenerSocket: SocketID, _ error: ReactorError) {
        guard let index = listeners.firstIndex(where: { $0.socket == listenerSocket }) else { return }
        let transient: Bool
        switch error {
        case .system(let failure):
            transient = [EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED, EPERM, EINTR].contains(failure.code)
        case .limitReached: transient = true
        default: transient = false
        }
        if transient {
            // The reactor pauses (50 ms) and accepts again by itself; a peer was refused meanwhile.
            logger.warning(
                "accept failed: a connecting peer was refused",
                metadata: ["listener": "\(listeners[index].address)", "reason": "\(error)"])
        } else {
            // The listening socket itself is broken: drop it and listen anew.
            loseListenerSocket(index, error)
            scheduleListenerRetry(index)
        }
    }

    func connected(_ socket: SocketID) {
        let id = ConnectionID(socket: socket)
        guard let state = connection(id) else { return }
        if let credentials = try? reactor.peerCredentials(of: socket), !configuration.localPeers.admits(credentials) {
            return finish(id, .foreignUser(credentials.user))
        }
        state.phase = .handshaking
        try? reactor.startReceiving(socket)
        if !state.preface.isEmpty {
            sendRaw(state.preface, on: id)
            state.preface = []
        }
        if let hello = state.handshake?.start() {
            sendRaw(hello, on: id)
        }
    }

    func receiveEnded(_ socket: SocketID, _ error: ReactorError?) {
        let id = ConnectionID(socket: socket)
        guard let connection = connection(id) else { return }
        if let error {
            finish(id, .socket(error), peerWentAway: true)
            return
        }
        if connection.closing {
            finish(id, .requested) // the peer ended its side after ours: the close is complete
            return
        }
        guard connection.phase == .established else {
            // A server refuses a bad handshake by closing without a word: say what that means.
            finish(
                id,
                .protocolError(
                    .handshake("peer closed the connection during the handshake (another realm, or encryption mode?)")))
            return
        }
        do throws(TransportError) {
            try connection.opener?.finish()
            try connection.decoder.finish()
            finish(id, .endOfStream, peerWentAway: true)
        } catch {
            finish(id, .protocolError(error), peerWentAway: true)
        }
    }

    /// Delivers queued events; the delegate may cause more, which are delivered too.
    func deliverPending<Delegate: TransportDelegate>(to delegate: inout Delegate) {
        var index = 0
        while index < pending.count {
            let event = pending[index]
            index += 1
            delegate.transport(self, event: event)
        }
        pending.removeAll(keepingCapacity: true)
        freeConnectors += releasedConnectors
        releasedConnectors.removeAll(keepingCapacity: true)
    }

    func received<Delegate: TransportDelegate>(_ bytes: Span<UInt8>, on socket: SocketID, delegate: inout Delegate) {
        let id = ConnectionID(socket: socket)
        guard let state = connection(id) else { return }
        var offset = 0
        if state.phase == .handshaking, state.handshake != nil {
            do throws(TransportError) {
                let (used, step) = try state.handshake!.receive(bytes)
                offset = used
                switch step {
                case .needMore:
                    return
                case .send(let reply):
                    // A server sends only to a hello that proved the realm secret: a member, no
                    // longer a stranger a flood of newer connections may push out.
                    if state.role == .server { pendingHandshakes.ended(id) }
                    sendRaw(reply, on: id)
                    return
                case .established(let keys, let reply):
                    if let reply { sendRaw(reply, on: id) }
                    guard isOpen(id) else { return }
                    established(state, keys)
                    // The owner hears `accepted`/`connected` before any frame that came with it.
                    deliverPending(to: &delegate)
                    guard isOpen(id) else { return }
                }
            } catch {
                finish(id, .protocolError(error))
                return
            }
        }
        guard offset < bytes.count, isOpen(id) else { return }
        receivedRecords(bytes.extracting(offset...), on: state, delegate: &delegate)
    }

    /// Handshake bytes go straight to the socket, before any record.
    private func sendRaw(_ bytes: [UInt8], on id: ConnectionID) {
        do {
            try reactor.send(bytes, on: id.socket)
        } catch {
            finish(id, .socket(error))
        }
    }

    private func established(_ state: Connection, _ keys: HandshakeKeys) {
        state.handshake = nil
        state.peerIdentity = keys.peer
        pendingHandshakes.ended(state.id)
        if keys.encrypted {
            state.sealer = RecordSealer(key: keys.transmit, policy: configuration.rekey, algorithm: keys.algorithm)
            state.opener = RecordOpener(
                key: keys.receive, maximumRecord: configuration.recordBytes + AEAD.tagBytes,
                policy: configuration.rekey,
                algorithm: keys.algorithm)
        } else {
            state.sealer = RecordSealer(plaintext: ())
            state.opener = RecordOpener(plaintextWithMaximumRecord: configuration.recordBytes)
        }
        state.phase = .established
        state.keepAlive.heard(at: .now())
        startTimer(for: state, at: state.keepAlive.armNextCheck())
        if let listener = state.listener {
            emit(.accepted(state.id, listener: listener))
        } else if let connector = state.connector, connectors[connector.value] != nil {
            connectors[connector.value]!.backoff?.reset()
            emit(.connected(state.id, connector: connector))
        }
        if state.pendingBytes > 0 { queueFlush(state.id.socket.index) }
    }

    /// Established traffic: records → frames → the delegate; control records answered here.
    private func receivedRecords<Delegate: TransportDelegate>(
        _ bytes: Span<UInt8>, on state: Connection, delegate: inout Delegate
    ) {
        let id = state.id
        // Take the decoders out while frames are delivered: the delegate may send on, or close,
        // this very connection, which must not overlap an access to its state.
        var decoder = FrameDecoder(maximumBody: 0)
        swap(&decoder, &state.decoder)
        guard var opener = state.opener else { return }
        state.opener = nil
        var records = 0
        var failure: TransportError? = nil
        do throws(TransportError) {
            try opener.feed(bytes) { kind, payload throws(TransportError) in
                records += 1
                switch kind {
                case .data:
                    try decoder.feed(payload) { header, body in
                        self.deliver(header, body, from: state, delegate: &delegate)
                    }
                case .control:
                    try self.control(payload, on: state)
                }
            }
        } catch {
            failure = error
        }
        guard isOpen(id) else { return } // the delegate closed it
        swap(&decoder, &state.decoder)
        state.opener = opener
        if let failure {
            finish(id, .protocolError(failure))
            return
        }
        // Every authenticated record is a sign of life; the rate rule watches frames left open.
        let now = Deadline.now()
        if records > 0, state.keepAlive.heard(at: now) { startTimer(for: state, at: state.keepAlive.armNextCheck()) }
        state.minimumRate.received(
            payload: max(0, bytes.count - records * opener.overhead),
            incomplete: opener.bufferedBytes > 0 || state.decoder.bufferedBytes > 0, at: now)
        hold(opener.bufferedBytes + state.decoder.bufferedBytes, by: state)
    }

    /// Counts what `state` holds unfinished into the receive budget; over it, the connection that
    /// holds the most goes.
    private func hold(_ bytes: Int, by state: Connection) {
        receiveHeld += bytes - state.heldBytes
        state.heldBytes = bytes
        guard receiveHeld > configuration.receiveMemory else { return }
        var largest = state
        for case let other? in connections where other.heldBytes > largest.heldBytes { largest = other }
        logger.warning(
            "receive budget exceeded: the largest holder is let go",
            metadata: [
                "peer": "\(largest.peer)", "held": "\(largest.heldBytes)", "budget": "\(configuration.receiveMemory)",
            ])
        finish(largest.id, .receiveMemoryFull(held: largest.heldBytes))
    }

    private func deliver<Delegate: TransportDelegate>(
        _ header: FrameHeader, _ body: Span<UInt8>, from state: Connection, delegate: inout Delegate
    ) {
        // Still open? The delegate may have closed it while an earlier frame of this batch was delivered.
        guard connections[state.id.socket.index] === state else { return }
        delegate.transport(self, received: header, body: body, on: state.id)
    }

    /// A control record from the peer: a probe is answered at this turn's flush, ahead of data.
    private func control(_ payload: Span<UInt8>, on state: Connection) throws(TransportError) {
        guard payload.count == 1, let control = Control(rawValue: payload[0]) else {
            throw .unknownControl(payload.count == 1 ? payload[0] : 0)
        }
        if control == .probe && !state.closing {
            state.answerOwed = true
            queueFlush(state.id.socket.index)
        }
    }

    /// (Re)arms a connection's one timer: the handshake deadline, the keep-alive check, or the
    /// graceful-close deadline.
    func startTimer(for state: Connection, at deadline: Deadline) {
        if let timer = state.timer { reactor.cancelTimer(timer) }
        // One per connection, from the reactor's reserve: a full timer table cannot disarm it.
        state.timer = try? reactor.startTimer(
            at: deadline, tag: TimerKind.connection.tag(state.id.socket.index), in: timerSpace, socketBound: true)
    }

    func timerFired(_ kind: TimerKind, _ index: Int, _ timer: TimerID) {
        switch kind {
        case .pending:
            pendingTimer = nil
        case .listenerRetry:
            guard index < listeners.count, listeners[index].retry == timer, !listeners[index].closed else { return }
            listeners[index].retry = nil
            bind(index)
        case .listenerCheck:
            checkListener(index, timer)
        case .connectorRetry:
            guard index < connectors.count, connectors[index]?.retry == timer else { return }
            attempt(index)
        case .connection:
            guard index < connections.count, let state = connections[index], state.timer == timer else { return }
            state.timer = nil
            guard state.phase == .established else {
                finish(state.id, .handshakeTimeout)
                return
            }
            guard !state.closing else {
                finish(state.id, .requested) // the peer never ended its side: close anyway
                return
            }
            checkLiveness(state)
        }
    }

    /// Seals one control record and hands it to the reactor; false if there is no room yet (the
    /// reactor says when there is) or the connection had to close.
    private func sealAndSend(_ control: Control, on state: Connection, ahead: inout Int) -> Bool {
        let payload = InlineArray<1, UInt8>(repeating: control.rawValue)
        guard ((try? reactor.sendCapacity(on: state.id.socket)) ?? 0) >= state.sealer!.overhead + payload.count else {
            try? reactor.notifyWhenWritable(state.id.socket)
            return false
        }
        return sealAndSend(payload.span, .control, on: state, ahead: &ahead)
    }

    /// Seals `payload` as one record and hands it to the reactor, which was checked to have room.
    private func sealAndSend(_ payload: Span<UInt8>, _ kind: RecordKind, on state: Connection, ahead: inout Int) -> Bool
    {
        let length = state.sealer!.seal(payload, kind: kind, into: &recordBuffer)
        let record = recordBuffer
        do {
            try reactor.send(record.span.extracting(0..<length), on: state.id.socket)
        } catch {
            // Room was checked first, so a refusal here is a broken socket: say so and close.
            finish(state.id, .socket(error))
            return false
        }
        ahead += length
        return true
    }

    /// A connection with nothing queued or half-received gives its buffers back, so an idle one
    /// costs a few hundred bytes however large its last burst was. Checked with the keep-alive
    /// (every `probeAfter` at most), so a busy connection re-grows them rarely.
    private func releaseIdleBuffers(_ state: Connection) {
        if state.pendingBytes == 0 && state.staging.capacity > 0 {
            state.staging = []
            state.stagingOffset = 0
        }
        state.decoder.releaseBuffer()
        state.opener?.releaseBuffer()
    }

    /// Outstanding bytes our own control records could account for (a few, encrypted), which do
    /// not make acknowledged bytes a sign of life.
    static let controlSlack = 4 * (RecordSealer.overhead + 1)

    /// The keep-alive timer of an established connection: signs of life that need no answer,
    /// the minimum rate, then the keep-alive's verdict.
    private func checkLiveness(_ state: Connection) {
        let now = Deadline.now()
        let socket = state.id.socket
        // The peer took data we had queued for it (its TCP acknowledged it, or its process read
        // it): alive. Only with data outstanding since the last check: a frozen process's kernel
        // still acknowledges our few probe bytes.
        if let progress = try? reactor.sendProgress(on: socket) {
            let backlog = state.outstanding
            if progress.delivered > state.delivered {
                if backlog > Self.controlSlack { state.keepAlive.heard(at: now) }
                state.delivered = progress.delivered
            }
            state.outstanding = progress.outstanding + state.pendingBytes
        }
        if state.paused {
            // Not reading was our choice: what waits unread is the peer's sign of life, not its
            // silence. And the peer's probes go unread, so tell it unasked that we are alive.
            if let unread = try? reactor.unreadBytes(on: socket), unread > 0 { state.keepAlive.heard(at: now) }
            state.aliveOwed = true
            queueFlush(socket.index)
        }
        releaseIdleBuffers(state)
        let stalled = state.keepAlive.isLate(at: now)
        if case .tooSlow(let rate) = state.minimumRate.check(at: now, excused: stalled || state.paused) {
            finish(
                state.id,
                .protocolError(.tooSlow(bytesPerSecond: rate, minimum: configuration.minimumRate.bytesPerSecond)))
            return
        }
        switch state.keepAlive.check(at: now) {
        case .lost(let silence):
            let milliseconds = Int64((silence / .milliseconds(1)).rounded(.down))
            finish(state.id, .protocolError(.peerSilent(milliseconds: milliseconds)), peerWentAway: true)
            return
        case .probe:
            state.probeOwed = true
            queueFlush(socket.index)
        case .wait:
            break
        }
        startTimer(for: state, at: state.keepAlive.armNextCheck())
    }

    /// End of a loop turn: every connection with queued frames hands them to the reactor, sealed
    /// into as few records as the record size allows.
    func flush() {
        for position in flushList.indices {
            guard let state = connections[flushList[position]] else { continue }
            state.flushQueued = false
            if state.phase == .established { drainStaging(state) }
        }
        flushList.removeAll(keepingCapacity: true)
    }

    /// Hands a connection's output to the reactor: control records first, so they overtake every
    /// data record not yet handed over, then data records while the reactor holds less than one
    /// record for this socket. Keeping the reactor's queue short is what lets a probe or an answer
    /// leave soon even behind a 16 MiB frame; the rest waits here, in staging.
    private func drainStaging(_ state: Connection) {
        let socket = state.id.socket
        guard let overhead = state.sealer?.overhead else { return }
        var ahead = (try? reactor.queuedBytes(on: socket)) ?? 0
        if state.answerOwed {
            guard sealAndSend(.answer, on: state, ahead: &ahead) else { return }
            state.answerOwed = false
        }
        if state.probeOwed {
            guard sealAndSend(.probe, on: state, ahead: &ahead) else { return }
            state.probeOwed = false
        }
        if state.aliveOwed {
            guard sealAndSend(.alive, on: state, ahead: &ahead) else { return }
            state.aliveOwed = false
        }
        while state.pendingBytes > 0 {
            let capacity = (try? reactor.sendCapacity(on: socket)) ?? 0
            let take = min(state.pendingBytes, capacity - overhead, configuration.recordBytes - ahead)
            if take <= 0 {
                try? reactor.notifyWhenWritable(socket, atMost: configuration.recordBytes / 2)
                break
            }
            let chunk = state.staging[state.stagingOffset..<(state.stagingOffset + take)]
            guard sealAndSend(chunk.span, .data, on: state, ahead: &ahead) else { return }
            state.stagingOffset += take
        }
        if state.pendingBytes == 0 {
            // Keep what a full queue needs (arrays grow by doubling, hence twice); give back what
            // one oversized frame added.
            if state.staging.capacity > 2 * (configuration.sendQueueBytes + FrameHeader.size) {
                state.staging = []
            } else {
                state.staging.removeAll(keepingCapacity: true)
            }
            state.stagingOffset = 0
            if state.closing { try? reactor.shutdownWrite(socket) }
            if state.refusedSend {
                state.refusedSend = false
                emit(.writable(state.id))
            }
        } else if state.stagingOffset > state.staging.count / 2 {
            state.staging.removeFirst(state.stagingOffset)
            state.stagingOffset = 0
        }
    }
}
