import AnsarTestKit
import Reactor
import Testing
import Transport

@testable import Actors
@testable import PubSub

/// One line per message: its short type name and what matters in it.
func line(_ message: any Message) -> String {
    switch message {
    case let m as Published: return "Published \(m.name)"
    case let m as NotPublished: return "NotPublished \(m.reason)"
    case let m as Subscribed: return "Subscribed \(m.search)"
    case let m as NotSubscribed: return "NotSubscribed \(m.reason)"
    case let m as Available: return "Available \(m.name)"
    case let m as Delivered: return "Delivered \(m.name)"
    case let m as Dropped: return "Dropped \(m.reason)"
    case let m as Cleared: return "Cleared \(m.name)"
    case let m as Hello: return "Hello \(m.name)"
    case let m as Welcome: return "Welcome \(m.myName)"
    case is TimedOut: return "TimedOut"
    default: return "\(type(of: message))"
    }
}

/// A publisher of `name`: answers each Hello with a Welcome, records everything, ends on Stop.
func publisher(_ name: ServiceName, as myName: String, scope: Scope = .process)
    -> @Sendable (Mailbox) async throws -> any Message
{
    { mailbox in
        var seen: [String] = []
        mailbox.publish(name, scope: scope)
        while true {
            let message = try await mailbox.select(
                Published.self, NotPublished.self, Delivered.self, Dropped.self, Cleared.self, Hello.self, Stop.self,
                RetractNow.self,
                timeout: .seconds(20))
            if message is Stop || message is TimedOut { return Seen(events: seen) }
            if message is RetractNow {
                mailbox.retract()
                continue
            }
            seen.append(line(message))
            if let hello = message as? Hello { try mailbox.reply(Welcome(myName: myName, yourName: hello.name)) }
            if message is NotPublished { return Seen(events: seen) }
        }
    }
}

@Suite("Publish and subscribe in one process (PROCESS scope)")
struct ProcessScopeTests {
    @Test("the seed's exchange: Available from the publisher, Delivered from the subscriber, Hello and Welcome")
    func helloWelcome() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            guard let pub = mailbox.create(publisher("hello-welcome", as: "Buster")) else {
                return Faulted("no publisher")
            }
            var seen: [String] = []
            mailbox.subscribe("hello-welcome", scope: .process)
            seen.append(line(try await mailbox.select(Subscribed.self, timeout: .seconds(5))))
            let available = try await mailbox.select(Available.self, timeout: .seconds(5))
            seen.append(line(available))
            seen.append("from the publisher \(mailbox.returnAddress == pub)")
            seen.append(
                line(
                    try await mailbox.ask(
                        Hello(name: "Gladys"), to: mailbox.returnAddress, expecting: Welcome.self, timeout: .seconds(5))
                ))
            try mailbox.send(Stop(), to: pub)
            let completed = try await mailbox.select(Completed.self, timeout: .seconds(5))
            let publisherSaw = ((completed as? Completed)?.value as? Seen)?.events ?? []
            return Seen(events: seen + ["publisher:"] + publisherSaw)
        }
        #expect(
            (result as? Seen)?.events == [
                "Subscribed hello-welcome", "Available hello-welcome", "from the publisher true", "Welcome Buster",
                "publisher:", "Published hello-welcome", "Delivered hello-welcome", "Hello Gladys",
            ])
    }

    @Test(
        "two publishers of one name: each subscriber gets both; a publisher that ends is Dropped, a new one is Available"
    )
    func severalPublishersAndEnding() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            var seen: [String] = []
            mailbox.subscribe("svc", scope: .process)
            _ = try await mailbox.select(Subscribed.self, timeout: .seconds(5))
            guard let first = mailbox.create(publisher("svc", as: "first")),
                let second = mailbox.create(publisher("svc", as: "second"))
            else {
                return Faulted("no publishers")
            }
            var from: Set<Address> = []
            for _ in 0..<2 {
                seen.append(line(try await mailbox.select(Available.self, timeout: .seconds(5))))
                from.insert(mailbox.returnAddress)
            }
            seen.append("both \(from == [first, second])")
            try mailbox.send(Stop(), to: first)
            seen.append(line(try await mailbox.select(Dropped.self, timeout: .seconds(5))))
            seen.append("the first \(mailbox.returnAddress == first)")
            guard let third = mailbox.create(publisher("svc", as: "third")) else { return Faulted("no publisher") }
            seen.append(line(try await mailbox.select(Available.self, timeout: .seconds(5))))
            seen.append("the third \(mailbox.returnAddress == third)")
            try mailbox.send(Stop(), to: second)
            try mailbox.send(Stop(), to: third)
            return Seen(events: seen)
        }
        #expect(
            (result as? Seen)?.events == [
                "Available svc", "Available svc", "both true", "Dropped publisher gone", "the first true",
                "Available svc", "the third true",
            ])
    }

    @Test("clear ends a session at both ends and is not re-offered; retract withdraws a publisher")
    func clearAndRetract() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            var seen: [String] = []
            guard let pub = mailbox.create(publisher("svc", as: "p")) else { return Faulted("no publisher") }
            mailbox.subscribe("svc", scope: .process)
            _ = try await mailbox.select(Subscribed.self, timeout: .seconds(5))
            let available = try expectAvailable(try await mailbox.select(Available.self, timeout: .seconds(5)))
            mailbox.clear(available.session, value: Hello(name: "bye"))
            seen.append(line(try await mailbox.select(Cleared.self, Available.self, timeout: .seconds(5))))
            // Not offered again: nothing arrives.
            seen.append(line(try await mailbox.select(Available.self, timeout: .milliseconds(50))))
            // A second subscriber sees the publisher, then its retract.
            let parent = mailbox.address
            mailbox.create { other in
                var saw: [String] = []
                other.subscribe("svc", scope: .process)
                _ = try await other.select(Subscribed.self, timeout: .seconds(5))
                saw.append(line(try await other.select(Available.self, timeout: .seconds(5))))
                try other.send(Hello(name: "ready"), to: parent)
                saw.append(line(try await other.select(Dropped.self, timeout: .seconds(5))))
                return Seen(events: saw)
            }
            _ = try await mailbox.select(Hello.self, timeout: .seconds(5))
            try mailbox.send(RetractNow(), to: pub)
            let completed = try await mailbox.select(Completed.self, timeout: .seconds(5))
            seen += ((completed as? Completed)?.value as? Seen)?.events ?? ["\(completed)"]
            try mailbox.send(Stop(), to: pub)
            let publisherDone = try await mailbox.select(Completed.self, timeout: .seconds(5))
            seen += ["publisher:"] + (((publisherDone as? Completed)?.value as? Seen)?.events ?? [])
            return Seen(events: seen)
        }
        #expect(
            (result as? Seen)?.events == [
                "Cleared svc", "TimedOut", "Available svc", "Dropped ended by the other end",
                "publisher:", "Published svc", "Delivered svc", "Dropped ended by the other end", "Delivered svc",
                "Cleared svc",
            ])
    }

    @Test("bad names and patterns are refused with the reason")
    func refusals() throws {
        // A name from input is refused where it is made, before anything is sent. (From a
        // variable: `ServiceName("…")` with a literal is the literal, checked by a precondition.)
        let input = "no spaces"
        #expect(throws: NameError(description: #"name "no spaces" holds " "; use letters, digits and -_./"#)) {
            try ServiceName(input)
        }
        #expect(throws: NameError.self) { try Search(parsing: "/(oops/") }
        #expect(try Search(parsing: "svc") == .exact("svc"))
        #expect(try Search(parsing: "svc…") == .prefix("svc"))
        #expect(try Search(parsing: "/s.c/") == .pattern("s.c"))
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            mailbox.subscribe(.pattern("(oops"), scope: .process)
            let notSubscribed = try await mailbox.select(NotSubscribed.self, Subscribed.self, timeout: .seconds(5))
            return Seen(events: ["\(notSubscribed is NotSubscribed)"])
        }
        #expect((result as? Seen)?.events == ["true"])
    }
}

struct RetractNow: Message {}

func expectAvailable(_ message: any Message) throws -> Available {
    guard let available = message as? Available else { throw Faulted("expected Available", explanation: line(message)) }
    return available
}

/// A per-session object: answers Hello for its publisher, says who opened it, ends on Stop.
final class GreetingSession: Object {
    static var messageTypes: [any Message.Type] { [Hello.self] }
    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case let hello as Hello: try context.reply(Welcome(myName: "session", yourName: hello.name))
        case is Stop: context.complete(Ack())
        default: break
        }
    }
}

/// Publishes `name` with a GreetingSession per session; reports what it saw until Dropped, then
/// the session object's completion.
func sessionPublisher(_ name: ServiceName, scope: Scope) -> @Sendable (Mailbox) async throws -> any Message {
    { mailbox in
        var seen: [String] = []
        mailbox.publish(name, scope: scope, session: { GreetingSession() })
        while seen.count < 4 {
            let message = try await mailbox.select(
                Published.self, Delivered.self, Dropped.self, Completed.self, timeout: .seconds(10))
            seen.append(message is Completed ? "session object completed" : line(message))
            if message is TimedOut { break }
        }
        return Seen(events: seen)
    }
}

/// Subscribes, talks to whoever speaks for the publisher, then clears the session.
func sessionSubscriber(_ name: Search, scope: Scope) -> @Sendable (Mailbox) async throws -> any Message {
    { mailbox in
        var seen: [String] = []
        mailbox.subscribe(name, scope: scope)
        _ = try await mailbox.select(Subscribed.self, timeout: .seconds(10))
        let available = try expectAvailable(try await mailbox.select(Available.self, timeout: .seconds(10)))
        let welcome = try await mailbox.ask(
            Hello(name: "sub"), to: mailbox.returnAddress, expecting: Welcome.self, timeout: .seconds(10))
        seen.append(line(welcome))
        mailbox.clear(available.session)
        seen.append(line(try await mailbox.select(Cleared.self, timeout: .seconds(10))))
        return Seen(events: seen)
    }
}

let sessionPublisherSaw = [
    "Published svc", "Delivered svc", "Dropped ended by the other end", "session object completed",
]

@Suite("Per-session objects")
struct SessionObjectTests {
    @Test("in one process: the session object answers for the publisher and stops with the session")
    func inProcess() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            guard let publisher = mailbox.create(sessionPublisher("svc", scope: .process)) else {
                return Faulted("no publisher")
            }
            _ = publisher
            let subscriberSaw = try await sessionSubscriber("svc", scope: .process)(mailbox)
            let completed = try await mailbox.select(Completed.self, timeout: .seconds(10))
            return Seen(
                events: ((subscriberSaw as? Seen)?.events ?? [])
                    + (((completed as? Completed)?.value as? Seen)?.events ?? ["\(completed)"]))
        }
        #expect((result as? Seen)?.events == ["Welcome session", "Cleared svc"] + sessionPublisherSaw)
    }

    @Test("across processes: the publisher's session object answers over the direct connection")
    func acrossProcesses() throws {
        let group = uniqueGroup()
        let directory = directoryThread(group)
        let publisherThread = RuntimeThread(
            transport: groupSecret, groupAddress: group, sessionPublisher("svc", scope: .group))
        guard let directoryMain = directory.mainAddress() else {
            Issue.record("threads did not start")
            return
        }
        let subscriber = RuntimeThread(
            transport: groupSecret, groupAddress: group, sessionSubscriber("svc", scope: .group))
        #expect((subscriber.wait() as? Seen)?.events == ["Welcome session", "Cleared svc"])
        #expect((publisherThread.wait() as? Seen)?.events == sessionPublisherSaw)
        _ = RuntimeThread { mailbox in
            try mailbox.send(Stop(), to: directoryMain)
            return Ack()
        }.wait()
        #expect(directory.wait() is Ack)
    }
}
