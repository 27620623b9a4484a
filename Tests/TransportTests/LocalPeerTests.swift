import AnsarTestKit
import Platform
import Reactor
import Testing

@testable import Transport

/// Unix sockets by the kernel's word: a process of another user is no peer, either way round.
@Suite("Local peers of another user")
struct LocalPeerTests {
    /// Python as user 65534 (nobody), running `code`.
    static func asNobody(_ code: String) throws -> Subprocess {
        try Subprocess(
            "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", code])
    }

    static func name() -> String { "ansar-test-peer-\(UInt32.random(in: 0...UInt32.max))" }

    @Test("a name another user's process listens on is refused at connect, naming the user", arguments: backends)
    func connectToForeign(_ backend: Reactor.BackendChoice) throws {
        let name = Self.name()
        let squatter = try Self.asNobody(
            """
            import socket, time
            s = socket.socket(socket.AF_UNIX); s.bind('\\0\(name)'); s.listen(8); print('up', flush=True)
            time.sleep(60)
            """)
        defer { squatter.end() }
        #expect(within(10) { squatter.output.contains("up") }, "\(squatter.errors)")
        let bench = try Bench(backend)
        bench.connections.connect(to: .unixAbstract(name: name))
        #expect(
            try bench.spin {
                $0.has { if case .notConnected(_, .foreignUser(65534), _) = $0 { true } else { false } }
            })
        #expect(bench.recorder.connected.isEmpty)
    }

    @Test("another user's process that connects is closed at once, before any handshake", arguments: backends)
    func acceptFromForeign(_ backend: Reactor.BackendChoice) throws {
        let name = Self.name()
        // Only the check can close it in time: the handshake deadlines are a minute.
        let bench = try Bench(backend) {
            $0.handshakeTimeout = .seconds(60)
            $0.acceptedHandshakeTimeout = .seconds(60)
        }
        _ = try bench.listen(.unixAbstract(name: name))
        let stranger = try Self.asNobody(
            """
            import socket
            s = socket.socket(socket.AF_UNIX); s.connect('\\0\(name)'); s.settimeout(20)
            try:
                print('closed' if s.recv(100) == b'' else 'data', flush=True)
            except socket.timeout:
                print('held', flush=True)
            """)
        defer { stranger.end() }
        var ended = false
        let deadline = Deadline.after(.seconds(30))
        while !ended, Deadline.now() < deadline {
            try bench.spin(within: .milliseconds(20)) { _ in false }
            ended = stranger.output.contains("\n") || !stranger.errors.isEmpty
        }
        #expect(stranger.output == "closed\n", "\(stranger.errors)")
        #expect(bench.recorder.accepted.isEmpty)
    }
}
