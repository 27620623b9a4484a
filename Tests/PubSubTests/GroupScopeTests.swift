import AnsarTestKit
import Reactor
import Testing
import Transport

@testable import Actors
@testable import PubSub

#if canImport(Glibc)
    import Glibc
#endif

let groupSecret = TransportConfiguration(secret: RealmSecret(hex: String(repeating: "3c", count: 32))!)

func uniqueGroup() -> SocketAddress {
    .unixAbstract(name: "ansar-group-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
}

/// A stand-in for the group runner: a runtime whose main object runs the group directory until Stop.
func directoryThread(_ group: SocketAddress) -> RuntimeThread {
    RuntimeThread(transport: groupSecret) { mailbox in
        mailbox.create(ScopeDirectory(listening: group))
        _ = try await mailbox.select(Stop.self, timeout: .seconds(30))
        return Ack()
    }
}

/// A group directory thread, started, and its main object's address.
func runningDirectory(_ group: SocketAddress) throws -> (RuntimeThread, Address) {
    let directory = directoryThread(group)
    return (directory, try #require(directory.mainAddress(), "directory did not start"))
}

/// Stops a group directory thread's main object from a thread of its own (the test's threads
/// may all have ended).
func stopDirectory(_ main: Address) {
    _ = RuntimeThread(transport: groupSecret) { mailbox in
        try mailbox.send(Stop(), to: main)
        return Ack()
    }.wait()
}

/// Links to the group directory as a process directory does (retrying: it may not listen yet).
func linkToGroup(_ mailbox: Mailbox, _ group: SocketAddress) async throws {
    mailbox.connect(to: group, backoff: Backoff(initial: .milliseconds(5), maximum: .milliseconds(50)))
    _ = try await mailbox.select(Connected.self, timeout: .seconds(10))
}

/// Listens for peers at `endpoint`, then links to the group directory, as a process directory does.
func joinAsMember(_ mailbox: Mailbox, listeningAt endpoint: SocketAddress, group: SocketAddress) async throws {
    mailbox.listen(at: endpoint)
    _ = try await mailbox.select(Listening.self, timeout: .seconds(10))
    try await linkToGroup(mailbox, group)
}

/// A subscriber process of the group (starting once told `Go`, if `waitForGo`) that reports what it
/// is first offered for `name` (Available or NotAvailable), then stops the directory.
func firstOffer(of name: Search, in group: SocketAddress, thenStopping directory: Address, waitForGo: Bool = false)
    -> RuntimeThread
{
    RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
        if waitForGo { _ = try await mailbox.select(Go.self, timeout: .seconds(20)) }
        mailbox.subscribe(name, scope: .group)
        _ = try await mailbox.select(Subscribed.self, timeout: .seconds(10))
        let offer = try await mailbox.select(Available.self, NotAvailable.self, timeout: .seconds(10))
        try mailbox.send(Stop(), to: directory)
        return Seen(events: [line(offer)])
    }
}

struct Go: Message {}

@Suite("Publish and subscribe across the processes of a group (GROUP scope)")
struct GroupScopeTests {
    @Test(
        "two processes: the subscriber finds the publisher by name through the group directory and talks to it directly"
    )
    func twoProcesses() throws {
        let group = uniqueGroup()
        let directory = directoryThread(group)
        let publisherThread = RuntimeThread(
            transport: groupSecret, groupAddress: group, publisher("hello-welcome", as: "Buster", scope: .group))
        guard let directoryMain = directory.mainAddress(), let publisherMain = publisherThread.mainAddress() else {
            Issue.record("threads did not start")
            return
        }
        let subscriber = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            var seen: [String] = []
            mailbox.subscribe("hello-welcome", scope: .group)
            seen.append(line(try await mailbox.select(Subscribed.self, timeout: .seconds(10))))
            seen.append(line(try await mailbox.select(Available.self, timeout: .seconds(10))))
            let publisher = mailbox.returnAddress
            seen.append("over a connection \(!publisher.isLocal)")
            seen.append(
                line(
                    try await mailbox.ask(
                        Hello(name: "Gladys"), to: publisher, expecting: Welcome.self, timeout: .seconds(10))))
            try mailbox.send(Stop(), to: publisherMain)
            try mailbox.send(Stop(), to: directoryMain)
            return Seen(events: seen)
        }
        #expect(
            (subscriber.wait() as? Seen)?.events == [
                "Subscribed hello-welcome", "Available hello-welcome", "over a connection true", "Welcome Buster",
            ])
        #expect(
            (publisherThread.wait() as? Seen)?.events == [
                "Published hello-welcome", "Delivered hello-welcome", "Hello Gladys",
            ])
        #expect(directory.wait() is Ack)
    }

    @Test(
        "a publisher process that ends is Dropped at the subscriber; one that comes after is Available, with no polling"
    )
    func publisherGoesAndComes() throws {
        let group = uniqueGroup()
        let directory = directoryThread(group)
        let first = RuntimeThread(
            transport: groupSecret, groupAddress: group, publisher("svc", as: "first", scope: .group))
        let second = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            _ = try await mailbox.select(Go.self, timeout: .seconds(20))
            return try await publisher("svc", as: "second", scope: .group)(mailbox)
        }
        guard let directoryMain = directory.mainAddress(), let firstMain = first.mainAddress(),
            let secondMain = second.mainAddress()
        else {
            Issue.record("threads did not start")
            return
        }
        let subscriber = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            var seen: [String] = []
            mailbox.subscribe("svc", scope: .group)
            _ = try await mailbox.select(Subscribed.self, timeout: .seconds(10))
            seen.append(line(try await mailbox.select(Available.self, timeout: .seconds(10))))
            seen.append(
                line(
                    try await mailbox.ask(
                        Hello(name: "one"), to: mailbox.returnAddress, expecting: Welcome.self, timeout: .seconds(10))))
            try mailbox.send(Stop(), to: firstMain) // the first publisher's process ends
            let dropped = try await mailbox.select(Dropped.self, timeout: .seconds(10))
            seen.append((dropped as? Dropped).map { "Dropped \($0.name)" } ?? line(dropped))
            try mailbox.send(Go(), to: secondMain)
            seen.append(line(try await mailbox.select(Available.self, timeout: .seconds(10))))
            seen.append(
                line(
                    try await mailbox.ask(
                        Hello(name: "two"), to: mailbox.returnAddress, expecting: Welcome.self, timeout: .seconds(10))))
            try mailbox.send(Stop(), to: secondMain)
            try mailbox.send(Stop(), to: directoryMain)
            return Seen(events: seen)
        }
        #expect(
            (subscriber.wait() as? Seen)?.events == [
                "Available svc", "Welcome first", "Dropped svc", "Available svc", "Welcome second",
            ])
        #expect((first.wait() as? Seen)?.events == ["Published svc", "Delivered svc", "Hello one"])
        #expect((second.wait() as? Seen)?.events == ["Published svc", "Delivered svc", "Hello two"])
        #expect(directory.wait() is Ack)
    }

    @Test("clear across processes: Cleared at the end that cleared, Dropped at the other")
    func clearAcrossProcesses() throws {
        let group = uniqueGroup()
        let directory = directoryThread(group)
        let publisherThread = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            var seen: [String] = []
            mailbox.publish("svc", scope: .group)
            for _ in 0..<3 {
                seen.append(
                    line(try await mailbox.select(Published.self, Delivered.self, Dropped.self, timeout: .seconds(10))))
            }
            return Seen(events: seen)
        }
        guard let directoryMain = directory.mainAddress() else {
            Issue.record("threads did not start")
            return
        }
        let subscriber = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            mailbox.subscribe("svc", scope: .group)
            _ = try await mailbox.select(Subscribed.self, timeout: .seconds(10))
            let available = try expectAvailable(try await mailbox.select(Available.self, timeout: .seconds(10)))
            mailbox.clear(available.session, value: Ack())
            let cleared = try await mailbox.select(Cleared.self, timeout: .seconds(10))
            let value = (cleared as? Cleared)?.value?.message is Ack
            try mailbox.send(Stop(), to: directoryMain)
            return Seen(events: [line(cleared), "value \(value)"])
        }
        #expect((subscriber.wait() as? Seen)?.events == ["Cleared svc", "value true"])
        #expect(
            (publisherThread.wait() as? Seen)?.events == [
                "Published svc", "Delivered svc", "Dropped ended by the other end",
            ])
        #expect(directory.wait() is Ack)
    }
}

@Suite("Bad directory input")
struct DirectoryInputTests {
    @Test("a member cannot withdraw another member's listing; the directory drops it and carries on")
    func foreignWithdrawal() throws {
        let group = uniqueGroup()
        let (directory, directoryMain) = try runningDirectory(group)
        // Member A lists "svc" by hand and answers at its own endpoint, as a process directory would.
        let endpoint = SocketAddress.unixAbstract(name: "ansar-test-member-\(UInt32.random(in: 0...UInt32.max))")
        let memberA = RuntimeThread(transport: groupSecret) { mailbox in
            try await joinAsMember(mailbox, listeningAt: endpoint, group: group)
            mailbox.expose(mailbox.address) // listed: subscribers' processes may address it
            try mailbox.send(
                EntryUp(
                    id: 42, name: try ServiceName("svc"), search: nil, scope: .group, object: mailbox.address.object,
                    endpoint: endpoint),
                to: mailbox.returnAddress)
            let delivered = try await mailbox.select(Delivered.self, timeout: .seconds(10))
            return Seen(events: [line(delivered)])
        }
        // Member B tries to take it back.
        let memberB = RuntimeThread(transport: groupSecret) { mailbox in
            try await linkToGroup(mailbox, group)
            try mailbox.send(EntryDown(id: 42), to: mailbox.returnAddress)
            return Ack()
        }
        #expect(memberB.wait() is Ack)
        let subscriber = firstOffer(of: "svc", in: group, thenStopping: directoryMain)
        #expect((subscriber.wait() as? Seen)?.events == ["Available svc"])
        #expect((memberA.wait() as? Seen)?.events == ["Delivered svc"])
        #expect(directory.wait() is Ack)
    }

    @Test(
        "the same entry over a new link moves to it: the old link closing takes nothing; another entry under its identifier is refused"
    )
    func entryMovesToNewLink() throws {
        let group = uniqueGroup()
        let (directory, directoryMain) = try runningDirectory(group)
        // A member lists "svc" over one link, links anew and lists it again, then its first link
        // closes — as a host directory does that re-links before its LAN directory notices.
        // A third link that claims the identifier with another endpoint is refused.
        let endpoint = SocketAddress.unixAbstract(name: "ansar-test-member-\(UInt32.random(in: 0...UInt32.max))")
        // The subscriber asks once the first link has closed (the member says Go).
        let subscriber = firstOffer(of: "svc", in: group, thenStopping: directoryMain, waitForGo: true)
        let subscriberMain = try #require(subscriber.mainAddress(), "subscriber did not start")
        let member = RuntimeThread(transport: groupSecret) { mailbox in
            try await joinAsMember(mailbox, listeningAt: endpoint, group: group)
            mailbox.expose(mailbox.address) // listed: subscribers' processes may address it
            let entry = EntryUp(
                id: 42, name: try ServiceName("svc"), search: nil, scope: .group, object: mailbox.address.object,
                endpoint: endpoint)
            let first = mailbox.returnAddress
            try mailbox.send(entry, to: first)
            mailbox.connect(to: group)
            _ = try await mailbox.select(Connected.self, timeout: .seconds(10))
            try mailbox.send(entry, to: mailbox.returnAddress)
            // A third link claims the identifier with something else: refused.
            mailbox.connect(to: group)
            _ = try await mailbox.select(Connected.self, timeout: .seconds(10))
            var forged = entry
            forged.endpoint = .unixAbstract(name: "ansar-test-elsewhere")
            try mailbox.send(forged, to: mailbox.returnAddress)
            // Both the first and the third link close: the entry lives on with the second.
            mailbox.close(mailbox.returnAddress)
            mailbox.close(first)
            _ = try await mailbox.select(Closed.self, timeout: .seconds(10))
            _ = try await mailbox.select(Closed.self, timeout: .seconds(10))
            try mailbox.send(Go(), to: subscriberMain)
            let delivered = try await mailbox.select(Delivered.self, timeout: .seconds(10))
            return Seen(events: [line(delivered)])
        }
        #expect((subscriber.wait() as? Seen)?.events == ["Available svc"])
        #expect((member.wait() as? Seen)?.events == ["Delivered svc"])
        #expect(directory.wait() is Ack)
    }

    @Test(
        "a listed publisher that cannot be reached: NotAvailable with the reason; once it can be, Available by itself")
    func unreachable() throws {
        let group = uniqueGroup()
        let (directory, directoryMain) = try runningDirectory(group)
        // A member lists "svc" at an endpoint where nobody listens yet; told Go, it listens there.
        let endpoint = SocketAddress.unixAbstract(name: "ansar-test-later-\(UInt32.random(in: 0...UInt32.max))")
        let member = RuntimeThread(transport: groupSecret) { mailbox in
            try await linkToGroup(mailbox, group)
            try mailbox.send(
                EntryUp(id: 7, name: try ServiceName("svc"), search: nil, scope: .group, object: 1, endpoint: endpoint),
                to: mailbox.returnAddress)
            _ = try await mailbox.select(Go.self, timeout: .seconds(10))
            mailbox.listen(at: endpoint)
            return try await mailbox.select(Stop.self, timeout: .seconds(10))
        }
        let memberMain = try #require(member.mainAddress(), "member did not start")
        let subscriber = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            mailbox.subscribe("svc", scope: .group)
            _ = try await mailbox.select(Subscribed.self, timeout: .seconds(10))
            let missing = try await mailbox.select(NotAvailable.self, Available.self, timeout: .seconds(10))
            try mailbox.send(Go(), to: memberMain)
            let found = try await mailbox.select(NotAvailable.self, Available.self, timeout: .seconds(10))
            try mailbox.send(Stop(), to: memberMain)
            try mailbox.send(Stop(), to: directoryMain)
            return Seen(
                events: [missing, found].map {
                    ($0 as? NotAvailable).map { "NotAvailable \($0.name): \($0.reason)" } ?? line($0)
                })
        }
        let events = (subscriber.wait() as? Seen)?.events ?? []
        #expect(
            events.count == 2 && events[0].hasPrefix("NotAvailable svc: ") && events[0].contains("refused"), "\(events)"
        )
        #expect(events.last == "Available svc", "\(events)")
        _ = member.wait()
        #expect(directory.wait() is Ack)
    }
}
