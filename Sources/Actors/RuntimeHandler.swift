import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// Drives a ``Runtime`` from its reactor, composed with the transport's handler: the runtime takes
/// its own events (its timers, in its own space; signals; wake-ups from other threads) and hands
/// the rest to the transport, whose events come back through ``LinkDelegate``. Queued messages run
/// at the end of every turn, before the transport seals and sends what they produced.
struct RuntimeHandler: ReactorHandler {
    let runtime: Runtime
    var transport: ConnectionsHandler<LinkDelegate>
    /// Checked after every turn; when true the loop stops.
    var finished: () -> Bool

    init(runtime: Runtime, finished: @escaping () -> Bool) {
        self.runtime = runtime
        self.finished = finished
        transport = ConnectionsHandler(connections: runtime.connections, delegate: LinkDelegate(runtime: runtime))
    }

    mutating func handle(_ event: ReactorEvent, reactor: Reactor) {
        switch event {
        case .timer(let timer, let tag) where timer.space == runtime.timerSpace: runtime.timerFired(timer, tag: tag)
        case .signal(let number): runtime.signalled(number)
        case .woken: runtime.drainInbox()
        case .datagramsReadable(let socket): runtime.datagramsReadable(socket)
        default: transport.handle(event, reactor: reactor)
        }
    }

    mutating func received(_ bytes: Span<UInt8>, on socket: SocketID, reactor: Reactor) {
        transport.received(bytes, on: socket, reactor: reactor)
    }

    mutating func turnEnded(reactor: Reactor) {
        transport.holdingEvents { runtime.runQueued() }
        transport.turnEnded(reactor: reactor)
        // The transport's end of turn may have delivered events (now messages): run them soon.
        if runtime.hasWork { reactor.skipNextWait() }
        if finished() { reactor.stop() }
    }
}

/// The transport's delegate: hands everything to the runtime.
struct LinkDelegate: TransportDelegate {
    unowned let runtime: Runtime

    mutating func transport(_ connections: Connections, event: TransportEvent) {
        runtime.linkEvent(event)
    }

    mutating func transport(
        _ connections: Connections, received header: FrameHeader, body: Span<UInt8>, on connection: ConnectionID
    ) {
        runtime.received(header, body: body, on: connection)
    }
}

/// Sends to a runtime's objects from other threads. Posts are queued under one lock and wake the
/// runtime once per batch; a full queue refuses the post.
public struct RuntimeHandle: Sendable {
    let inbox: Inbox<Posted>

    /// Queues `message` for `address` (an object of that runtime); false when the queue is full.
    @discardableResult
    public func send(_ message: some Message, to address: Address, from sender: Address = .none) -> Bool {
        inbox.post(Posted(to: address, from: sender, message: message, notifyIfUndelivered: false))
    }
}

extension Runtime {
    /// Moves cross-thread posts into the run queue. The inbox bounds them, so mailboxes do not;
    /// what the full run queue cannot take waits for the next turn.
    func drainInbox() {
        if inboxCarry == 0 { inbox.drain(into: &inboxBatch) }
        var taken = 0
        // Senders that asked are told each refusal (NotDelivered); the rest are counted in one
        // warning per drain, not one line each: a fast sender against a busy link would flood.
        var unannounced = 0
        var lastRefusal = ""
        for posted in inboxBatch[inboxCarry...] {
            do throws(SendRefused) {
                try deliver(
                    posted.message, to: posted.to, from: posted.from, notifyIfUndelivered: posted.notifyIfUndelivered,
                    enforceMailbox: false)
            } catch .runQueueFull {
                break
            } catch {
                // Refused on its way on (a busy connection here): back to its sender, if it asked.
                if !posted.notifyIfUndelivered {
                    unannounced += 1
                    lastRefusal = "\(error)"
                }
                undeliverable(
                    posted.message, to: posted.to, from: posted.from, notify: posted.notifyIfUndelivered,
                    reason: "\(error)")
            }
            taken += 1
        }
        if unannounced > 0 {
            logger.warning(
                "cross-thread messages refused, their senders not told",
                metadata: ["count": "\(unannounced)", "reason": "\(lastRefusal)"])
        }
        inboxCarry += taken
        if inboxCarry < inboxBatch.count {
            reactor.skipNextWait()
            return
        }
        inboxCarry = 0
        inboxBatch.removeAll(keepingCapacity: true)
    }

    func signalled(_ number: Int32) {
        guard main != .none else { return }
        guard number == SIGINT || number == SIGTERM else {
            post(Signalled(signal: number), to: main.object, from: .none) // one of ``Runtime/extraSignals``
            return
        }
        stopSignals += 1
        logger.info("signal received", metadata: ["signal": "\(number)", "count": "\(stopSignals)"])
        if stopSignals == 1 {
            stopSignal = number
            post(Stop(), to: main.object, from: .none)
        } else {
            // A second signal: the main object did not stop in time. End it.
            complete(main, with: Aborted())
        }
    }
}

extension Runtime {
    /// Datagrams wait on a socket an object opened: each goes to it as ``DatagramReceived``, at
    /// most 64 a turn (the reactor tells again while more wait).
    func datagramsReadable(_ socket: SocketID) {
        guard let owner = datagramOwners[socket] else { return }
        for _ in 0..<64 {
            guard let (bytes, from) = try? reactor.receiveDatagram(on: socket) else { return }
            post(
                DatagramReceived(socket: DatagramSocketID(socket: socket), bytes: bytes, from: from), to: owner.object,
                from: .none)
        }
    }
}
