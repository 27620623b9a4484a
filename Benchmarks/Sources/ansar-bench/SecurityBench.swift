import AnsarTestKit
import Cryptography
import Platform
import Reactor
import Transport

#if canImport(Glibc)
    import Glibc
#endif

// What security costs and what it holds under attack: realm handshakes per second on one core,
// beside the key exchange alone (its crypto limit); a member's connect time while 1,100 idle
// strangers hold connections open, beside the same connect with none.

/// Connects, and on each completed handshake closes and connects again, until `until`.
struct HandshakeLoop: TransportDelegate {
    let address: SocketAddress
    let until: Deadline
    var completed = 0
    var failure: String?
    var started = Deadline.now()
    var finished = Deadline.now()

    mutating func transport(_ connections: Connections, event: TransportEvent) {
        switch event {
        case .connected(_, let connector):
            completed += 1
            connections.closeConnector(connector)
            if Deadline.now() < until {
                connections.connect(to: address)
            } else {
                finished = .now()
                connections.reactor.stop()
            }
        case .notConnected(_, let reason, let retryIn):
            guard retryIn == nil else { return } // a member's connector tries again
            failure = "\(reason)"
            connections.reactor.stop()
        default: break
        }
    }

    mutating func transport(
        _ connections: Connections, received header: FrameHeader, body: Span<UInt8>, on connection: ConnectionID
    ) {}
}

/// Says where it listens; takes every connection and does nothing with it.
struct Accepter: TransportDelegate {
    let rendezvous: Rendezvous

    mutating func transport(_ connections: Connections, event: TransportEvent) {
        if case .listening(_, let address) = event { rendezvous.publish(address) }
    }

    mutating func transport(
        _ connections: Connections, received header: FrameHeader, body: Span<UInt8>, on connection: ConnectionID
    ) {}
}

/// A transport server that accepts and keeps nothing; runs until the process ends.
func startAcceptingServer(_ configure: @escaping @Sendable (inout TransportConfiguration) -> Void = { _ in })
    -> SocketAddress
{
    let rendezvous = Rendezvous()
    _ = onThread {
        do {
            var limits = Limits()
            limits.sockets = 4_096
            limits.timers = 16_384
            let reactor = try Reactor(limits: limits, backend: .uring)
            var configuration = transportConfiguration(encrypted: true)
            configure(&configuration)
            let connections = Connections(reactor: reactor, configuration: configuration)
            connections.listen(on: .ipv4("127.0.0.1", port: 0))
            var handler = ConnectionsHandler(connections: connections, delegate: Accepter(rendezvous: rendezvous))
            try reactor.run(&handler)
        } catch {
            fatalError("accepting server: \(error)")
        }
    }
    return rendezvous.wait()
}

/// Completed realm handshakes per second, one at a time (the client on this thread, the server on
/// its own: each side's share of the work is one core's).
func handshakesPerSecond(to server: SocketAddress, seconds: Double) -> Double {
    do {
        let reactor = try Reactor(backend: .uring)
        let connections = Connections(reactor: reactor, configuration: transportConfiguration(encrypted: true))
        var handler = ConnectionsHandler(
            connections: connections,
            delegate: HandshakeLoop(address: server, until: .after(.milliseconds(Int64(seconds * 1000)))))
        connections.connect(to: server)
        try reactor.run(&handler)
        if let failure = handler.delegate.failure { fail("handshake loop: \(failure)") }
        let elapsed = Double(handler.delegate.finished.nanoseconds - handler.delegate.started.nanoseconds) / 1e9
        return Double(handler.delegate.completed) / elapsed
    } catch {
        fail("handshake loop: \(error)")
    }
}

/// The X25519 work of a handshake alone, on both ends: two ephemeral key pairs and each side's
/// three shared secrets (`ee`, `es`, `se`), per second. With `identities` false, only the key pairs
/// and `ee`: what an anonymous exchange (the handshake before identities) costs.
func keyExchangesPerSecond(seconds: Double, identities: Bool = true) -> Double {
    let (clientStatic, serverStatic) = (Sodium.X25519Pair(), Sodium.X25519Pair())
    let end = Deadline.after(.milliseconds(Int64(seconds * 1000)))
    let start = Deadline.now()
    var count = 0
    while Deadline.now() < end {
        let (client, server) = (Sodium.X25519Pair(), Sodium.X25519Pair())
        guard client.sharedSecret(with: server.publicKey) != nil, server.sharedSecret(with: client.publicKey) != nil
        else { fail("key exchange refused") }
        if identities {
            guard client.sharedSecret(with: serverStatic.publicKey) != nil,
                serverStatic.sharedSecret(with: client.publicKey) != nil,
                clientStatic.sharedSecret(with: server.publicKey) != nil,
                server.sharedSecret(with: clientStatic.publicKey) != nil
            else { fail("key exchange refused") }
        }
        count += 1
    }
    return Double(count) / (Double(Deadline.now().nanoseconds - start.nanoseconds) / 1e9)
}

/// Milliseconds for a member to connect (handshake done) to `server`, retrying as members do: a
/// stranger's flood may let its first attempt go (the oldest unproved connection goes for each
/// newcomer).
func connectMilliseconds(to server: SocketAddress) -> Double {
    do {
        let reactor = try Reactor(backend: .uring)
        let connections = Connections(reactor: reactor, configuration: transportConfiguration(encrypted: true))
        var handler = ConnectionsHandler(
            connections: connections, delegate: HandshakeLoop(address: server, until: .now()))
        let start = Deadline.now()
        connections.connect(to: server, backoff: Backoff(initial: .milliseconds(10), maximum: .milliseconds(200)))
        try reactor.run(&handler)
        if let failure = handler.delegate.failure { fail("member connect: \(failure)") }
        return Double(Deadline.now().nanoseconds - start.nanoseconds) / 1e6
    } catch {
        fail("member connect: \(error)")
    }
}

/// `count` idle TCP connections to `server` from loopback sources 127.0.0.2…, 8 per source; the
/// descriptors (closed by the caller).
func idleStrangers(_ count: Int, to server: SocketAddress) -> [Int32] {
    guard let port = server.port else { return [] }
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = max(limit.rlim_cur, min(limit.rlim_max, 8_192))
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    return (0..<count).map { rawConnect(port: port, from: "127.0.0.\(2 + $0 / 8)") }
}
