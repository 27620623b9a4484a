import CBaseline
import Cryptography
import Platform
import Reactor
import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// The realm every benchmark connection belongs to.
let benchRealm = RealmSecret.generate()

func transportConfiguration(encrypted: Bool) -> TransportConfiguration {
    var configuration = TransportConfiguration(secret: benchRealm)
    configuration.encrypted = encrypted
    return configuration
}

/// Echoes every frame on accepted connections; stops its reactor when the connection ends.
struct TransportEchoServer: TransportDelegate {
    let rendezvous: Rendezvous

    mutating func transport(_ connections: Connections, event: TransportEvent) {
        switch event {
        case .listening(_, let address): rendezvous.publish(address)
        case .abandoned, .closed: connections.reactor.stop()
        default: break
        }
    }

    mutating func transport(
        _ connections: Connections, received header: FrameHeader, body: Span<UInt8>, on connection: ConnectionID
    ) {
        try? connections.send(header, body: body, on: connection)
    }
}

/// Counts frames until the sender ends the stream.
struct TransportFrameCounter: TransportDelegate {
    let rendezvous: Rendezvous
    var messages: UInt64 = 0
    var first: Deadline? = nil
    var elapsed = 0.0

    mutating func transport(_ connections: Connections, event: TransportEvent) {
        switch event {
        case .listening(_, let address): rendezvous.publish(address)
        case .abandoned, .closed:
            elapsed = Double(Deadline.now().nanoseconds - (first ?? .now()).nanoseconds) / 1e9
            connections.reactor.stop()
        default: break
        }
    }

    mutating func transport(
        _ connections: Connections, received header: FrameHeader, body: Span<UInt8>, on connection: ConnectionID
    ) {
        if first == nil { first = .now() }
        messages += 1
    }
}

/// A transport server on its own thread; returns its address and a join that yields the delegate.
func startTransportServer<Delegate: TransportDelegate & SendableMetatype>(
    encrypted: Bool, address: SocketAddress, delegate: @escaping @Sendable (Rendezvous) -> Delegate,
    report: @escaping @Sendable (Delegate) -> Void = { _ in }
) -> (SocketAddress, () -> Void) {
    let rendezvous = Rendezvous()
    let join = onThread {
        do {
            let reactor = try Reactor(backend: .uring)
            let connections = Connections(reactor: reactor, configuration: transportConfiguration(encrypted: encrypted))
            connections.listen(on: address)
            var handler = ConnectionsHandler(connections: connections, delegate: delegate(rendezvous))
            try reactor.run(&handler)
            report(handler.delegate)
        } catch {
            fatalError("transport server: \(error)")
        }
    }
    return (rendezvous.wait(), join)
}

/// Sends a 64-byte frame, waits for its echo, repeats.
struct TransportPingPong: TransportDelegate {
    let body = [UInt8](repeating: 0x5A, count: 64)
    var log: RoundTripLog
    var failure: String? = nil

    init(warmup: Int, count: Int) {
        log = RoundTripLog(warmup: warmup, count: count)
    }

    mutating func transport(_ connections: Connections, event: TransportEvent) {
        switch event {
        case .connected(let connection, _):
            ping(connection, connections)
        case .notConnected(_, let reason, _):
            failure = "\(reason)"
            connections.reactor.stop()
        case .closed, .abandoned:
            connections.reactor.stop()
        default:
            break
        }
    }

    mutating func ping(_ connection: ConnectionID, _ connections: Connections) {
        log.sent()
        do {
            try connections.send(FrameHeader(typeID: 1, bodyLength: 0), body: body.span, on: connection)
        } catch {
            failure = "\(error)"
            connections.reactor.stop()
        }
    }

    mutating func transport(
        _ connections: Connections, received header: FrameHeader, body: Span<UInt8>, on connection: ConnectionID
    ) {
        if log.echoed() {
            connections.close(connection)
        } else {
            ping(connection, connections)
        }
    }
}

/// Sends frames of `size` bytes as fast as the transport accepts them for `seconds`, then closes.
struct TransportSender: TransportDelegate {
    let body: [UInt8]
    let end: Deadline
    var connection: ConnectionID? = nil

    init(size: Int, seconds: Double) {
        body = [UInt8](repeating: 0xA5, count: size)
        end = .after(.nanoseconds(Int64(seconds * 1e9)))
    }

    mutating func transport(_ connections: Connections, event: TransportEvent) {
        switch event {
        case .connected(let id, _):
            connection = id
            pump(connections)
        case .writable:
            pump(connections)
        case .closed, .abandoned, .notConnected:
            connections.reactor.stop()
        default:
            break
        }
    }

    mutating func pump(_ connections: Connections) {
        guard let connection else { return }
        while true {
            var refused = false
            for _ in 0..<64 {
                do {
                    try connections.send(FrameHeader(typeID: 2, bodyLength: 0), body: body.span, on: connection)
                } catch {
                    refused = true
                    break
                }
            }
            if Deadline.now() >= end {
                connections.close(connection)
                return
            }
            if refused { return } // `.writable` calls again
        }
    }

    mutating func transport(
        _ connections: Connections, received header: FrameHeader, body: Span<UInt8>, on connection: ConnectionID
    ) {}
}

/// Runs a transport client on this thread until its delegate stops the reactor; then joins the server.
func runTransportClient<Delegate: TransportDelegate>(
    encrypted: Bool, to bound: SocketAddress, _ delegate: Delegate, then join: () -> Void
) -> Delegate {
    // The reactor goes out of scope before the join: its deinit closes the client's socket, which
    // is what ends the server's run.
    func run() throws -> Delegate {
        let reactor = try Reactor(backend: .uring)
        let connections = Connections(reactor: reactor, configuration: transportConfiguration(encrypted: encrypted))
        connections.connect(to: bound)
        var handler = ConnectionsHandler(connections: connections, delegate: delegate)
        try reactor.run(&handler)
        return handler.delegate
    }
    do {
        let finished = try run()
        join()
        return finished
    } catch {
        fail("transport client: \(error)")
    }
}

func transportPingPong(encrypted: Bool, unixSocket: Bool, count: Int) -> TransportPingPong {
    let address: SocketAddress =
        unixSocket
        ? .unixAbstract(name: "ansar-bench-transport-\(getpid())") : .ipv4("127.0.0.1", port: 0)
    let (bound, join) = startTransportServer(encrypted: encrypted, address: address) {
        TransportEchoServer(rendezvous: $0)
    }
    let client = runTransportClient(
        encrypted: encrypted, to: bound, TransportPingPong(warmup: warmup, count: count), then: join)
    if let failure = client.failure { fail("transport ping-pong: \(failure)") }
    return client
}

func transportOneWay(encrypted: Bool, size: Int, seconds: Double) -> (messages: UInt64, elapsed: Double) {
    nonisolated(unsafe) var counted = (messages: UInt64(0), elapsed: 0.0)
    let (bound, join) = startTransportServer(
        encrypted: encrypted, address: .ipv4("127.0.0.1", port: 0), delegate: { TransportFrameCounter(rendezvous: $0) },
        report: { counted = ($0.messages, $0.elapsed) })
    _ = runTransportClient(encrypted: encrypted, to: bound, TransportSender(size: size, seconds: seconds), then: join)
    return counted
}

/// One core sealing `size`-byte AES-256-GCM records back to back for `seconds`: GB/s of plaintext.
/// `bulkThreshold` 0 seals every record through libcrypto, `Int.max` through libsodium.
func sealGigabytesPerSecond(size: Int, bulkThreshold: Int, seconds: Double) -> Double {
    let aead = AEAD(key: Sodium.randomBytes(32), algorithm: .aes256gcm, bulkThreshold: bulkThreshold)
    let plaintext = [UInt8](repeating: 0x5A, count: size)
    var record = [UInt8](repeating: 0, count: size + AEAD.tagBytes)
    let additional: [UInt8] = [0, 0, 0, 0]
    let started = Deadline.now()
    var sealed = 0
    while Double(started.nanoseconds(until: .now())) < seconds * 1e9 {
        for _ in 0..<16 { aead.seal(plaintext.span, into: &record, at: 0, additional: additional) }
        sealed += 16
    }
    return Double(sealed * size) / (Double(started.nanoseconds(until: .now())) / 1e9) / 1e9
}
