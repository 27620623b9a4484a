import AnsarTestKit
import Cryptography
import Reactor
import Testing

@testable import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// Each bad input closes only the offending connection, with its reason, while a bystander
/// connection on the same reactor keeps echoing.
@Suite("Bad input closes only the offender")
struct BadInputTests {
    /// A listener, an echoing bystander connection through it, and the port for a raw peer.
    final class Setup {
        let bench: Bench
        let port: UInt16
        let bystander: ConnectionID

        init(_ backend: Reactor.BackendChoice) throws {
            bench = try Bench(backend) {
                $0.networkKeepAlive = KeepAlive.Configuration(
                    probeAfter: .milliseconds(100), deadline: .milliseconds(400))
                $0.handshakeTimeout = .milliseconds(500)
                $0.maximumBody = 64 * 1024
            }
            port = try bench.listen().port!
            bench.recorder.echo = true
            bench.connections.connect(to: .ipv4("127.0.0.1", port: port))
            #expect(try bench.spin { !$0.connected.isEmpty && !$0.accepted.isEmpty })
            bystander = bench.recorder.connected[0]
        }

        func bystanderStillServes() throws -> Bool {
            let before = bench.recorder.frames.filter { $0.0 == bystander }.count
            try bench.connections.send(FrameHeader(typeID: 5, bodyLength: 0), body: [1, 2, 3], on: bystander)
            return try bench.spin { $0.frames.filter { $0.0 == self.bystander }.count == before + 1 }
        }

        /// A raw peer through its handshake, and the server-side connection it got.
        func handshakenPeer() throws -> (RawPeer, ConnectionID) {
            let peer = try RawPeer(port: port)
            #expect(try peer.handshake(secret: Bench.realm, bench: bench))
            #expect(try bench.spin { $0.accepted.count == 2 })
            return (peer, bench.recorder.accepted[1])
        }

        func closedFor(_ id: ConnectionID, _ matches: (CloseReason) -> Bool) throws -> Bool {
            try bench.spin {
                $0.has {
                    switch $0 {
                    case .closed(id, let reason), .abandoned(id, let reason): return matches(reason)
                    default: return false
                    }
                }
            }
        }
    }

    @Test(
        "garbage, a foreign handshake version, the wrong realm, a plaintext client: refused before acceptance",
        arguments: backends, ["garbage", "version", "realm", "plaintext frames", "plaintext mode"])
    func handshakeRefusals(backend: Reactor.BackendChoice, kind: String) throws {
        let setup = try Setup(backend)
        let peer = try RawPeer(port: setup.port)
        switch kind {
        case "garbage":
            peer.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + [UInt8](repeating: 0xEE, count: 60))
        case "version":
            var shake = Handshake(role: .client, secret: Bench.realm, identity: .generate(), encrypted: true)
            var hello = shake.start()!
            hello[4] = 9
            peer.write(hello)
        case "realm":
            #expect(try !peer.handshake(secret: .generate(), bench: setup.bench), "no reply for a stranger")
        case "plaintext frames":
            peer.write(frame(1, [UInt8](repeating: 7, count: 100)))
        default:
            #expect(try !peer.handshake(secret: Bench.realm, encrypted: false, bench: setup.bench))
        }
        #expect(try peer.closedByPeer(bench: setup.bench))
        #expect(setup.bench.recorder.accepted.count == 1, "the offender was never accepted")
        // The refusal is logged with the peer's address and the reason.
        let refusal = setup.bench.log.entries.first { entry in
            entry.message.description == "connection ended"
                && entry.metadata["peer"]?.description.hasPrefix("127.0.0.1:") == true
                && entry.metadata["reason"]?.description.hasPrefix("handshake failed") == true
        }
        #expect(refusal != nil, "logged: \(setup.bench.log.entries.map { "\($0.message) \($0.metadata)" })")
        #expect(try setup.bystanderStillServes())
    }

    @Test("a client of another realm is told the handshake failed; the server keeps serving", arguments: backends)
    func strangerClient(backend: Reactor.BackendChoice) throws {
        let setup = try Setup(backend)
        let stranger = try Bench(backend, secret: .generate())
        let connector = stranger.connections.connect(to: .ipv4("127.0.0.1", port: setup.port))
        #expect(
            try spinBoth(stranger, setup.bench) { client, _ in
                client.has {
                    guard case .notConnected(connector, .protocolError(.handshake(let why)), nil) = $0 else {
                        return false
                    }
                    return why.contains("during the handshake")
                }
            })
        #expect(try setup.bystanderStillServes())
        #expect(setup.bench.recorder.accepted.count == 1)
    }

    @Test("a recorded client hello sent again is refused before the server makes a key or answers", arguments: backends)
    func replayedHello(backend: Reactor.BackendChoice) throws {
        let setup = try Setup(backend)
        var client = Handshake(role: .client, secret: Bench.realm, identity: .generate(), encrypted: true)
        let started = client.start()
        let hello = try #require(started)
        let first = try RawPeer(port: setup.port)
        first.write(hello)
        #expect(try first.read(Handshake.serverHelloSize, bench: setup.bench) != nil, "the first is answered")
        let replay = try RawPeer(port: setup.port)
        replay.write(hello)
        #expect(try replay.closedByPeer(bench: setup.bench), "closed without a byte")
        #expect(
            setup.bench.log.entries.contains {
                $0.metadata["reason"]?.description == "handshake failed: a client hello seen before (a replay)"
            })
        #expect(try setup.bystanderStillServes())
    }

    @Test("a flood of refused handshakes is logged at most ten lines a second", arguments: backends)
    func refusalLogBudget(backend: Reactor.BackendChoice) throws {
        let setup = try Setup(backend)
        let start = Deadline.now()
        for _ in 0..<100 {
            let stranger = try RawPeer(port: setup.port)
            stranger.write(Array("GET / HTTP/1.1\r\n\r\n".utf8) + [UInt8](repeating: 0xEE, count: 60))
            #expect(try stranger.closedByPeer(bench: setup.bench))
        }
        let seconds = Int(start.nanoseconds(until: .now()) / 1_000_000_000) + 1
        let lines = setup.bench.log.entries.filter {
            $0.metadata["reason"]?.description.contains("not an ansar handshake") == true
        }
        #expect(!lines.isEmpty && lines.count <= 10 * seconds, "\(lines.count) lines in \(seconds) s")
        #expect(try setup.bystanderStillServes())
    }

    @Test("a record that fails authentication, a replayed record", arguments: backends, [true, false])
    func badRecords(backend: Reactor.BackendChoice, replay: Bool) throws {
        let setup = try Setup(backend)
        let (peer, id) = try setup.handshakenPeer()
        var record = peer.record(frame(1, [1, 2, 3]))
        if replay {
            peer.write(record)
            #expect(try setup.bench.spin { $0.frames.contains { $0.0 == id } }, "the first copy is fine")
        } else {
            record[6] ^= 0x01
        }
        peer.write(record)
        #expect(try setup.closedFor(id) { $0 == .protocolError(.recordRejected) })
        #expect(try peer.closedByPeer(bench: setup.bench))
        #expect(try setup.bystanderStillServes())
    }

    @Test(
        "bad frames inside good records: wrong magic, length over the maximum, truncated header",
        arguments: backends, ["magic", "oversize", "truncated"])
    func badFrames(backend: Reactor.BackendChoice, kind: String) throws {
        let setup = try Setup(backend)
        let (peer, id) = try setup.handshakenPeer()
        switch kind {
        case "magic":
            var bad = frame(1, [1])
            bad[1] = 0x58
            peer.write(peer.record(bad))
            #expect(try setup.closedFor(id) { $0 == .protocolError(.badMagic(0x5841)) })
        case "oversize":
            var header: [UInt8] = []
            FrameHeader(typeID: 1, bodyLength: 64 * 1024 + 1).write(into: &header)
            peer.write(peer.record(header))
            #expect(
                try setup.closedFor(id) {
                    $0 == .protocolError(.frameTooLarge(length: 64 * 1024 + 1, maximum: 64 * 1024))
                })
        default:
            peer.write(peer.record(Array(frame(1, [1, 2]).prefix(20))))
            shutdown(peer.fd, Int32(SHUT_WR))
            #expect(try setup.closedFor(id) { $0 == .protocolError(.truncated(missing: 12)) })
        }
        #expect(try setup.bystanderStillServes())
    }

    @Test(
        "a peer that stops mid-frame is dropped at the keep-alive deadline; one that trickles a byte at a time, by the minimum rate",
        arguments: backends, [false, true])
    func stalls(backend: Reactor.BackendChoice, trickle: Bool) throws {
        let setup = try Setup(backend)
        let (staller, id) = try setup.handshakenPeer()
        let partial = frame(1, [UInt8](repeating: 1, count: 1000))
        if trickle {
            // One byte per 50 ms, each in a record of its own: every record is authenticated life
            // for the keep-alive, so only the rate rule can tell this peer from a healthy one.
            var sent = 0
            while !setup.bench.recorder.has({ if case .closed(id, _) = $0 { true } else { false } }) && sent < 400 {
                staller.write(staller.record([partial[sent]]))
                sent += 1
                try setup.bench.spin(within: .milliseconds(50)) { _ in false }
            }
            #expect(
                try setup.closedFor(id) {
                    if case .protocolError(.tooSlow(let rate, minimum: 1024)) = $0 { rate < 1024 } else { false }
                })
        } else {
            staller.write(staller.record(Array(partial.prefix(500))))
            #expect(try setup.closedFor(id) { if case .protocolError(.peerSilent) = $0 { true } else { false } })
        }
        #expect(try setup.bystanderStillServes())
    }

    @Test(
        "a peer that stops reading while we stream to it: once its window closes, it is lost at the deadline",
        arguments: backends)
    func peerStopsReading(backend: Reactor.BackendChoice) throws {
        let setup = try Setup(backend)
        let (deaf, id) = try setup.handshakenPeer()
        // Its kernel takes what fits in its buffers, then the window closes: no progress, and
        // probes wait behind the data it never reads.
        let body = [UInt8](repeating: 5, count: 32 * 1024)
        var lost = false
        for _ in 0..<2000 where !lost {
            try? setup.bench.connections.send(FrameHeader(typeID: 6, bodyLength: 0), body: body, on: id)
            lost = try setup.bench.spin(within: .milliseconds(10)) {
                $0.has { if case .abandoned(id, .protocolError(.peerSilent)) = $0 { true } else { false } }
            }
        }
        #expect(try setup.closedFor(id) { if case .protocolError(.peerSilent) = $0 { true } else { false } })
        #expect(try setup.bystanderStillServes())
    }

    @Test("control records: a probe is answered at once, an unknown one closes the connection", arguments: backends)
    func controlRecords(backend: Reactor.BackendChoice) throws {
        let setup = try Setup(backend)
        let (peer, id) = try setup.handshakenPeer()
        peer.write(peer.record([1], kind: .control))
        // The server probes this quiet peer too: read records until the answer is among them.
        var opened: [(RecordKind, [UInt8])] = []
        while opened.count < 20 && !opened.contains(where: { $0.1 == [2] }) {
            let record = try #require(try peer.read(4 + 1 + AEAD.tagBytes, bench: setup.bench))
            try peer.opener!.feed(record.span) { kind, payload throws(TransportError) in
                var bytes: [UInt8] = []
                for index in payload.indices { bytes.append(payload[index]) }
                opened.append((kind, bytes))
            }
        }
        #expect(opened.allSatisfy { $0.0 == .control && ($0.1 == [1] || $0.1 == [2]) }, "probes and the answer only")
        #expect(opened.contains { $0.1 == [2] }, "the answer")
        peer.write(peer.record([9], kind: .control))
        #expect(try setup.closedFor(id) { $0 == .protocolError(.unknownControl(9)) })
        #expect(try setup.bystanderStillServes())
    }

    @Test(
        "a connection reflected back to its own listener is refused; one to it on purpose is not", arguments: backends)
    func reflected(backend: Reactor.BackendChoice) throws {
        let setup = try Setup(backend) // its bystander connects to its own listener, on purpose
        // Connectors' numbers are used again: look only at what follows the connect.
        func refusal(_ connect: () -> ConnectorID) throws -> String? {
            let seen = setup.bench.recorder.events.count
            let connector = connect()
            var reason: String?
            _ = try setup.bench.spin {
                for case .notConnected(connector, let why, nil) in $0.events[seen...] { reason = "\(why)" }
                return reason != nil
            }
            return reason
        }
        let proxy = TCPForwarder(to: setup.port)
        let reflected = try refusal { setup.bench.connections.connect(to: .ipv4("127.0.0.1", port: proxy.port)) }
        #expect(reflected == "handshake failed: peer is this process (a connection that came back to it)")
        // Asked for someone else's identity, its own listener does not pass either.
        let other = Identity.generate().publicKey
        let wrong = try refusal {
            setup.bench.connections.connect(to: .ipv4("127.0.0.1", port: setup.port), expecting: other)
        }
        #expect(wrong == "handshake failed: peer is this process, not the expected \(other.short)")
        // Through the proxy, expecting itself: taken.
        let before = setup.bench.recorder.connected.count
        let again = TCPForwarder(to: setup.port)
        setup.bench.connections.connect(
            to: .ipv4("127.0.0.1", port: again.port), expecting: setup.bench.connections.identity.publicKey)
        #expect(try setup.bench.spin { $0.connected.count == before + 1 })
        #expect(try setup.bystanderStillServes())
    }
}
