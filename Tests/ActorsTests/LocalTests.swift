import AnsarTestKit
import Platform
import Reactor
import Testing

@testable import Actors

/// Answers Hello with Welcome; completes on Stop.
final class Greeter: Object {
    let name: String
    init(name: String) { self.name = name }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case let hello as Hello: try context.reply(Welcome(myName: name, yourName: hello.name))
        case is Stop: context.complete(Ack())
        default: break
        }
    }
}

/// Throws on anything but Start.
final class Fragile: Object {
    struct Broken: Error, CustomStringConvertible { var description: String { "broken on purpose" } }
    func receive(_ message: any Message, context: Context) throws {
        if !(message is Start) { throw Broken() }
    }
}

/// Never completes; just counts.
final class Sink: Object {
    var count = 0
    func receive(_ message: any Message, context: Context) throws { count += 1 }
}

@Suite("Objects in one runtime")
struct LocalTests {
    @Test("send, reply, create and complete: the parent hears Completed from the child")
    func helloWelcome() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            guard let greeter = mailbox.create(Greeter(name: "Buster")) else { return Faulted("no greeter") }
            try mailbox.send(Hello(name: "Gladys"), to: greeter)
            let welcome = try await mailbox.select(Welcome.self, timeout: .seconds(5))
            #expect(mailbox.returnAddress == greeter)
            try mailbox.send(Stop(), to: greeter)
            let completed = try await mailbox.select(Completed.self, timeout: .seconds(5))
            #expect(mailbox.returnAddress == greeter)
            #expect((completed as? Completed)?.value is Ack)
            return welcome
        }
        #expect(result as? Welcome == Welcome(myName: "Buster", yourName: "Gladys"))
    }

    @Test("select keeps what it is told to save, drops the rest, and times out")
    func selectSavingAndTimeout() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            var seen: [String] = []
            try mailbox.send(Tick(), to: mailbox.address)
            try mailbox.send(Tock(), to: mailbox.address)
            try mailbox.send(Ping(sequence: 1), to: mailbox.address)
            let first = try await mailbox.select(Ping.self, saving: .only(Tock.self))
            seen.append("\(type(of: first))")
            let started = Deadline.now()
            // Tick was dropped by the first select; Tock is still saved.
            let second = try await mailbox.select(Tick.self, saving: .only(Tock.self), timeout: .milliseconds(50))
            let waited = Double(started.nanoseconds(until: .now())) / 1e6
            seen.append("\(type(of: second))")
            #expect(waited >= 49 && waited < 2_000, "timed out after \(waited) ms")
            let third = try await mailbox.select(Tock.self, timeout: .seconds(1))
            seen.append("\(type(of: third))")
            return Seen(events: seen)
        }
        #expect(result as? Seen == Seen(events: ["Ping", "TimedOut", "Tock"]))
    }

    @Test("timers: fire close to time, re-arm when started again, stop when cancelled, repeat")
    func timers() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            var seen: [String] = []
            // Accuracy: a 30 ms timer (an idle machine is within a few ms).
            var started = Deadline.now()
            mailbox.startTimer(Tick(), after: .milliseconds(30))
            _ = try await mailbox.select(Tick.self, timeout: .seconds(5))
            let late = Double(started.nanoseconds(until: .now())) / 1e6 - 30
            // Never early; how late is the machine's business (tests run in parallel, speed is
            // `make bench`'s): a timer that is not kept fails the 5 s select.
            #expect(late >= -0.5, "fired \(-late) ms early")
            // Re-arm: the second start replaces the first (10 ms instead of 30 s).
            started = Deadline.now()
            mailbox.startTimer(Tick(), after: .seconds(30))
            mailbox.startTimer(Tick(), after: .milliseconds(10))
            _ = try await mailbox.select(Tick.self, timeout: .seconds(20))
            let again = try await mailbox.select(Tick.self, timeout: .milliseconds(400))
            seen.append("\(type(of: again))")
            // Cancel.
            mailbox.startTimer(Tock(), after: .milliseconds(10))
            mailbox.cancelTimer(Tock.self)
            let cancelled = try await mailbox.select(Tock.self, timeout: .milliseconds(60))
            seen.append("\(type(of: cancelled))")
            // Repeating, until cancelled.
            started = Deadline.now()
            mailbox.startTimer(Ping(sequence: 0), after: .milliseconds(10), repeating: true)
            for _ in 0..<5 { _ = try await mailbox.select(Ping.self, timeout: .seconds(5)) }
            mailbox.cancelTimer(Ping.self)
            let elapsed = Double(started.nanoseconds(until: .now())) / 1e6
            #expect(elapsed >= 49, "five 10 ms ticks took \(elapsed) ms")
            return Seen(events: seen)
        }
        #expect(result as? Seen == Seen(events: ["TimedOut", "TimedOut"]))
    }

    @Test("a handler that throws ends with Faulted, and its parent is told")
    func faulted() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            guard let fragile = mailbox.create(Fragile()) else { return Faulted("no object") }
            try mailbox.send(Ping(sequence: 1), to: fragile)
            return try await mailbox.select(Completed.self, timeout: .seconds(5))
        }
        let fault = (result as? Completed)?.value as? Faulted
        #expect(fault == Faulted("object faulted", explanation: "broken on purpose"))
    }

    @Test(
        "a sequential object that ends holding messages, or drops them unselected: each sender that asked hears NotDelivered"
    )
    func heldMessagesAreAccounted() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            guard
                let child = mailbox.create({ child in
                    // Keeps everything while it waits for a Tick that never comes; drops a Tock unselected.
                    _ = try await child.select(Tick.self, saving: .only(Ping.self), timeout: .seconds(1))
                    return Ack()
                })
            else { return Faulted("no object") }
            try mailbox.send(Tock(), to: child, notifyIfUndelivered: true)
            for sequence in 0..<3 { try mailbox.send(Ping(sequence: sequence), to: child, notifyIfUndelivered: true) }
            try mailbox.send(Ping(sequence: 99), to: child) // did not ask: dropped quietly
            try mailbox.send(Stop(), to: child) // not selected and not saved either: ends nothing, dropped
            var reasons: [String] = []
            while reasons.count < 4 {
                let notice = try await mailbox.select(NotDelivered.self, Completed.self, timeout: .seconds(10))
                if let notice = notice as? NotDelivered { reasons.append("\(notice.messageType): \(notice.reason)") }
            }
            return Seen(events: reasons)
        }
        let reasons = (result as? Seen)?.events ?? []
        #expect(reasons.filter { $0.hasSuffix("Tock: not selected") }.count == 1, "\(reasons)")
        #expect(reasons.filter { $0.hasSuffix("Ping: object has ended") }.count == 3, "\(reasons)")
    }

    @Test(
        "across threads a send keeps its flags: a message for an object gone on the other thread comes back as NotDelivered"
    )
    func crossThreadNotDelivered() throws {
        let asker = RuntimeThread { mailbox in
            let introduce = try expectType(
                try await mailbox.select(Introduce.self, timeout: .seconds(10)), Introduce.self)
            let owner = mailbox.returnAddress
            try mailbox.send(Hello(name: "anyone there?"), to: introduce.who, notifyIfUndelivered: true)
            let notice = try await mailbox.select(NotDelivered.self, Welcome.self, timeout: .seconds(10))
            try mailbox.send(Stop(), to: owner)
            return Seen(events: [(notice as? NotDelivered)?.reason ?? "\(notice)"])
        }
        let askerMain = try #require(asker.mainAddress())
        let owner = RuntimeThread { mailbox in
            guard let gone = mailbox.create({ _ in Ack() }) else { return Faulted("no object") }
            _ = try await mailbox.select(Completed.self, timeout: .seconds(10))
            try mailbox.send(Introduce(who: gone, others: []), to: askerMain)
            return try await mailbox.select(Stop.self, timeout: .seconds(10))
        }
        #expect(asker.join() as? Seen == Seen(events: ["no such object"]))
        #expect(owner.join() is Stop)
    }

    struct Chunk: Message {
        var sequence: Int
        var payload: [UInt8]
    }

    @Test(
        "across threads and a connection: a send refused by the other thread's busy link comes back as NotDelivered, then Writable"
    )
    func crossThreadLinkBusy() throws {
        let endpoint = uniqueEndpoint("far-busy")
        // The far end holds every message unread for a while, so the link backs up; a small
        // mailbox and small messages keep what it must then work through short on a loaded machine.
        var small = RuntimeLimits()
        small.mailbox = 256
        let server = RuntimeThread(limits: small) { mailbox in
            mailbox.listen(at: endpoint)
            _ = try await mailbox.select(Listening.self, timeout: .seconds(10))
            _ = try await mailbox.select(Accepted.self, timeout: .seconds(10))
            _ = try await mailbox.select(Tick.self, saving: .everything, timeout: .seconds(3))
            while true {
                guard try await mailbox.select(Chunk.self, Stop.self, timeout: .seconds(10)) is Chunk else {
                    return Ack()
                }
            }
        }
        let sender = RuntimeThread { mailbox in
            let introduce = try expectType(
                try await mailbox.select(Introduce.self, timeout: .seconds(10)), Introduce.self)
            let owner = mailbox.returnAddress
            let payload = [UInt8](repeating: 1, count: 256)
            var sequence = 0
            var refused: NotDelivered? = nil
            while refused == nil && sequence < 200_000 {
                do {
                    try mailbox.send(
                        Chunk(sequence: sequence, payload: payload), to: introduce.who, notifyIfUndelivered: true)
                    sequence += 1
                } catch SendRefused.threadBusy {
                    _ = try await mailbox.select(
                        Tick.self, saving: .only(NotDelivered.self, Writable.self), timeout: .milliseconds(1))
                }
                // A Writable that comes meanwhile is kept for the wait below, not dropped unselected.
                if sequence % 256 == 0,
                    let notice = try await mailbox.select(
                        NotDelivered.self, saving: .only(Writable.self), timeout: .milliseconds(1)) as? NotDelivered
                {
                    refused = notice
                }
            }
            let writable = try await mailbox.select(Writable.self, timeout: .seconds(60))
            try mailbox.send(Stop(), to: owner)
            return Seen(events: [
                refused.map { "NotDelivered: \($0.reason)" } ?? "never refused", "\(type(of: writable))",
            ])
        }
        let senderMain = try #require(sender.mainAddress())
        let linkOwner = RuntimeThread { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try await mailbox.select(Connected.self, timeout: .seconds(10))
            try mailbox.send(Introduce(who: mailbox.returnAddress, others: []), to: senderMain)
            return try await mailbox.select(Stop.self, timeout: .seconds(120))
        }
        let events = (sender.join() as? Seen)?.events ?? []
        #expect(
            events.count == 2 && events[0].hasPrefix("NotDelivered: connection to ") && events[0].hasSuffix("is busy"),
            "\(events)")
        #expect(events.last == "Writable", "\(events)")
        #expect(linkOwner.join() is Stop)
        _ = server.join()
    }

    @Test("a full mailbox refuses the send; an ended object's mail is dropped, with NotDelivered when asked")
    func boundsAndDeadLetters() throws {
        var limits = RuntimeLimits()
        limits.mailbox = 4
        let runtime = try makeRuntime(limits: limits)
        let result = try runtime.run { mailbox in
            var seen: [String] = []
            guard let sink = mailbox.create(Sink()) else { return Faulted("no object") }
            // Start is queued already: three more fit, the fourth is refused.
            for sequence in 0..<4 {
                do {
                    try mailbox.send(Ping(sequence: sequence), to: sink)
                    seen.append("sent \(sequence)")
                } catch {
                    seen.append("\(error)")
                }
            }
            guard let greeter = mailbox.create(Greeter(name: "x")) else { return Faulted("no object") }
            try mailbox.send(Stop(), to: greeter)
            _ = try await mailbox.select(Completed.self, timeout: .seconds(5))
            try mailbox.send(Hello(name: "late"), to: greeter) // dropped quietly
            try mailbox.send(Hello(name: "later"), to: greeter, notifyIfUndelivered: true)
            let notice = try await mailbox.select(NotDelivered.self, Welcome.self, timeout: .seconds(5))
            seen.append("\((notice as? NotDelivered)?.reason ?? "\(notice)")")
            return Seen(events: seen)
        }
        #expect((result as? Seen)?.events.count == 5)
        #expect((result as? Seen)?.events.prefix(3) == ["sent 0", "sent 1", "sent 2"])
        #expect((result as? Seen)?.events[3].hasPrefix("mailbox of <") == true)
        #expect((result as? Seen)?.events[4] == "no such object")
    }

    @Test("when the main object ends, sequential children still waiting are ended and the runtime is freed")
    func leftoversAreEnded() throws {
        weak var released: Runtime?
        do {
            let runtime = try makeRuntime()
            released = runtime
            let result = try runtime.run { mailbox in
                mailbox.create { child in
                    _ = try await child.select(Tick.self) // never comes
                    return Ack()
                }
                return Nak()
            }
            #expect(result is Nak)
        }
        #expect(released == nil, "no task still holds the runtime")
    }

    @Test("the object table has a bound: creating past it fails, and ended objects free their slots")
    func objectTableBound() throws {
        var limits = RuntimeLimits()
        limits.objects = 8 // slot 0 is never used, the main object takes one: six children fit
        let runtime = try makeRuntime(limits: limits)
        let result = try runtime.run { mailbox in
            var children: [Address] = []
            while let child = mailbox.create(Greeter(name: "x")) { children.append(child) }
            let full = children.count
            try mailbox.send(Stop(), to: children[0])
            _ = try await mailbox.select(Completed.self, timeout: .seconds(5))
            let again = mailbox.create(Greeter(name: "y")) != nil
            // Sequential children that end holding unread messages free their slots too.
            for child in children.dropFirst() { try mailbox.send(Stop(), to: child) }
            for _ in 0..<(children.count - 1) { _ = try await mailbox.select(Completed.self, timeout: .seconds(5)) }
            var made = 0
            for round in 0..<20 {
                guard
                    let child = mailbox.create({ child in
                        // Keeps the Pings that arrive while it waits, then ends without reading them.
                        _ = try await child.select(Tick.self, saving: .everything, timeout: .milliseconds(2))
                        return Ack()
                    })
                else { break }
                for sequence in 0..<3 { try mailbox.send(Ping(sequence: round * 3 + sequence), to: child) }
                _ = try await mailbox.select(Completed.self, timeout: .seconds(5))
                made += 1
            }
            return Seen(events: ["\(full)", "again \(again)", "made \(made)"])
        }
        #expect(result as? Seen == Seen(events: ["6", "again true", "made 20"]))
    }
}

/// A machine with save and replay: Enter waits (saved) until a Knock opens the door.
final class Door: Machine {
    struct Knock: Message {}
    struct Enter: Message { var who: String }
    enum State { case closed, open }
    var state = State.closed
    var log: [String] = []

    static let transitions = Transitions<Door>()
        .on(.closed, Start.self) { _, _, _ in .closed }
        .save(.closed, Enter.self)
        .on(.closed, Knock.self) { door, _, _ in
            door.log.append("knock")
            return .open
        }
        .on(.open, Enter.self) { door, enter, _ in
            door.log.append("enter \(enter.who)")
            return .open
        }
        .on(.open, Stop.self) { door, _, context in
            context.complete(Seen(events: door.log))
            return .closed
        }
}

@Suite("State machines")
struct MachineTests {
    @Test("saved messages replay in order once the state changes; unlisted ones are dropped")
    func saveAndReplay() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            guard let door = mailbox.create(Door()) else { return Faulted("no door") }
            try mailbox.send(Door.Enter(who: "a"), to: door)
            try mailbox.send(Stop(), to: door) // dropped: closed doors ignore Stop
            try mailbox.send(Door.Enter(who: "b"), to: door)
            try mailbox.send(Door.Knock(), to: door)
            try mailbox.send(Door.Enter(who: "c"), to: door)
            try mailbox.send(Stop(), to: door)
            let completed = try await mailbox.select(Completed.self, timeout: .seconds(5))
            return (completed as? Completed)?.value ?? completed
        }
        #expect(result as? Seen == Seen(events: ["knock", "enter a", "enter b", "enter c"]))
    }
}

@Suite("Objects on several threads")
struct ThreadTests {
    @Test("objects on two runtime threads talk by address; order is kept and nothing is lost")
    func twoThreads() throws {
        let total = 50_000
        var small = RuntimeLimits()
        small.crossThreadQueue = 64 // so that the sender meets a full inbox and must wait
        let counter = RuntimeThread(limits: small) { mailbox in try await receiveInOrder(mailbox, total: total) }
        guard let target = counter.mainAddress() else {
            Issue.record("the counter thread never started")
            return
        }
        #expect(target.isLocal)
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            let refusals = try await sendInOrder(mailbox, total: total, to: target)
            #expect(refusals > 0, "a full inbox refuses with threadBusy")
            let pong = try expectType(try await mailbox.select(Pong.self, timeout: .seconds(20)), Pong.self)
            return Seen(events: ["\(pong.sequence)", "from the counter \(mailbox.returnAddress == target)"])
        }
        #expect(result as? Seen == Seen(events: ["\(total)", "from the counter true"]))
        #expect(counter.wait() is Ack)
    }

    @Test("an address that came over another thread's connection still routes: through that thread")
    func connectionOfAnotherThread() throws {
        let endpoint = uniqueEndpoint("threads")
        let far = RuntimeThread { mailbox in
            mailbox.listen(at: endpoint)
            let hello = try expectType(try await mailbox.select(Hello.self, timeout: .seconds(10)), Hello.self)
            try mailbox.reply(Welcome(myName: "far", yourName: hello.name))
            _ = try await mailbox.select(Abandoned.self, Closed.self, timeout: .seconds(10))
            return Ack()
        }
        let worker = RuntimeThread { mailbox in
            let introduce = try expectType(
                try await mailbox.select(Introduce.self, timeout: .seconds(10)), Introduce.self)
            let introducer = mailbox.returnAddress
            let welcome = try await mailbox.ask(
                Hello(name: "worker"), to: introduce.who, expecting: Welcome.self, timeout: .seconds(10))
            try mailbox.send(Ack(), to: introducer)
            return welcome
        }
        guard let workerAddress = worker.mainAddress() else {
            Issue.record("the worker thread never started")
            return
        }
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(10)), Connected.self)
            let farAddress = mailbox.returnAddress
            try mailbox.send(Introduce(who: farAddress, others: []), to: workerAddress)
            return try await mailbox.select(Ack.self, timeout: .seconds(10))
        }
        #expect(result is Ack)
        #expect(worker.wait() as? Welcome == Welcome(myName: "far", yourName: "worker"))
        #expect(far.wait() is Ack)
    }
}
