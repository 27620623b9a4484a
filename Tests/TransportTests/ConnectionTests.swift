import Platform
import Testing

@testable import Reactor
@testable import Transport

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Connections over real sockets, both backends")
struct ConnectionTests {
    @Test(
        "echo over TCP and Unix, encrypted and plaintext",
        arguments: backends, [("127.0.0.1:0", true), ("127.0.0.1:0", false), ("@ansar-transport-echo", true)])
    func echo(backend: Reactor.BackendChoice, setup: (String, Bool)) throws {
        let bench = try Bench(backend) { $0.encrypted = setup.1 }
        var address = try SocketAddress(parsing: setup.0)
        if case .unixAbstract(let name) = address { address = .unixAbstract(name: "\(name)-\(getpid())-\(backend)") }
        let bound = try bench.listen(address)
        bench.recorder.echo = true
        let connector = bench.connections.connect(to: bound)
        #expect(try bench.spin { !$0.connected.isEmpty && !$0.accepted.isEmpty })
        let client = bench.recorder.connected[0]
        #expect(bench.recorder.events.contains(.connected(client, connector: connector)))
        var sent: [[UInt8]] = []
        for index in 0..<200 {
            let body = (0..<(index * 3)).map { UInt8(truncatingIfNeeded: $0 &+ index) }
            sent.append(body)
            try bench.connections.send(
                FrameHeader(typeID: UInt32(index), bodyLength: 0, destination: 7), body: body, on: client)
        }
        #expect(try bench.spin { $0.frames.filter { $0.0 == client }.count == 200 })
        let echoed = bench.recorder.frames.filter { $0.0 == client }
        #expect(echoed.map(\.2) == sent)
        #expect(echoed.map(\.1.typeID) == (0..<200).map(UInt32.init))
        #expect(echoed.allSatisfy { $0.1.destination == 7 })
        bench.connections.close(client)
        let server = bench.recorder.accepted[0]
        #expect(try bench.spin { $0.has { $0 == .abandoned(server, .endOfStream) } })
        #expect(try bench.spin { $0.has { $0 == .closed(client, .requested) } })
        #expect(throws: FrameRefused.closed) {
            try bench.connections.send(FrameHeader(typeID: 1, bodyLength: 0), body: [], on: client)
        }
    }

    @Test("a 4 MiB frame crosses many records; back-pressure refuses, then writable", arguments: backends)
    func largeAndBackPressure(backend: Reactor.BackendChoice) throws {
        let bench = try Bench(backend) { $0.sendQueueBytes = 256 * 1024 }
        let (client, _) = try bench.connectedPair()
        let big = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try bench.connections.send(FrameHeader(typeID: 9, bodyLength: 0), body: big, on: client)
        #expect(throws: FrameRefused.wouldBlock) {
            try bench.connections.send(FrameHeader(typeID: 10, bodyLength: 0), body: [1], on: client)
        }
        #expect(try bench.spin(within: .seconds(30)) { $0.has { $0 == .writable(client) } })
        try bench.connections.send(FrameHeader(typeID: 10, bodyLength: 0), body: [1], on: client)
        #expect(try bench.spin(within: .seconds(30)) { $0.frames.count == 2 })
        #expect(bench.recorder.frames[0].2 == big)
        #expect(bench.recorder.frames[1].1.typeID == 10)
        #expect(throws: FrameRefused.tooLarge(16 * 1024 * 1024 + 1)) {
            try bench.connections.send(
                FrameHeader(typeID: 1, bodyLength: 0), body: [UInt8](repeating: 0, count: 16 * 1024 * 1024 + 1),
                on: client)
        }
    }

    @Test("after a 4 MiB burst an idle connection gives its buffers back", arguments: backends)
    func idleFootprint(backend: Reactor.BackendChoice) throws {
        let bench = try Bench(backend) {
            $0.networkKeepAlive = KeepAlive.Configuration(probeAfter: .milliseconds(100), deadline: .milliseconds(400))
        }
        let (client, server) = try bench.connectedPair()
        let big = [UInt8](repeating: 9, count: 4 << 20)
        func retained(_ id: ConnectionID) -> Int {
            guard let state = bench.connections.connection(id) else { return -1 }
            return state.staging.capacity + state.decoder.bufferCapacity + (state.opener?.bufferCapacity ?? 0)
        }
        try bench.connections.send(FrameHeader(typeID: 9, bodyLength: 0), body: big, on: client)
        var peak = 0
        #expect(
            try bench.spin(within: .seconds(30)) { recorder in
                peak = max(peak, retained(server))
                return recorder.frames.count == 1
            })
        #expect(peak > 256 << 10, "the frame was gathered on the way in (\(peak) B at most)")
        // Quiet for a few keep-alive checks: both ends shrink (probes and answers still pass
        // through the opener, a few dozen bytes each).
        #expect(
            try bench.spin(within: .seconds(10)) { _ in retained(client) < 1024 && retained(server) < 1024 },
            "client \(retained(client)) B, server \(retained(server)) B")
    }

    @Test("an idle connection stays up on probes; a frozen peer is abandoned within the deadline", arguments: backends)
    func keepAlive(backend: Reactor.BackendChoice) throws {
        let bench = try Bench(backend) {
            $0.networkKeepAlive = KeepAlive.Configuration(probeAfter: .milliseconds(100), deadline: .milliseconds(400))
        }
        _ = try bench.connectedPair()
        // Idle for five deadlines: probes and answers keep both ends alive.
        try bench.spin(within: .seconds(2)) { _ in false }
        #expect(!bench.recorder.has { if case .abandoned = $0 { true } else { false } })
        // A peer that completes the handshake and then freezes.
        let started = Deadline.now()
        #expect(try bench.frozenPeerIsAbandoned())
        let waited = Deadline.now().nanoseconds - started.nanoseconds
        // Generous for a loaded machine (late checks probe again rather than judge); a keep-alive
        // that never judged would miss it.
        #expect(waited < 5_000_000_000, "noticed soon after the 400 ms deadline (\(waited / 1_000_000) ms)")
        #expect(bench.recorder.events.filter { if case .abandoned = $0 { true } else { false } }.count == 1)
    }

    @Test(
        "our own stall is not the peer's silence: a loop that does not turn for 3 deadlines drops nothing",
        arguments: backends)
    func ownStall(backend: Reactor.BackendChoice) throws {
        let bench = try Bench(backend) {
            $0.networkKeepAlive = KeepAlive.Configuration(probeAfter: .milliseconds(100), deadline: .milliseconds(400))
        }
        let (client, server) = try bench.connectedPair()
        try bench.spin(within: .milliseconds(300)) { _ in false } // a probe may be out now
        // The fault: this thread (both ends' loop) blocks, as a slow handler would.
        usleep(1_200_000)
        // Probes go out after the stall and are answered: a whole answer window, running.
        try bench.spin(within: .seconds(2)) { _ in false }
        #expect(!bench.recorder.has { if case .abandoned = $0 { true } else { false } }, "\(bench.recorder.events)")
        #expect(try bench.carries(3, from: client, to: server))
    }

    @Test(
        "a full timer table: the owner's timer is refused, keep-alive keeps working from its reserve",
        arguments: backends)
    func fullTimerTable(backend: Reactor.BackendChoice) throws {
        var limits = Limits()
        limits.timers = 8
        let bench = try Bench(backend, limits: limits) {
            $0.networkKeepAlive = KeepAlive.Configuration(probeAfter: .milliseconds(100), deadline: .milliseconds(400))
        }
        let (client, server) = try bench.connectedPair()
        var held: [TimerID] = []
        while let timer = try? bench.reactor.startTimer(after: .seconds(600), tag: 7) { held.append(timer) }
        #expect(held.count == 8, "the owner's share is the configured 8")
        #expect(throws: ReactorError.limitReached(.timers)) { try bench.reactor.startTimer(after: .seconds(1), tag: 7) }
        // Idle for several deadlines: probes still go out and are answered.
        try bench.spin(within: .seconds(2)) { _ in false }
        #expect(!bench.recorder.has { if case .abandoned = $0 { true } else { false } })
        // And a frozen peer is still noticed.
        #expect(try bench.frozenPeerIsAbandoned())
        #expect(try bench.carries(2, from: client, to: server))
    }

    @Test("a full socket table: every connect is answered, each under its own identifier", arguments: backends)
    func fullSocketTable(backend: Reactor.BackendChoice) throws {
        var limits = Limits()
        limits.sockets = 3
        let bench = try Bench(backend, limits: limits)
        _ = try bench.connectedPair() // the listener and both ends: the table is full
        let target = try #require(bench.recorder.listening)
        let connectors = (0..<5).map { _ in bench.connections.connect(to: target) }
        #expect(Set(connectors).count == 5, "no identifier reused before its failure was told: \(connectors)")
        #expect(
            try bench.spin { recorder in
                connectors.allSatisfy { id in
                    recorder.has {
                        if case .notConnected(id, .socket(.limitReached(.sockets)), nil) = $0 { true } else { false }
                    }
                }
            })
        #expect(bench.recorder.events.filter { if case .notConnected = $0 { true } else { false } }.count == 5)
    }

    @Test("a connector with backoff retries until the server appears, and comes back after a loss", arguments: backends)
    func reconnect(backend: Reactor.BackendChoice) throws {
        let bench = try Bench(backend)
        let server = try Bench(.epoll)
        let port = try server.listen().port!
        let first = try #require(
            server.recorder.events.compactMap { if case .listening(let id, _) = $0 { id } else { nil } }.first)
        server.connections.closeListener(first)
        try server.spin(within: .milliseconds(20)) { _ in false }
        let connector = bench.connections.connect(
            to: .ipv4("127.0.0.1", port: port), backoff: Backoff(initial: .milliseconds(10), maximum: .milliseconds(80))
        )
        #expect(
            try bench.spin {
                $0.events.filter { if case .notConnected(connector, _, .some) = $0 { true } else { false } }.count >= 2
            })
        // The server comes up on the same port.
        server.connections.listen(on: .ipv4("127.0.0.1", port: port))
        func both(_ condition: (Recorder, Recorder) -> Bool) throws -> Bool {
            try spinBoth(bench, server, until: condition)
        }
        #expect(try both { client, server in !client.connected.isEmpty && !server.accepted.isEmpty })
        // The server drops the connection: the client is told, and reconnects by itself.
        server.connections.close(server.recorder.accepted[0])
        #expect(try both { client, server in client.connected.count == 2 && server.accepted.count == 2 })
        #expect(
            bench.recorder.has {
                if case .abandoned(let id, _) = $0 { id == bench.recorder.connected[0] } else { false }
            })
        bench.connections.closeConnector(connector)
        #expect(try both { _, server in server.has { if case .abandoned = $0 { true } else { false } } })
    }

    @Test("a graceful close delivers every queued frame before the stream ends", arguments: backends)
    func gracefulClose(backend: Reactor.BackendChoice) throws {
        let bench = try Bench(backend)
        let (client, server) = try bench.connectedPair()
        for index in 0..<1500 {
            try bench.connections.send(
                FrameHeader(typeID: UInt32(index), bodyLength: 0), body: [UInt8](repeating: 1, count: 500), on: client)
        }
        bench.connections.close(client)
        #expect(throws: FrameRefused.closed) {
            try bench.connections.send(FrameHeader(typeID: 1, bodyLength: 0), body: [], on: client)
        }
        #expect(
            try bench.spin {
                $0.has { $0 == .abandoned(server, .endOfStream) } && $0.has { $0 == .closed(client, .requested) }
            })
        let received = bench.recorder.frames.filter { $0.0 == server }
        #expect(received.count == 1500)
        #expect(received.map(\.1.typeID) == (0..<1500).map(UInt32.init))
    }

    @Test("a listener whose socket file is deleted listens anew; clients reach it again", arguments: backends)
    func relisten(backend: Reactor.BackendChoice) throws {
        let bench = try Bench(backend) {
            $0.keepAlive = KeepAlive.Configuration(probeAfter: .milliseconds(50), deadline: .milliseconds(200))
        }
        let path = "/tmp/ansar-relisten-\(getpid())-\(backend)"
        let listener = bench.connections.listen(on: .unix(path: path))
        #expect(try bench.spin { $0.listening != nil })
        #expect(unlink(path) == 0)
        #expect(
            try bench.spin {
                $0.has { if case .notListening(listener, _, _) = $0 { true } else { false } }
                    && $0.events.filter { if case .listening(listener, _) = $0 { true } else { false } }.count == 2
            })
        #expect(access(path, F_OK) == 0, "the socket file is back")
        bench.connections.connect(to: .unix(path: path))
        #expect(try bench.spin { !$0.connected.isEmpty && !$0.accepted.isEmpty })
        bench.connections.closeListener(listener)
        try bench.spin(within: .milliseconds(50)) { _ in false }
        #expect(access(path, F_OK) != 0, "closing the listener removes its file")
        // The slot serves the next listener under a new identifier; the old one is stale.
        let next = bench.connections.listen(on: .unix(path: path))
        #expect(next.value == listener.value && next != listener)
        bench.connections.closeListener(listener)
        #expect(try bench.spin { $0.has { $0 == .listening(next, .unix(path: path)) } })
        #expect(access(path, F_OK) == 0, "closing the stale identifier left the new listener alone")
        bench.connections.closeListener(next)
        try bench.spin(within: .milliseconds(20)) { _ in false }
    }

    @Test("a receiver that pauses makes TCP push back on the sender; resuming delivers everything", arguments: backends)
    func receiverBackPressure(backend: Reactor.BackendChoice) throws {
        let bench = try Bench(backend) { $0.sendQueueBytes = 64 * 1024 }
        let (client, server) = try bench.connectedPair()
        bench.connections.pauseReceiving(server)
        try bench.spin(within: .milliseconds(20)) { _ in false } // let the pause take effect
        let body = [UInt8](repeating: 3, count: 8 * 1024)
        var sent = 0
        var refused = false
        let deadline = Deadline.after(.seconds(20))
        while !refused && Deadline.now() < deadline {
            do {
                try bench.connections.send(FrameHeader(typeID: 1, bodyLength: 0), body: body, on: client)
                sent += 1
            } catch {
                #expect(error == .wouldBlock)
                // Refused: wait for room; with the receiver paused it never comes once the kernel's
                // buffers and the reactor's queue are full.
                refused = try !bench.spin(within: .milliseconds(300)) { $0.has { $0 == .writable(client) } }
                bench.recorder.events.removeAll { $0 == .writable(client) }
            }
        }
        #expect(refused, "the sender was held back")
        let delivered = bench.recorder.frames.filter { $0.0 == server }.count
        #expect(delivered == 0, "a paused receiver reads nothing")
        bench.connections.resumeReceiving(server)
        #expect(try bench.spin(within: .seconds(20)) { $0.frames.filter { $0.0 == server }.count == sent })
    }

    @Test("a frame queued outside the loop leaves on the next turn, not at the next event", arguments: backends)
    func sendOutsideTheLoop(backend: Reactor.BackendChoice) throws {
        let bench = try Bench(backend) {
            $0.networkKeepAlive = KeepAlive.Configuration(probeAfter: .seconds(20), deadline: .seconds(30))
        }
        let (client, server) = try bench.connectedPair()
        try bench.connections.send(FrameHeader(typeID: 4, bodyLength: 0), body: [4], on: client)
        let started = Deadline.now()
        // Turns that would each block for 2 s if nothing asked for a prompt one.
        for _ in 0..<4 where !bench.recorder.frames.contains(where: { $0.0 == server }) {
            try bench.reactor.turn(&bench.handler, timeout: 2_000_000_000)
        }
        #expect(bench.recorder.frames.contains { $0.0 == server && $0.1.typeID == 4 })
        #expect(Deadline.now().nanoseconds - started.nanoseconds < 2_000_000_000, "sooner than one turn that blocks")
    }

    @Test("a connect's deadline covers the handshake: a server that never answers times out", arguments: backends)
    func connectDeadline(backend: Reactor.BackendChoice) throws {
        let bench = try Bench(backend)
        // A socket that listens (the kernel completes the TCP handshake) but never speaks.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(fd, $0, length)
                _ = getsockname(fd, $0, &length)
            }
        }
        Glibc.listen(fd, 8)
        let started = Deadline.now()
        let connector = bench.connections.connect(
            to: .ipv4("127.0.0.1", port: UInt16(bigEndian: address.sin_port)), deadline: .milliseconds(200))
        #expect(try bench.spin { $0.has { $0 == .notConnected(connector, .handshakeTimeout, retryIn: nil) } })
        let waited = Deadline.now().nanoseconds - started.nanoseconds
        #expect(waited >= 190_000_000 && waited < 5_000_000_000, "\(waited / 1_000_000) ms")
    }
}
