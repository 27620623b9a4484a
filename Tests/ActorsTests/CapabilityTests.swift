import AnsarTestKit
import Testing
import Transport

@testable import Actors

/// Counts the Hellos it hears; answers a Finish with how many (as a Welcome's name).
final class Counter: Object {
    var heard = 0
    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Hello: heard += 1
        case is Finish: try context.reply(Welcome(myName: "\(heard)", yourName: ""))
        default: break
        }
    }
}

@Suite("A peer addresses only what it was handed")
struct CapabilityTests {
    @Test(
        "an object's number learned aside reaches nothing; handed in a message, it does; a peer that keeps guessing loses its link"
    )
    func handedOnly() throws {
        let endpoint = uniqueEndpoint("capabilities")
        let leaked = Latch<UInt64>()
        let server = RuntimeThread { mailbox in
            guard let counter = mailbox.create(Counter()) else { return Faulted("no counter") }
            leaked.set(counter.object) // known to the client, but never sent to it
            mailbox.listen(at: endpoint)
            var closed = 0
            while true {
                let message = try await mailbox.select(Hello.self, Finish.self, Closed.self, timeout: .seconds(20))
                switch message {
                case is Hello:
                    // Ordered behind anything the client sent the counter: what it heard so far.
                    let asker = mailbox.returnAddress
                    let count = try await mailbox.ask(Finish(), to: counter, expecting: Welcome.self)
                    try mailbox.send(Welcome(myName: (count as? Welcome)?.myName ?? "?", yourName: ""), to: asker)
                case is Finish: try mailbox.reply(Introduce(who: counter, others: []))
                case is Closed: closed += 1
                default: return Seen(events: ["links closed \(closed)"])
                }
                if closed == 1 { return Seen(events: ["links closed 1"]) }
            }
        }
        let client = RuntimeThread { mailbox in
            var seen: [String] = []
            guard let id = leaked.wait(upTo: .seconds(10)) else { return Faulted("no id") }
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(5)), Connected.self)
            let server = mailbox.returnAddress
            let guessed = Address(object: id, via: server)
            try mailbox.send(Hello(name: "guessed"), to: guessed)
            func heard() async throws -> String {
                let answer = try await mailbox.ask(
                    Hello(name: "count"), to: server, expecting: Welcome.self, timeout: .seconds(5))
                return (answer as? Welcome)?.myName ?? "\(answer)"
            }
            seen.append("after a guess: \(try await heard())")
            try mailbox.send(Finish(), to: server)
            guard let introduced = try await mailbox.select(Introduce.self, timeout: .seconds(5)) as? Introduce else {
                return Faulted("not introduced")
            }
            try mailbox.send(Hello(name: "handed"), to: introduced.who)
            seen.append("once handed: \(try await heard())")
            // A number never handed, named again and again, closes the link.
            let neverHanded = Address(object: id ^ 1, via: server)
            for _ in 0..<Runtime.missesBeforeClose { try mailbox.send(Hello(name: "guess"), to: neverHanded) }
            let ended = try await mailbox.select(Closed.self, Abandoned.self, timeout: .seconds(10))
            seen.append(ended is TimedOut ? "link kept" : "link closed")
            return Seen(events: seen)
        }
        #expect(client.join() as? Seen == Seen(events: ["after a guess: 0", "once handed: 1", "link closed"]))
        #expect(server.join() as? Seen == Seen(events: ["links closed 1"]))
    }
}
