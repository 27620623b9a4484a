import AnsarTestKit
import InMemoryLogging
import Logging
import Platform
import Reactor
import Testing

@testable import Transport

#if canImport(Glibc)
    import Glibc
#endif

let backends: [Reactor.BackendChoice] = [.uring, .epoll]

/// Records events and frames; echoes frames back when asked.
struct Recorder: TransportDelegate {
    var events: [TransportEvent] = []
    var frames: [(ConnectionID, FrameHeader, [UInt8])] = []
    /// Echo frames that arrive on accepted (server-side) connections.
    var echo = false
    var onEvent: ((TransportEvent, Connections, inout Recorder) -> Void)? = nil

    mutating func transport(_ connections: Connections, event: TransportEvent) {
        events.append(event)
        if let onEvent { onEvent(event, connections, &self) }
    }

    mutating func transport(
        _ connections: Connections, received header: FrameHeader, body: Span<UInt8>, on connection: ConnectionID
    ) {
        var copy: [UInt8] = []
        copy.append(span: body)
        frames.append((connection, header, copy))
        if echo && accepted.contains(connection) { try? connections.send(header, body: body, on: connection) }
    }

    func has(_ predicate: (TransportEvent) -> Bool) -> Bool { events.contains(where: predicate) }

    var listening: SocketAddress? {
        for event in events { if case .listening(_, let address) = event { return address } }
        return nil
    }

    var accepted: [ConnectionID] {
        events.compactMap { if case .accepted(let id, _) = $0 { id } else { nil } }
    }

    var connected: [ConnectionID] {
        events.compactMap { if case .connected(let id, _) = $0 { id } else { nil } }
    }
}

/// A reactor, its connections and a recording handler, with a bounded spin.
final class Bench {
    let reactor: Reactor
    let connections: Connections
    var handler: ConnectionsHandler<Recorder>
    /// What the transport logged.
    let log = InMemoryLogHandler()

    init(
        _ backend: Reactor.BackendChoice, limits: Limits = Limits(),
        configure: (inout TransportConfiguration) -> Void = { _ in },
        secret: RealmSecret = Bench.realm
    ) throws {
        reactor = try Reactor(limits: limits, backend: backend)
        var configuration = TransportConfiguration(secret: secret)
        configure(&configuration)
        let log = self.log
        connections = Connections(
            reactor: reactor, configuration: configuration, logger: Logger(label: "test") { _ in log })
        handler = ConnectionsHandler(connections: connections, delegate: Recorder())
    }

    static let realm = RealmSecret.generate()

    var recorder: Recorder {
        get { handler.delegate }
        set { handler.delegate = newValue }
    }

    /// Runs the loop until `condition` holds or `limit` passes (no sleeps: the loop blocks in the kernel).
    @discardableResult
    func spin(within limit: Duration = .seconds(10), until condition: (Recorder) -> Bool) throws -> Bool {
        let deadline = Deadline.after(limit)
        while !condition(handler.delegate) {
            if Deadline.now() >= deadline { return false }
            try reactor.run(&handler, until: .after(.milliseconds(5)))
        }
        return true
    }

    /// Listens on loopback, connects to itself, and returns both ends once the handshake is done.
    func connectedPair() throws -> (client: ConnectionID, server: ConnectionID) {
        let bound = try listen()
        connections.connect(to: bound)
        try #require(try spin { !$0.connected.isEmpty && !$0.accepted.isEmpty })
        return (recorder.connected[0], recorder.accepted[0])
    }

    /// True once a frame of `typeID` sent on `client` has reached `server`.
    func carries(_ typeID: UInt32, from client: ConnectionID, to server: ConnectionID) throws -> Bool {
        try connections.send(
            FrameHeader(typeID: typeID, bodyLength: 0), body: [UInt8(truncatingIfNeeded: typeID)], on: client)
        return try spin { $0.frames.contains { $0.0 == server && $0.1.typeID == typeID } }
    }

    /// A raw peer that completes the handshake on the listener and then freezes: true once it is
    /// abandoned for its silence.
    func frozenPeerIsAbandoned() throws -> Bool {
        let peer = try RawPeer(port: try #require(recorder.listening?.port))
        guard try peer.handshake(secret: Bench.realm, bench: self) else { return false }
        let before = recorder.accepted.count
        guard try spin(until: { $0.accepted.count == before + 1 }) else { return false }
        let frozen = recorder.accepted[before]
        return try spin {
            $0.has { if case .abandoned(frozen, .protocolError(.peerSilent)) = $0 { true } else { false } }
        }
    }

    /// Listens on `address` and returns the bound address.
    func listen(_ address: SocketAddress = .ipv4("127.0.0.1", port: 0)) throws -> SocketAddress {
        connections.listen(on: address)
        #expect(try spin { $0.listening != nil })
        return try #require(recorder.listening)
    }
}

/// Runs two benches' loops in turn (both on this thread) until `condition` holds or 10 s pass.
func spinBoth(_ a: Bench, _ b: Bench, until condition: (Recorder, Recorder) -> Bool) throws -> Bool {
    let deadline = Deadline.after(.seconds(10))
    while !condition(a.recorder, b.recorder) {
        if Deadline.now() >= deadline { return false }
        try a.spin(within: .milliseconds(2)) { _ in false }
        try b.spin(within: .milliseconds(2)) { _ in false }
    }
    return true
}

/// A peer outside any reactor, on a plain non-blocking socket, that can speak the handshake and
/// records through the state machines and then misbehave on purpose.
final class RawPeer {
    let fd: Int32
    var sealer: RecordSealer? = nil
    var opener: RecordOpener? = nil

    init(port: UInt16) throws {
        fd = rawConnect(port: port)
        try #require(fd >= 0)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n }
        }
    }

    /// Reads exactly `count` bytes, running `bench` meanwhile; nil on end of stream or timeout.
    func read(_ count: Int, bench: Bench) throws -> [UInt8]? {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: count)
        let deadline = Deadline.after(.seconds(10))
        while out.count < count && Deadline.now() < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - out.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                out += buffer[0..<n]
            } else if n == 0 {
                return nil
            } else {
                try bench.spin(within: .milliseconds(5)) { _ in false }
            }
        }
        return out.count == count ? out : nil
    }

    /// True once the other end has closed this connection (end of stream or reset).
    func closedByPeer(bench: Bench, within limit: Duration = .seconds(10)) throws -> Bool {
        var byte: UInt8 = 0
        let deadline = Deadline.after(limit)
        while Deadline.now() < deadline {
            let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
            if n == 0 || (n < 0 && errno != EAGAIN) { return true }
            try bench.spin(within: .milliseconds(5)) { _ in false }
        }
        return false
    }

    /// Runs the client handshake with `secret`; true when established (keys installed).
    func handshake(secret: RealmSecret, encrypted: Bool = true, bench: Bench) throws -> Bool {
        var shake = Handshake(role: .client, secret: secret, identity: .generate(), encrypted: encrypted)
        write(shake.start()!)
        guard let reply = try read(Handshake.serverHelloSize, bench: bench) else { return false }
        guard case .established(let keys, let finished?) = try shake.receive(reply.span).step else { return false }
        write(finished)
        if encrypted {
            sealer = RecordSealer(key: keys.transmit, algorithm: keys.algorithm)
            opener = RecordOpener(key: keys.receive, algorithm: keys.algorithm)
        } else {
            sealer = RecordSealer(plaintext: ())
            opener = RecordOpener(plaintextWithMaximumRecord: 1 << 20)
        }
        return true
    }

    /// One record holding `plaintext`.
    func record(_ plaintext: [UInt8], kind: RecordKind = .data) -> [UInt8] {
        var out: [UInt8] = []
        sealer!.seal(plaintext.span, kind: kind, appendingTo: &out)
        return out
    }
}

func frame(_ typeID: UInt32, _ body: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    FrameHeader(typeID: typeID, bodyLength: body.count).write(into: &out)
    return out + body
}
