import AnsarTestKit
import Reactor
import Testing
import Transport

@testable import Actors

#if canImport(Glibc)
    import Glibc
#endif

/// A handler that blocks its thread is a stall of the whole loop. These put one in a process (a
/// runtime on its own thread) linked to others over real sockets.
@Suite("A stalled loop: live peers are not declared lost, the stall itself is seen")
struct StallTests {
    struct Block: Message { var microseconds: UInt32 }
    struct Port: Message { var number: UInt16 }

    /// What one end saw of its link: "up", the reply, or how it ended.
    static func ending(_ message: any Message) -> String {
        switch message {
        case let abandoned as Abandoned: return "abandoned: \(abandoned.reason)"
        case let closed as Closed: return "closed: \(closed.reason)"
        default: return "\(type(of: message))"
        }
    }

    @Test("an object working through a backlog at 1 ms a message: turns end in time, and its links stay up")
    func backlog() throws {
        let endpoint = uniqueEndpoint("backlog")
        var quick = TransportConfiguration(secret: testSecret)
        quick.keepAlive = KeepAlive.Configuration(probeAfter: .milliseconds(100), deadline: .milliseconds(400))
        let busy = RuntimeThread(transport: quick) { mailbox in
            mailbox.listen(at: endpoint)
            _ = try await mailbox.select(Listening.self, timeout: .seconds(10))
            _ = try await mailbox.select(Accepted.self, timeout: .seconds(10))
            // 3,000 messages of 1 ms each: under a count-only budget (4,096 a turn) one turn of 3 s.
            for sequence in 0..<3000 { try mailbox.send(Ping(sequence: sequence), to: mailbox.address) }
            for _ in 0..<3000 {
                _ = try await mailbox.select(Ping.self, timeout: .seconds(10))
                usleep(1000)
            }
            let ask = try await mailbox.select(Hello.self, Abandoned.self, Closed.self, timeout: .seconds(10))
            if ask is Hello { try mailbox.reply(Welcome(myName: "busy", yourName: "peer")) }
            _ = try await mailbox.select(Closed.self, Abandoned.self, timeout: .seconds(10))
            return Seen(events: [Self.ending(ask)])
        }
        let peer = RuntimeThread(transport: quick) { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try await mailbox.select(Connected.self, timeout: .seconds(10))
            let link = mailbox.returnAddress
            let quiet = try await mailbox.select(Abandoned.self, Closed.self, timeout: .milliseconds(3500))
            try mailbox.send(Hello(name: "peer"), to: link)
            let welcome = try await mailbox.select(Welcome.self, Abandoned.self, Closed.self, timeout: .seconds(10))
            mailbox.close(link)
            return Seen(events: [Self.ending(quiet), Self.ending(welcome)])
        }
        #expect(peer.join() as? Seen == Seen(events: ["TimedOut", "Welcome"]))
        #expect(busy.join() as? Seen == Seen(events: ["Hello"]))
    }

    @Test("blocked for 1.2 s of a 1.5 s deadline: neither end loses the other")
    func shortStall() throws {
        let endpoint = uniqueEndpoint("stall")
        let stalled = RuntimeThread { mailbox in
            mailbox.listen(at: endpoint)
            _ = try await mailbox.select(Listening.self, timeout: .seconds(10))
            _ = try await mailbox.select(Accepted.self, timeout: .seconds(10))
            let block = try expectType(try await mailbox.select(Block.self, timeout: .seconds(10)), Block.self)
            usleep(block.microseconds) // the fault: a handler that blocks the loop
            try mailbox.reply(Ack())
            // The peer waits out more deadlines, then asks: the link must still be up.
            let after = try await mailbox.select(Ping.self, Abandoned.self, Closed.self, timeout: .seconds(10))
            try mailbox.reply(Pong(sequence: 1))
            _ = try await mailbox.select(Closed.self, Abandoned.self, timeout: .seconds(10))
            return Seen(events: [Self.ending(after)])
        }
        let peer = RuntimeThread { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try await mailbox.select(Connected.self, timeout: .seconds(10))
            let link = mailbox.returnAddress
            try mailbox.send(Block(microseconds: 1_200_000), to: link)
            let first = try await mailbox.select(Ack.self, Abandoned.self, Closed.self, timeout: .seconds(10))
            // Wait out three more deadlines in quiet; nothing may end the link.
            let quiet = try await mailbox.select(Abandoned.self, Closed.self, timeout: .seconds(3))
            try mailbox.send(Ping(sequence: 1), to: link)
            let pong = try await mailbox.select(Pong.self, Abandoned.self, Closed.self, timeout: .seconds(10))
            mailbox.close(link)
            return Seen(events: [Self.ending(first), Self.ending(quiet), Self.ending(pong)])
        }
        #expect(peer.join() as? Seen == Seen(events: ["Ack", "TimedOut", "Pong"]))
        #expect(stalled.join() as? Seen == Seen(events: ["Ping"]))
    }

    @Test(
        "blocked for 3 s: the peer with a 1.5 s deadline sees it; the stalled end blames nobody, and keeps its peer whose deadline is longer"
    )
    func longStall() throws {
        let unix = uniqueEndpoint("stall-long")
        // The stalled process judges TCP links at 1.5 s; its TCP peer waits 4 s before it probes, so
        // nothing arrives from it during the 3 s stall: past the stalled end's own deadline, only
        // the never-blame rule keeps it from dropping that live peer.
        var stalledConfiguration = TransportConfiguration(secret: testSecret)
        stalledConfiguration.networkKeepAlive = KeepAlive.Configuration(
            probeAfter: .milliseconds(500), deadline: .milliseconds(1500))
        var patientConfiguration = TransportConfiguration(secret: testSecret)
        patientConfiguration.networkKeepAlive = KeepAlive.Configuration(probeAfter: .seconds(4), deadline: .seconds(8))
        let patient = RuntimeThread(transport: patientConfiguration) { mailbox in
            let port = try expectType(try await mailbox.select(Port.self, timeout: .seconds(10)), Port.self)
            mailbox.connect(to: .ipv4("127.0.0.1", port: port.number), backoff: retrying)
            _ = try await mailbox.select(Connected.self, timeout: .seconds(10))
            let link = mailbox.returnAddress
            _ = try expectType(try await mailbox.select(Ack.self, timeout: .seconds(10)), Ack.self)
            // Past the stall (3 s of quiet here is fine: 8 s deadline), ask: the link is still up.
            let ended = try await mailbox.select(Abandoned.self, Closed.self, timeout: .seconds(5))
            try mailbox.send(Ping(sequence: 2), to: link)
            let pong = try await mailbox.select(Pong.self, Abandoned.self, Closed.self, timeout: .seconds(10))
            return Seen(events: [Self.ending(ended), Self.ending(pong)])
        }
        let patientMain = try #require(patient.mainAddress(), "patient did not start")
        let stalled = RuntimeThread(transport: stalledConfiguration) { mailbox in
            mailbox.listen(at: unix)
            mailbox.listen(at: .ipv4("127.0.0.1", port: 0))
            var links: [Address] = []
            while links.count < 2 {
                switch try await mailbox.select(Listening.self, Accepted.self, timeout: .seconds(10)) {
                case let listening as Listening:
                    if let port = listening.address.port {
                        try mailbox.send(Port(number: port), to: patientMain)
                    }
                case is Accepted: links.append(mailbox.returnAddress)
                default: return Faulted("stalled end: no peers")
                }
            }
            for link in links { try mailbox.send(Ack(), to: link) } // both are up: the hasty peer may ask
            let block = try expectType(try await mailbox.select(Block.self, timeout: .seconds(10)), Block.self)
            usleep(block.microseconds) // the fault
            // The short-deadline peer gave up on us meanwhile; the other is still there.
            var events: [String] = []
            while events.count < 2 {
                let message = try await mailbox.select(Ping.self, Abandoned.self, Closed.self, timeout: .seconds(10))
                if message is Ping { try mailbox.reply(Pong(sequence: 2)) }
                events.append(
                    Self.ending(message).hasPrefix("abandoned: peer silent")
                        ? "blamed a peer" : message is Ping ? "Ping" : "a link ended")
            }
            return Seen(events: events.sorted())
        }
        let hasty = RuntimeThread { mailbox in
            mailbox.connect(to: unix, backoff: retrying)
            _ = try await mailbox.select(Connected.self, timeout: .seconds(10))
            let link = mailbox.returnAddress
            _ = try expectType(try await mailbox.select(Ack.self, timeout: .seconds(10)), Ack.self)
            try mailbox.send(Block(microseconds: 3_000_000), to: link)
            let ending = try await mailbox.select(Abandoned.self, Closed.self, timeout: .seconds(10))
            return Seen(events: [
                Self.ending(ending).hasPrefix("abandoned: peer silent") ? "saw the stall" : Self.ending(ending)
            ])
        }
        #expect(hasty.join() as? Seen == Seen(events: ["saw the stall"]))
        #expect(patient.join() as? Seen == Seen(events: ["TimedOut", "Pong"]))
        #expect(stalled.join() as? Seen == Seen(events: ["Ping", "a link ended"]))
    }
}
