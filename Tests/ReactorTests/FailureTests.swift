import AnsarTestKit
import Platform
import Testing

@testable import Reactor

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Failures become typed events; the loop keeps serving everyone else")
struct FailureTests {
    /// An echo on its own listener that must keep working while a test breaks something else.
    struct Bystander {
        let client: SocketID
        let server: SocketID

        init(_ reactor: Reactor, _ recorder: inout Recorder) throws {
            (_, client, server) = try connectedPair(reactor, &recorder)
            recorder.echoing.insert(server)
        }

        func stillServes(_ reactor: Reactor, _ recorder: inout Recorder) throws -> Bool {
            let before = recorder.bytes[client]?.count ?? 0
            try reactor.send(pattern(100), on: client)
            return try spin(reactor, &recorder) { ($0.bytes[client]?.count ?? 0) == before + 100 }
        }
    }

    /// A loopback port with nobody listening: bind one, read its number, close it.
    static func unusedPort() -> UInt16 {
        let (fd, port) = rawLoopbackSocket()
        close(fd)
        return port
    }

    @Test("connection refused", arguments: backends)
    func refused(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        var recorder = Recorder()
        let bystander = try Bystander(reactor, &recorder)
        let socket = try reactor.connect(to: .ipv4("127.0.0.1", port: Self.unusedPort()))
        #expect(
            try spin(reactor, &recorder) {
                $0.has { $0 == .connectFailed(socket, .system(SystemError(ECONNREFUSED, "connect"))) }
            })
        #expect(throws: ReactorError.closed) { try reactor.send([1], on: socket) }
        #expect(try bystander.stillServes(reactor, &recorder))
    }

    @Test("reset by peer ends receiving with ECONNRESET", arguments: backends)
    func reset(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        var recorder = Recorder()
        let bystander = try Bystander(reactor, &recorder)
        let (_, client, server) = try connectedPair(reactor, &recorder)
        // SO_LINGER with a zero timeout turns close into a reset.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(
            reactor.sockets[server.index].fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size)
        )
        try reactor.close(server)
        #expect(
            try spin(reactor, &recorder) {
                $0.has { $0 == .receiveEnded(client, .system(SystemError(ECONNRESET, "recv"))) }
            })
        #expect(try bystander.stillServes(reactor, &recorder))
    }

    @Test("a peer that closes mid-send: sendFailed with the unsent count", arguments: backends)
    func closedMidSend(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        var recorder = Recorder()
        let bystander = try Bystander(reactor, &recorder)
        let (_, client, server) = try connectedPair(reactor, &recorder)
        try reactor.close(server)
        var failed: (ReactorError, Int)? = nil
        var queued = 0
        let chunk = pattern(64 * 1024)
        let deadline = Deadline.after(.seconds(10))
        while failed == nil && Deadline.now() < deadline {
            if (try? reactor.send(chunk, on: client)) != nil { queued += chunk.count }
            try reactor.turn(&recorder, timeout: 1_000_000)
            for event in recorder.events {
                if case .sendFailed(client, let error, let unsent) = event { failed = (error, unsent) }
            }
        }
        let (error, unsent) = try #require(failed)
        #expect([EPIPE, ECONNRESET].contains(error.errno ?? 0), "got \(error)")
        #expect(unsent >= 0 && unsent <= queued)
        #expect(try reactor.queuedBytes(on: client) == 0, "the failed queue was discarded and reported")
        #expect(try bystander.stillServes(reactor, &recorder))
    }

    @Test("address in use", arguments: backends)
    func addressInUse(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        let first = try reactor.listen(on: .ipv4("127.0.0.1", port: 0))
        let taken = try reactor.localAddress(of: first)
        #expect(throws: ReactorError.system(SystemError(EADDRINUSE, "bind"))) {
            try reactor.listen(on: taken)
        }
        let path = "/tmp/ansar-test-inuse-\(getpid())-\(kind)"
        let unix = try reactor.listen(on: .unix(path: path))
        #expect(throws: ReactorError.system(SystemError(EADDRINUSE, "bind"))) {
            try reactor.listen(on: .unix(path: path))
        }
        try reactor.close(unix)
        var recorder = Recorder()
        try spin(reactor, &recorder) { $0.has { $0 == .closed(unix, discardedBytes: 0) } }
        let again = try reactor.listen(on: .unix(path: path))
        try reactor.close(again)
    }

    @Test("closing a listener leaves alone a file that replaced its socket file", arguments: backends)
    func replacedSocketFile(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        let path = "/tmp/ansar-test-replaced-\(getpid())-\(kind)"
        let listener = try reactor.listen(on: .unix(path: path))
        #expect(try reactor.boundPathIntact(listener))
        unlink(path)
        #expect(try !reactor.boundPathIntact(listener))
        let other = open(path, O_CREAT | O_WRONLY, 0o600)
        close(other)
        #expect(try !reactor.boundPathIntact(listener))
        try reactor.close(listener)
        var recorder = Recorder()
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .closed(listener, discardedBytes: 0) } })
        #expect(access(path, F_OK) == 0, "someone else's file is not ours to remove")
        unlink(path)
    }

    @Test("connect deadline passes", arguments: backends)
    func connectDeadline(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        var recorder = Recorder()
        let bystander = try Bystander(reactor, &recorder)
        // A listener with a full backlog that never accepts drops further SYNs: connects hang.
        let (fd, port) = rawLoopbackSocket()
        defer { close(fd) }
        Glibc.listen(fd, 0)
        let target = SocketAddress.ipv4("127.0.0.1", port: port)
        var attempts: [SocketID] = []
        var timedOut: SocketID? = nil
        for _ in 0..<8 where timedOut == nil {
            let started = Deadline.now()
            let socket = try reactor.connect(to: target, deadline: .after(.milliseconds(200)))
            attempts.append(socket)
            try spin(reactor, &recorder) {
                $0.has {
                    if case .connected(socket) = $0 {
                        true
                    } else if case .connectFailed(socket, _) = $0 {
                        true
                    } else {
                        false
                    }
                }
            }
            if recorder.has({ $0 == .connectFailed(socket, .timedOut) }) {
                timedOut = socket
                let waited = Deadline.now().nanoseconds - started.nanoseconds
                #expect(waited >= 190_000_000, "not before the deadline")
            }
        }
        #expect(timedOut != nil, "a connect into a full backlog timed out")
        #expect(try bystander.stillServes(reactor, &recorder))
    }

    @Test("operations on a closed socket throw .closed; a reused slot is not confused", arguments: backends)
    func closedSocket(kind: BackendKind) throws {
        var limits = Limits()
        limits.sockets = 4
        let reactor = try makeReactor(kind, limits: limits)
        var recorder = Recorder()
        let (listener, client, server) = try connectedPair(reactor, &recorder)
        try reactor.close(client)
        #expect(throws: ReactorError.closed) { try reactor.send([1, 2, 3], on: client) }
        #expect(throws: ReactorError.closed) { try reactor.close(client) }
        #expect(throws: ReactorError.closed) { try reactor.startReceiving(client) }
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .closed(client, discardedBytes: 0) } })
        // The freed slot is reused by the next socket; the old identifier must not reach it.
        let reused = try reactor.connect(to: reactor.localAddress(of: listener))
        #expect(reused.index == client.index)
        #expect(reused != client)
        #expect(throws: ReactorError.closed) { try reactor.send([1], on: client) }
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .connected(reused) } })
        #expect(!recorder.has { $0 == .receiveEnded(reused, nil) })
        _ = server
    }

    @Test("the socket limit: connect throws, accept reports, both keep serving", arguments: backends)
    func socketLimit(kind: BackendKind) throws {
        var limits = Limits()
        limits.sockets = 3
        let reactor = try makeReactor(kind, limits: limits)
        var recorder = Recorder()
        recorder.echoing = []
        let (listener, client, server) = try connectedPair(reactor, &recorder)
        recorder.echoing.insert(server)
        #expect(throws: ReactorError.limitReached(.sockets)) {
            try reactor.connect(to: reactor.localAddress(of: listener))
        }
        // A connection from outside the reactor finds the table full.
        let outside = rawConnect(port: try #require(reactor.localAddress(of: listener).port))
        defer { close(outside) }
        #expect(outside >= 0)
        #expect(
            try spin(reactor, &recorder) {
                $0.has { $0 == .acceptFailed(listener: listener, .limitReached(.sockets)) }
            })
        try reactor.send(pattern(10), on: client)
        #expect(try spin(reactor, &recorder) { $0.bytes[client]?.count == 10 })
    }

    @Test("out of descriptors (EMFILE): accept fails, is retried, the loop serves on", arguments: backends)
    func outOfDescriptors(kind: BackendKind) async throws {
        let name = kind.rawValue
        await #expect(processExitsWith: .success) { [name = name as String] in
            // A child process of its own: the descriptor limit is per process.
            // Lower the limit first: io_uring reads it when an accept is armed.
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            limit.rlim_cur = 256
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            let reactor = try Reactor(backend: name == "uring" ? .uring : .epoll)
            var recorder = Recorder()
            let (listener, client, server) = try connectedPair(reactor, &recorder)
            recorder.echoing.insert(server)
            var hog: [Int32] = []
            while true {
                let fd = dup(0)
                if fd < 0 { break }
                hog.append(fd)
            }
            // Connect from outside using a descriptor we free for the purpose.
            close(hog.removeLast())
            guard rawConnect(port: try reactor.localAddress(of: listener).port!) >= 0 else { exit(1) }
            let failed = try spin(reactor, &recorder) {
                $0.has { $0 == .acceptFailed(listener: listener, .system(SystemError(EMFILE, "accept"))) }
            }
            guard failed else { exit(2) }
            try reactor.send(pattern(10), on: client)
            guard try spin(reactor, &recorder, until: { $0.bytes[client]?.count == 10 }) else { exit(3) }
            // Free descriptors: the listener retries and accepts the waiting connection.
            for fd in hog { close(fd) }
            let before = recorder.accepted().count
            guard try spin(reactor, &recorder, until: { $0.accepted().count > before }) else { exit(4) }
            exit(0)
        }
    }
}
