import AnsarTestKit
import Platform
import Reactor
import Testing

@testable import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// The rendezvous relay: two ends that show tickets for the same session meet there and run the
/// realm handshake across it; the relay holds no realm secret and sees only ciphertext, and it joins
/// only what a directory issued, within its limits.
@Suite("Relay")
struct RelayTests {
    let key = RelayTicket.newKey()

    /// A relay on its own thread, on loopback.
    func relay(_ configure: (inout RelaySwitch.Configuration) -> Void = { _ in }) throws -> SocketAddress {
        var configuration = RelaySwitch.Configuration(key: key)
        configure(&configuration)
        return try RelaySwitch.startThread(listening: .ipv4("127.0.0.1", port: 0), configuration: configuration)
    }

    /// Both ends' tickets for a fresh rendezvous, good for a minute.
    func tickets(key: [UInt8]? = nil, expiresAt: UInt64? = nil) -> (client: [UInt8], server: [UInt8]) {
        let expiry = expiresAt ?? UInt64(SystemAccess.wallClock()) + 60
        return RelayTicket.issue(token: RelayTicket.newToken(), expiresAt: expiry, key: key ?? self.key)
    }

    /// Limits long enough that only a refusal can close an end within a test's deadline.
    static func patient(_ configuration: inout RelaySwitch.Configuration) {
        configuration.ticketLimit = .seconds(120)
        configuration.waitLimit = .seconds(120)
    }

    @Test("a ticket reads back as issued; a changed byte, another key or a past expiry is refused")
    func ticket() throws {
        let token = RelayTicket.newToken()
        let (client, server) = RelayTicket.issue(token: token, expiresAt: 1_000, key: key)
        #expect(client.count == RelayTicket.bytes)
        let read = try RelayTicket(checking: server, key: key, now: 1_000)
        #expect(read.token == token && read.end == .server && read.expiresAt == 1_000)
        #expect(throws: RelayTicket.Refusal.expired) { try RelayTicket(checking: client, key: key, now: 1_001) }
        #expect(throws: RelayTicket.Refusal.forged) {
            try RelayTicket(checking: client, key: RelayTicket.newKey(), now: 0)
        }
        for index in [9, 8 + RelayTicket.tokenBytes + 1, RelayTicket.bytes - 1] {
            var changed = client
            changed[index] ^= 1
            #expect(throws: RelayTicket.Refusal.forged) { try RelayTicket(checking: changed, key: key, now: 0) }
        }
        #expect(throws: RelayTicket.Refusal.malformed) {
            try RelayTicket(checking: Array(client.dropLast()), key: key, now: 0)
        }
    }

    @Test("two ends meet by ticket; frames cross both ways, a 4 MiB one too", arguments: backends)
    func meet(_ backend: Reactor.BackendChoice) throws {
        let relay = try relay()
        let (a, b) = (try Bench(backend), try Bench(backend))
        let (client, server) = tickets()
        // The accepting end may come first: it waits at the relay.
        b.connections.connect(to: relay, preface: server, role: .server)
        try b.spin(within: .milliseconds(50)) { _ in false }
        a.connections.connect(to: relay, preface: client)
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
        let relay = try relay()
        let a = try Bench(backend)
        let b = try Bench(backend, secret: RealmSecret.generate())
        let (client, server) = tickets()
        a.connections.connect(to: relay, preface: client)
        b.connections.connect(to: relay, preface: server, role: .server)
        let failed: (Recorder) -> Bool = { $0.has { if case .notConnected = $0 { true } else { false } } }
        #expect(try spinBoth(a, b) { failed($0) && failed($1) })
        #expect(a.recorder.connected.isEmpty && b.recorder.connected.isEmpty)
    }

    @Test(
        "an end whose partner never comes is closed in time; an ordinary handshake hello is no ticket",
        arguments: backends)
    func bounded(_ backend: Reactor.BackendChoice) throws {
        let relay = try relay { $0.waitLimit = .milliseconds(200) }
        let a = try Bench(backend) { $0.handshakeTimeout = .seconds(60) }
        a.connections.connect(to: relay, preface: tickets().client)
        #expect(try a.spin { $0.has { if case .notConnected = $0 { true } else { false } } })
        let b = try Bench(backend) { $0.handshakeTimeout = .seconds(60) }
        b.connections.connect(to: relay)
        #expect(try b.spin { $0.has { if case .notConnected = $0 { true } else { false } } })
    }

    @Test(
        "refused at once: a ticket under another key, an expired one, garbage, the same end twice, a ticket that has joined"
    )
    func refusals() throws {
        let port = try #require(try relay(Self.patient).port)
        let past = UInt64(SystemAccess.wallClock()) - 1
        for preface in [
            tickets(key: RelayTicket.newKey()).client, tickets(expiresAt: past).client,
            [UInt8](repeating: 0, count: RelayTicket.bytes),
        ] {
            let end = try RelayEnd(port: port, preface)
            #expect(end.isClosedByRelay(), "\(preface.prefix(12))")
        }
        let (client, server) = tickets()
        let first = try RelayEnd(port: port, client)
        let copy = try RelayEnd(port: port, client)
        #expect(copy.isClosedByRelay(), "the same end twice: the second goes")
        let partner = try RelayEnd(port: port, server)
        first.write(Array("joined".utf8))
        #expect(partner.read(6) == Array("joined".utf8), "the first kept its place and was joined")
        let replayed = try RelayEnd(port: port, client)
        #expect(replayed.isClosedByRelay(), "a ticket joins once")
        let lateServer = try RelayEnd(port: port, server)
        #expect(lateServer.isClosedByRelay())
    }

    @Test("2,000 idle connections from 250 sources, held open, then a real pair: it is joined", arguments: backends)
    func flood(_ backend: Reactor.BackendChoice) throws {
        try #require(PreAuthTests.allowFiles(8_192), "the test needs 8,192 open files")
        let relay = try relay(Self.patient)
        let port = try #require(relay.port)
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        for index in 0..<2_000 { idle.append(rawConnect(port: port, from: "127.0.0.\(2 + index / 8)")) }
        #expect(idle.allSatisfy { $0 >= 0 })
        let (a, b) = (try Bench(backend), try Bench(backend))
        let (client, server) = tickets()
        // Retrying as members do: an end the relay let go before it read its ticket (strangers'
        // connections still arriving behind it) tries again with the same ticket.
        let retry = Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        b.connections.connect(to: relay, backoff: retry, preface: server, role: .server)
        a.connections.connect(to: relay, backoff: retry, preface: client)
        #expect(try spinBoth(a, b) { !$0.connected.isEmpty && !$1.connected.isEmpty })
        // The relay let the idle ones go, all but the newest it keeps for their ticket.
        let kept = RelaySwitch.Configuration(key: key).unproved.perListener
        let released = Self.hungUp(idle, atLeast: idle.count - kept)
        #expect(released, "the idle connections are not held")
    }

    /// Waits up to 10 s until at least `count` of `descriptors` have been closed by their peer.
    static func hungUp(_ descriptors: [Int32], atLeast count: Int) -> Bool {
        let deadline = Deadline.after(.seconds(10))
        var entries = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        while Deadline.now() < deadline {
            _ = poll(&entries, nfds_t(entries.count), 100)
            if entries.filter({ $0.revents != 0 }).count >= count { return true }
        }
        return false
    }

    @Test("a self-paired stream of 1 GiB is cut at the pair's quota; an idle pair is closed")
    func pairLimits() throws {
        let quota = 8 << 20
        let port = try #require(
            try relay {
                $0.pairBytes = quota
                $0.idleLimit = .milliseconds(300)
            }.port)
        let (client, server) = tickets()
        let (sender, receiver) = (try RelayEnd(port: port, client), try RelayEnd(port: port, server))
        // Streamed only once joined: before that, an end may send the relay no more than earlyBytes.
        receiver.write([0])
        #expect(sender.read(1) == [0])
        let sent = Latch<Int>()
        let descriptor = sender.fd
        let join = ThreadStarter.start {
            let chunk = [UInt8](repeating: 7, count: 1 << 20)
            var total = 0
            while total < 1 << 30 {
                let count = chunk.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard count > 0 else { break }
                total += count
            }
            sent.set(total)
        }
        let received = receiver.drain()
        join()
        #expect(received > 0 && received <= quota, "no more than the quota crosses")
        #expect(sent.wait()! < 1 << 30, "the sender was cut off")

        let (quietClient, quietServer) = tickets()
        let (quiet, partner) = (try RelayEnd(port: port, quietClient), try RelayEnd(port: port, quietServer))
        quiet.write([1])
        #expect(partner.read(1) == [1])
        #expect(quiet.isClosedByRelay() && partner.isClosedByRelay(), "idle past the limit")
    }
}

/// One end at a relay, played with a plain blocking socket: it sends `preface` at once.
final class RelayEnd {
    let fd: Int32

    init(port: UInt16, _ preface: [UInt8]) throws {
        fd = rawConnect(port: port)
        try #require(fd >= 0)
        write(preface)
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Waits up to 10 s for something to read; false if nothing came.
    private func readable() -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 10_000) == 1
    }

    /// Reads exactly `count` bytes within 10 s; nil on end of stream or silence.
    func read(_ count: Int) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: count)
        while out.count < count {
            guard readable() else { return nil }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - out.count, 0) }
            guard n > 0 else { return nil }
            out += buffer[0..<n]
        }
        return out
    }

    /// True once the relay closes this end (end of stream or reset) within 10 s of silence.
    func isClosedByRelay() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while readable() {
            if buffer.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) <= 0 { return true }
        }
        return false
    }

    /// Reads until the stream ends (or 10 s of silence); the bytes read.
    func drain() -> Int {
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while readable() {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            total += n
        }
        return total
    }
}
