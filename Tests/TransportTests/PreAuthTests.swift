import AnsarTestKit
import Platform
import Testing

@testable import Reactor
@testable import Transport

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Strangers who connect and say nothing cannot keep members out")
struct PreAuthTests {
    static func ids(_ range: Range<Int>) -> [ConnectionID] {
        range.map { ConnectionID(socket: SocketID(slot: UInt32($0), generation: 1)) }
    }

    @Test("per source: its share is admitted, the next refused, and an ended one makes room")
    func perSource() {
        var configuration = PendingHandshakes.Configuration()
        configuration.perSource = 2
        var pending = PendingHandshakes(configuration)
        let listener = ListenerID(value: 1, generation: 1)
        let ids = Self.ids(0..<4)
        #expect(pending.admit(ids[0], listener: listener, source: "10.0.0.9") == .admit)
        #expect(pending.admit(ids[1], listener: listener, source: "10.0.0.9") == .admit)
        #expect(pending.admit(ids[2], listener: listener, source: "10.0.0.9") == .refuse)
        #expect(pending.admit(ids[2], listener: listener, source: "10.0.0.8") == .admit, "another source")
        pending.ended(ids[0])
        #expect(pending.admit(ids[3], listener: listener, source: "10.0.0.9") == .admit)
        // Unix peers have no source: only the listener's bound holds them.
        #expect(pending.admit(ids[0], listener: listener, source: nil) == .admit)
        #expect(pending.count == 4)
    }

    @Test("per listener: at the cap the oldest unproved connection goes for the newcomer; listeners are apart")
    func perListener() {
        var configuration = PendingHandshakes.Configuration()
        configuration.perListener = 3
        var pending = PendingHandshakes(configuration)
        let (first, second) = (ListenerID(value: 1, generation: 1), ListenerID(value: 2, generation: 1))
        let ids = Self.ids(0..<6)
        for id in ids[0..<3] { #expect(pending.admit(id, listener: first, source: nil) == .admit) }
        #expect(pending.admit(ids[3], listener: second, source: nil) == .admit)
        #expect(pending.admit(ids[4], listener: first, source: nil) == .admitEvicting(ids[0]))
        pending.ended(ids[1]) // proved itself
        #expect(pending.admit(ids[5], listener: first, source: nil) == .admit)
        #expect(pending.count == 4)
    }

    /// Raises this process's open-file limit to at least `count` (the hard limit allowing).
    static func allowFiles(_ count: Int) -> Bool {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < rlim_t(count) {
            limit.rlim_cur = min(rlim_t(count), limit.rlim_max)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return limit.rlim_cur >= rlim_t(count)
    }

    @Test(
        "slowloris: 1,100 idle connections from 137 loopback sources, held open, then a member: it is accepted",
        arguments: backends)
    func slowloris(backend: Reactor.BackendChoice) throws {
        try #require(Self.allowFiles(4_096), "the test needs 4,096 open files")
        // The idle ones would be held for a minute: only the bounds can let the member in.
        let configure: (inout TransportConfiguration) -> Void = {
            $0.handshakeTimeout = .seconds(60)
            $0.acceptedHandshakeTimeout = .seconds(60)
        }
        let server = try Bench(backend, configure: configure)
        let port = try #require(try server.listen().port)
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        for index in 0..<1_100 {
            idle.append(rawConnect(port: port, from: "127.0.0.\(2 + index / 8)"))
            if index % 100 == 99 { try server.spin(within: .milliseconds(20)) { _ in false } }
        }
        #expect(idle.allSatisfy { $0 >= 0 })
        let member = try Bench(backend, configure: configure)
        member.connections.connect(to: .ipv4("127.0.0.1", port: port))
        #expect(
            try spinBoth(server, member) { server, member in !server.accepted.isEmpty && !member.connected.isEmpty })
        let limits = server.connections.configuration.pendingHandshakes
        #expect(server.connections.pendingHandshakes.count <= limits.perListener)
    }

    @Test(
        "a member whose hello was answered is no longer a stranger: a flood of newer connections does not push it out",
        arguments: backends)
    func answeredMemberStays(backend: Reactor.BackendChoice) throws {
        let server = try Bench(backend) { $0.pendingHandshakes.perListener = 2 }
        let port = try #require(try server.listen().port)
        var shake = Handshake(role: .client, secret: Bench.realm, identity: .generate(), encrypted: true)
        let started = shake.start()
        let hello = try #require(started)
        let member = try RawPeer(port: port)
        member.write(hello)
        let reply = try #require(try member.read(Handshake.serverHelloSize, bench: server))
        // Five strangers after it, two unproved at most: the first three go, oldest first.
        let strangers = try (0..<5).map { _ in try RawPeer(port: port) }
        for stranger in strangers.prefix(3) { #expect(try stranger.closedByPeer(bench: server)) }
        guard case .established(_, let finished?) = try shake.receive(reply.span).step else {
            Issue.record("client not established")
            return
        }
        member.write(finished)
        #expect(try server.spin { !$0.accepted.isEmpty }, "the member, older than every stranger, is accepted")
    }
}
