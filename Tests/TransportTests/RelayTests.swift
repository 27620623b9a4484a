import Platform
import Reactor
import Testing

@testable import Transport

/// The rendezvous relay: two ends that both connect meet there and run the realm handshake across
/// it; the relay holds no secret and sees only ciphertext.
@Suite("Relay")
struct RelayTests {
    /// A relay on its own thread, on loopback.
    static func relay(_ configure: (inout RelaySwitch.Configuration) -> Void = { _ in }) throws -> SocketAddress {
        var configuration = RelaySwitch.Configuration()
        configure(&configuration)
        return try RelaySwitch.startThread(listening: .ipv4("127.0.0.1", port: 0), configuration: configuration)
    }

    @Test("two ends meet by token; frames cross both ways, a 4 MiB one too", arguments: backends)
    func meet(_ backend: Reactor.BackendChoice) throws {
        let relay = try Self.relay()
        let (a, b) = (try Bench(backend), try Bench(backend))
        let token = RelaySwitch.newToken()
        // The accepting end may come first: it waits at the relay.
        b.connections.connect(to: relay, preface: RelaySwitch.preface(token: token), role: .server)
        try b.spin(within: .milliseconds(50)) { _ in false }
        a.connections.connect(to: relay, preface: RelaySwitch.preface(token: token))
        #expect(try spinBoth(a, b) { !$0.connected.isEmpty && !$1.connected.isEmpty })
        let (left, right) = (a.recorder.connected[0], b.recorder.connected[0])
        try a.connections.send(FrameHeader(typeID: 5, bodyLength: 0), body: Array("over the relay".utf8), on: left)
        let big = [UInt8](repeating: 0xAB, count: 4 << 20)
        try b.connections.send(FrameHeader(typeID: 6, bodyLength: 0), body: big, on: right)
        #expect(try spinBoth(a, b) { x, y in !x.frames.isEmpty && !y.frames.isEmpty })
        #expect(b.recorder.frames[0].2 == Array("over the relay".utf8))
        #expect(a.recorder.frames[0].1.typeID == 6 && a.recorder.frames[0].2 == big)
        // One end closes: the other hears it through the relay.
        a.connections.close(left)
        #expect(try spinBoth(a, b) { _, y in y.has { if case .abandoned = $0 { true } else { false } } })
    }

    @Test("ends of different realms meet but fail the handshake; nothing is established", arguments: backends)
    func otherRealm(_ backend: Reactor.BackendChoice) throws {
        let relay = try Self.relay()
        let a = try Bench(backend)
        let b = try Bench(backend, secret: RealmSecret.generate())
        let token = RelaySwitch.newToken()
        a.connections.connect(to: relay, preface: RelaySwitch.preface(token: token))
        b.connections.connect(to: relay, preface: RelaySwitch.preface(token: token), role: .server)
        let failed: (Recorder) -> Bool = { $0.has { if case .notConnected = $0 { true } else { false } } }
        #expect(try spinBoth(a, b) { failed($0) && failed($1) })
        #expect(a.recorder.connected.isEmpty && b.recorder.connected.isEmpty)
    }

    @Test("an end whose partner never comes, or that sends no valid preface, is closed in time", arguments: backends)
    func bounded(_ backend: Reactor.BackendChoice) throws {
        let relay = try Self.relay { $0.waitLimit = .milliseconds(200) }
        let a = try Bench(backend) { $0.handshakeTimeout = .seconds(10) }
        a.connections.connect(to: relay, preface: RelaySwitch.preface(token: RelaySwitch.newToken()))
        let started = Deadline.now()
        #expect(try a.spin { $0.has { if case .notConnected = $0 { true } else { false } } })
        #expect(started.nanoseconds(until: .now()) < 5_000_000_000) // the relay's limit, not the 10 s handshake's
        // Not a relay preface at all: an ordinary client's handshake hello is refused at once.
        let b = try Bench(backend) { $0.handshakeTimeout = .seconds(10) }
        b.connections.connect(to: relay)
        #expect(try b.spin { $0.has { if case .notConnected = $0 { true } else { false } } })
    }
}
