import AnsarTestKit
import Testing

@testable import Reactor

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Sockets: TCP v4/v6 and Unix, accept, connect, receive, send")
struct EchoTests {
    static let addresses = [
        "127.0.0.1:0", "[::1]:0", "@ansar-test-echo-\(getpid())", "/tmp/ansar-test-echo-\(getpid())",
    ]

    @Test("echo round trips", arguments: backends, addresses)
    func echo(kind: BackendKind, address: String) throws {
        let reactor = try makeReactor(kind)
        var recorder = Recorder()
        let unique = address.contains("ansar-test") ? "\(address)-\(kind)" : address
        let (listener, client, server) = try connectedPair(reactor, &recorder, address: unique)
        if case .ipv4(_, let port) = try reactor.localAddress(of: listener) { #expect(port != 0) }
        if case .ipv6(_, let port) = try reactor.localAddress(of: listener) { #expect(port != 0) }
        recorder.echoing.insert(server)
        for round in 0..<50 {
            let message = pattern(64, seed: round)
            try reactor.send(message, on: client)
            let expected = (0...round).flatMap { pattern(64, seed: $0) }
            #expect(try spin(reactor, &recorder) { $0.bytes[client]?.count == expected.count })
            #expect(recorder.bytes[client] == expected)
        }
        try reactor.close(client)
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .receiveEnded(server, nil) } })
        #expect(recorder.has { $0 == .closed(client, discardedBytes: 0) })
        try reactor.close(listener)
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .closed(listener, discardedBytes: 0) } })
        if address.hasPrefix("/") { #expect(access(unique, F_OK) != 0, "the socket file is removed on close") }
    }

    @Test("TCP_NODELAY is on for TCP sockets", arguments: backends)
    func noDelay(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        var recorder = Recorder()
        let (_, client, server) = try connectedPair(reactor, &recorder)
        for socket in [client, server] {
            var value: Int32 = 0
            var length = socklen_t(4)
            getsockopt(reactor.sockets[socket.index].fd, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length)
            #expect(value == 1)
        }
    }

    @Test("many small sends in one turn are coalesced and arrive in order", arguments: backends)
    func coalescing(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        var recorder = Recorder()
        let (_, client, server) = try connectedPair(reactor, &recorder)
        var expected: [UInt8] = []
        for index in 0..<2000 {
            let message = pattern(10, seed: index)
            expected += message
            try reactor.send(message, on: client)
        }
        #expect(try reactor.queuedBytes(on: client) == 20_000, "all queued before the turn flushes them")
        #expect(try spin(reactor, &recorder) { $0.bytes[server]?.count == expected.count })
        #expect(recorder.bytes[server] == expected)
    }

    @Test(
        "sockets flushing many chunks and one chunk in the same turn each deliver their own bytes",
        arguments: backends)
    func vectorsPerSocket(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        var recorder = Recorder()
        // Neighbouring slots: a one-chunk send's iovec and a many-chunk send's vector must not meet.
        let pairs = try (0..<6).map { _ in try connectedPair(reactor, &recorder) }
        var expected: [SocketID: [UInt8]] = [:]
        for (index, pair) in pairs.enumerated() {
            let stream = pattern(index.isMultiple(of: 2) ? 200 * 1024 : 100, seed: index)
            try reactor.send(stream, on: pair.client)
            expected[pair.server] = stream
        }
        #expect(
            try spin(reactor, &recorder) { recorder in
                expected.allSatisfy { recorder.bytes[$0.key]?.count ?? 0 >= $0.value.count }
            })
        for (server, stream) in expected {
            let got = recorder.bytes[server] ?? []
            let wrong = zip(got, stream).filter { $0 != $1 }.count + abs(got.count - stream.count)
            #expect(wrong == 0, "server \(server): \(wrong) of \(stream.count) bytes wrong")
        }
    }

    @Test("a large stream under back-pressure: refused sends, writable, nothing lost", arguments: backends)
    func backPressure(kind: BackendKind) throws {
        var limits = Limits()
        limits.sendQueueBytesPerSocket = 64 * 1024
        let reactor = try makeReactor(kind, limits: limits)
        var recorder = Recorder()
        let (_, client, server) = try connectedPair(reactor, &recorder)
        let total = 8 * 1024 * 1024
        let stream = pattern(total)
        var offset = 0
        var refusals = 0
        func pump(_ reactor: Reactor) {
            while offset < total {
                let length = min(4096, total - offset)
                do {
                    try reactor.send(stream[offset..<(offset + length)].span, on: client)
                    offset += length
                } catch {
                    #expect(error == .limitReached(.sendQueueBytes))
                    refusals += 1
                    return
                }
            }
        }
        pump(reactor)
        recorder.onEvent = { event, reactor, _ in
            if case .writable(let socket) = event, socket == client { pump(reactor) }
        }
        #expect(try spin(reactor, &recorder, within: .seconds(60)) { $0.bytes[server]?.count ?? 0 >= total })
        #expect(refusals > 0, "the bounded queue refused at least once")
        #expect(recorder.bytes[server] == stream)
    }

    @Test("a socket refused for want of shared chunks hears writable when another frees some", arguments: backends)
    func chunkStarvation(kind: BackendKind) throws {
        var limits = Limits()
        limits.sendChunks = 8
        limits.sendChunkSize = 1024
        limits.sendQueueBytesPerSocket = 8 * 1024
        let reactor = try makeReactor(kind, limits: limits)
        var recorder = Recorder()
        let (_, first, firstServer) = try connectedPair(reactor, &recorder)
        let (_, second, secondServer) = try connectedPair(reactor, &recorder)
        try reactor.send(pattern(8 * 1024), on: first)
        #expect(throws: ReactorError.limitReached(.sendChunks)) { try reactor.send(pattern(10), on: second) }
        #expect(try reactor.sendCapacity(on: second) == 0)
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .writable(second) } })
        try reactor.send(pattern(10), on: second)
        #expect(
            try spin(reactor, &recorder) {
                $0.bytes[firstServer]?.count == 8 * 1024 && $0.bytes[secondServer]?.count == 10
            })
    }

    @Test("data and end of stream arriving together are both delivered", arguments: backends)
    func dataThenEndOfStream(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        var recorder = Recorder()
        let listener = try reactor.listen(on: .ipv4("127.0.0.1", port: 0))
        let peer = rawConnect(port: try #require(reactor.localAddress(of: listener).port))
        defer { close(peer) }
        #expect(try spin(reactor, &recorder) { !$0.accepted().isEmpty })
        let server = recorder.accepted()[0]
        #expect(write(peer, pattern(5), 5) == 5)
        #expect(try spin(reactor, &recorder) { $0.bytes[server]?.count == 5 })
        // Both arrive while the reactor is not looking: one readiness event carries data and FIN.
        #expect(write(peer, pattern(10), 10) == 10)
        shutdown(peer, Int32(SHUT_WR))
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .receiveEnded(server, nil) } })
        #expect(recorder.bytes[server]?.count == 15)
    }

    @Test("shutting down cancels every io_uring operation in flight and waits for the kernel to let go")
    func shutdownReleasesKernel() throws {
        let reactor = try makeReactor(.uring)
        try reactor.watchSignals([SIGUSR2])
        var recorder = Recorder()
        let (_, client, _) = try connectedPair(reactor, &recorder)
        try reactor.send(pattern(100), on: client)
        try spin(reactor, &recorder) { $0.bytes.values.contains { $0.count == 100 } }
        // In flight now: the listener's accept, both receives, the wake and the signal reads.
        #expect(reactor.releaseKernelHold() == 0)
        let waker = reactor.waker
        waker.wake() // a late wake finds no read pointing into the reactor's memory
    }
}
