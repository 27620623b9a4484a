import AnsarTestKit
import Reactor
import Testing
import Transport

@testable import Actors

/// The credit ledger alone, with no socket: windows, grants, who is owed what.
@Suite("Credit per destination: the ledger")
struct CreditLedgerTests {
    let link = ConnectionID(socket: SocketID(packed: 1 << 32 | 7)!)
    let alice = Address(local: 0xA11CE)
    let bob = Address(local: 0xB0B)

    func grants(_ entries: [(UInt64, Int)]) -> [UInt8] {
        var body: [UInt8] = []
        for (destination, count) in entries { CreditFrame.append(destination: destination, count: count, to: &body) }
        return body
    }

    @Test("a receiver takes at most its window for one destination, and others are not affected")
    func receiverWindow() {
        let credit = LinkCredit(link: link, window: 3)
        for _ in 0..<3 { #expect(credit.received(for: 10) != nil) }
        #expect(credit.received(for: 10) == nil, "the fourth is beyond the window")
        #expect(credit.received(for: 11) != nil, "another destination has its own window")
        let account = credit.received(for: 11)!
        account.ungranted -= 2 // granted back
        #expect(credit.received(for: 11) != nil)
    }

    @Test(
        "a sender stops at the peer's window, waits, and is told when a grant makes room; grants settle senders oldest first"
    )
    func senderWindow() throws {
        let credit = LinkCredit(link: link, window: 8)
        // The peer says its window is 3.
        #expect(try credit.granted(window: 3, grants: grants([]).span).isEmpty)
        for sender in [alice, alice, bob] {
            let account = try #require(credit.mayGo(to: 20, waiting: sender))
            account.sent(by: sender)
        }
        #expect(credit.mayGo(to: 20, waiting: bob) == nil, "credit spent")
        #expect(credit.mayGo(to: 21, waiting: bob) != nil, "another destination still has credit")
        #expect(credit.waitingSenders() == [bob])
        let writable = try credit.granted(window: 3, grants: grants([(20, 1)]).span)
        #expect(writable == [bob])
        #expect(credit.waitingSenders().isEmpty)
        let lost = credit.unconfirmed().map { "\($0.sender.object):\($0.destination):\($0.count)" }.sorted()
        #expect(
            lost == ["\(alice.object):20:1", "\(bob.object):20:1"].sorted(), "the grant settled Alice's first message")
    }

    @Test("a grant beyond what was sent, or a torn grant, is a protocol violation")
    func violations() throws {
        let credit = LinkCredit(link: link, window: 8)
        credit.mayGo(to: 5, waiting: alice)!.sent(by: alice)
        #expect(throws: LinkCredit.Violation.overConfirmed(destination: 5, granted: 2, outstanding: 1)) {
            try credit.granted(window: 8, grants: grants([(5, 2)]).span)
        }
        #expect(throws: LinkCredit.Violation.overConfirmed(destination: 6, granted: 1, outstanding: 0)) {
            try credit.granted(window: 8, grants: grants([(6, 1)]).span)
        }
        #expect(throws: LinkCredit.Violation.malformed(11)) {
            try credit.granted(window: 8, grants: Array(grants([(5, 1)]).dropLast()).span)
        }
    }

    @Test("the sender's unconfirmed count follows sends and grants exactly, through many runs of senders")
    func exactAccounting() throws {
        let credit = LinkCredit(link: link, window: 8)
        _ = try credit.granted(window: 1_000, grants: grants([]).span)
        var sent = [alice.object: 0, bob.object: 0]
        for index in 0..<900 {
            let sender = index % 7 < 4 ? alice : bob
            credit.mayGo(to: 9, waiting: sender)!.sent(by: sender)
            sent[sender.object]! += 1
        }
        // The first 500 are confirmed in uneven grants.
        var confirmed = 0
        for step in [1, 99, 3, 197, 200] {
            _ = try credit.granted(window: 1_000, grants: grants([(9, step)]).span)
            confirmed += step
        }
        var expected = [alice.object: 0, bob.object: 0]
        for index in 500..<900 { expected[index % 7 < 4 ? alice.object : bob.object]! += 1 }
        let lost = Dictionary(uniqueKeysWithValues: credit.unconfirmed().map { ($0.sender.object, $0.count) })
        #expect(lost == expected)
        #expect(confirmed == 500)
    }
}

/// Credit over real connections between runtime threads.
@Suite("Credit per destination: over a connection")
struct CreditLinkTests {
    /// Sends Pings `from..<` to `target` until one is refused; returns the next sequence.
    func fill(_ mailbox: Mailbox, to target: Address, from start: Int) throws -> Int {
        var sequence = start
        var refused = false
        while !refused {
            do throws(SendRefused) {
                try mailbox.send(Ping(sequence: sequence), to: target)
                sequence += 1
            } catch {
                guard case .linkBusy = error else { throw error }
                refused = true
            }
        }
        return sequence
    }

    /// A server whose main object holds every Ping until a Tock comes, passed on by a second,
    /// fast object that takes `fastTotal` Pings first. Returns what `then` makes of the held Pings.
    func slowAndFast(
        _ endpoint: SocketAddress, window: Int, fastTotal: Int,
        then: @escaping @Sendable (Mailbox, Address) async throws -> any Message
    ) -> RuntimeThread {
        var limits = RuntimeLimits()
        limits.linkCredit = window
        return RuntimeThread(limits: limits) { mailbox in
            mailbox.listen(at: endpoint)
            let main = mailbox.address
            guard
                let fast = mailbox.create({ box in
                    let result = try await receiveInOrder(box, total: fastTotal)
                    _ = try expectType(try await box.select(Tock.self, timeout: .seconds(60)), Tock.self)
                    try box.send(Tock(), to: main)
                    return result
                })
            else { return Faulted("no room for the fast object") }
            _ = try expectType(try await mailbox.select(Accepted.self, timeout: .seconds(10)), Accepted.self)
            let link = mailbox.returnAddress
            try mailbox.reply(Introduce(who: fast, others: []))
            // Pings wait in the mailbox, unsettled: their credit does not come back.
            _ = try expectType(
                try await mailbox.select(Tock.self, saving: .only(Ping.self), timeout: .seconds(60)), Tock.self)
            return try await then(mailbox, link)
        }
    }

    @Test(
        "a slow object slows only the sends addressed to it: its credit runs out, the connection is still read, another object keeps its stream"
    )
    func slowObjectAlone() throws {
        let endpoint = uniqueEndpoint("credit-slow")
        let server = slowAndFast(endpoint, window: 256, fastTotal: 5_000) { mailbox, _ in
            try await receiveInOrder(mailbox, total: 2_000)
        }
        let client = RuntimeThread { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(10)), Connected.self)
            let slow = mailbox.returnAddress
            let fast = try expectType(try await mailbox.select(Introduce.self, timeout: .seconds(10)), Introduce.self)
                .who
            var seen: [String] = []
            var next = try fill(mailbox, to: slow, from: 0)
            seen.append("slow refused after \(next)")
            _ = try await sendInOrder(mailbox, total: 5_000, to: fast)
            let pong = try expectType(try await mailbox.select(Pong.self, timeout: .seconds(30)), Pong.self)
            seen.append("fast received \(pong.sequence)")
            try mailbox.send(Tock(), to: fast)
            // The slow object works off its backlog: its credit comes back, and so does Writable.
            while next < 2_000 {
                _ = try expectType(try await mailbox.select(Writable.self, timeout: .seconds(30)), Writable.self)
                next = min(try fill(mailbox, to: slow, from: next), 2_000)
            }
            let last = try expectType(try await mailbox.select(Pong.self, timeout: .seconds(30)), Pong.self)
            seen.append("slow received \(last.sequence)")
            return Seen(events: seen)
        }
        #expect(
            client.join() as? Seen
                == Seen(events: ["slow refused after 256", "fast received 5000", "slow received 2000"]))
        #expect(server.join() is Ack)
    }

    @Test(
        "a lost connection tells each sender how many of its messages the far end never confirmed, and the owner's Abandoned lists them all"
    )
    func unconfirmedOnLoss() throws {
        let endpoint = uniqueEndpoint("credit-loss")
        // The server takes 10 of the held Pings (their credit goes back), then drops the connection.
        let server = slowAndFast(endpoint, window: 256, fastTotal: 1) { mailbox, link in
            for _ in 0..<10 {
                _ = try expectType(
                    try await mailbox.select(Ping.self, saving: .only(Ping.self), timeout: .seconds(10)), Ping.self)
            }
            mailbox.close(link) // a graceful close grants what was taken first
            _ = try expectType(
                try await mailbox.select(Closed.self, saving: .only(Ping.self), timeout: .seconds(10)), Closed.self)
            return Ack()
        }
        let client = RuntimeThread { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(10)), Connected.self)
            let slow = mailbox.returnAddress
            let fast = try expectType(try await mailbox.select(Introduce.self, timeout: .seconds(10)), Introduce.self)
                .who
            let main = mailbox.address
            for sequence in 0..<100 { try mailbox.send(Ping(sequence: sequence), to: slow) }
            // A second sender spends the rest of the slow object's credit, then waits to hear.
            guard
                let child = mailbox.create({ box in
                    let sent = try fill(box, to: slow, from: 100) - 100
                    try box.send(Pong(sequence: sent), to: main)
                    let notice = try expectType(
                        try await box.select(NotConfirmed.self, timeout: .seconds(30)), NotConfirmed.self)
                    return Pong(sequence: notice.count)
                })
            else { return Faulted("no room for the child") }
            let childSent = try expectType(try await mailbox.select(Pong.self, timeout: .seconds(10)), Pong.self)
                .sequence
            try mailbox.send(Ping(sequence: 0), to: fast)
            try mailbox.send(Tock(), to: fast)
            var seen = ["child sent \(childSent)"]
            var abandoned: Abandoned?
            var mine: NotConfirmed?
            var childTold: Int?
            while abandoned == nil || mine == nil || childTold == nil {
                switch try await mailbox.select(
                    Abandoned.self, NotConfirmed.self, Completed.self, Pong.self, timeout: .seconds(30))
                {
                case let event as Abandoned: abandoned = event
                case let notice as NotConfirmed: mine = notice
                case let completed as Completed: childTold = (completed.value as? Pong)?.sequence ?? -1
                case is Pong: continue // the fast object's answer
                default: return Faulted("timed out", explanation: "\(seen)")
                }
            }
            seen.append("main not confirmed \(mine!.count) to slow \(mine!.destination == slow)")
            seen.append("child not confirmed \(childTold!)")
            let listed = abandoned!.unconfirmed.map {
                "\($0.sender == main ? "main" : $0.sender == child ? "child" : "?"):\($0.count)"
            }.sorted()
            seen.append("abandoned lists \(listed)")
            return Seen(events: seen)
        }
        #expect(
            client.join() as? Seen
                == Seen(events: [
                    "child sent 156", "main not confirmed 90 to slow true", "child not confirmed 156",
                    #"abandoned lists ["child:156", "main:90"]"#,
                ]))
        #expect(server.join() is Ack)
    }
}
