import AnsarTestKit
import Testing

@testable import Actors
@testable import PubSub

/// The directory protocol loses nothing: requests always answer, and directory messages wait for
/// a busy route rather than fall to it.
@Suite("The directory's control plane")
struct ControlPlaneTests {
    @Test("a refill over a link's credit arrives whole: 1,000 listings up, 1,000 sessions down")
    func refillOverCredit() throws {
        let count = 1_000 // the per-destination credit window is 256
        let group = uniqueGroup()
        let (directory, directoryMain) = try runningDirectory(group)
        let publishers = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            for index in 0..<count { mailbox.publish(try ServiceName("svc-\(index)"), scope: .group) }
            var published = 0
            while published < count {
                guard try await mailbox.select(Published.self, timeout: .seconds(20)) is Published else {
                    return Faulted("\(published) of \(count) published")
                }
                published += 1
            }
            _ = try await mailbox.select(Stop.self, timeout: .seconds(60))
            return Ack()
        }
        let publishersMain = try #require(publishers.mainAddress())
        let subscriber = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            mailbox.subscribe(.prefix("svc-"), scope: .group)
            var names: Set<String> = []
            var sessions: Set<UInt64> = []
            while names.count < count {
                let message = try await mailbox.select(Available.self, NotAvailable.self, timeout: .seconds(30))
                guard let available = message as? Available else { break }
                names.insert(available.name.text)
                sessions.insert(available.session)
            }
            try mailbox.send(Stop(), to: publishersMain)
            try mailbox.send(Stop(), to: directoryMain)
            return Seen(events: ["\(names.count) names", "\(sessions.count) sessions"])
        }
        #expect((subscriber.wait() as? Seen)?.events == ["\(count) names", "\(count) sessions"])
        #expect(publishers.wait() is Ack)
        #expect(directory.wait() is Ack)
    }

    @Test("clear of a session this object does not have answers NotCleared")
    func clearUnknown() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            mailbox.clear(12_345)
            let answer = try await mailbox.select(NotCleared.self, Cleared.self, timeout: .seconds(10))
            return Seen(events: [
                (answer as? NotCleared).map { "NotCleared \($0.session) \($0.reason)" } ?? line(answer)
            ])
        }
        #expect((result as? Seen)?.events == ["NotCleared 12345 no such session at this end"])
    }

    @Test("retract answers Retracted after its sessions' Cleared")
    func retractAnswers() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            guard let server = mailbox.create(publisher("svc", as: "server")) else { return Faulted("no publisher") }
            var seen: [String] = []
            mailbox.publish("mine")
            mailbox.subscribe("svc")
            _ = try await mailbox.select(Published.self, timeout: .seconds(10))
            _ = try await mailbox.select(Subscribed.self, timeout: .seconds(10))
            _ = try await mailbox.select(Available.self, timeout: .seconds(10))
            mailbox.retract()
            seen.append(line(try await mailbox.select(Cleared.self, Retracted.self, timeout: .seconds(10))))
            let done = try await mailbox.select(Retracted.self, timeout: .seconds(10))
            seen.append((done as? Retracted).map { "Retracted \($0.entries)" } ?? line(done))
            try mailbox.send(Stop(), to: server)
            return Seen(events: seen)
        }
        #expect((result as? Seen)?.events == ["Cleared svc", "Retracted 2"])
    }

    @Test("an object that publishes and retracts again and again is watched once")
    func oneWatcher() throws {
        let runtime = try makeRuntime()
        let result = try runtime.run { mailbox in
            for _ in 0..<5 {
                mailbox.publish("again")
                _ = try await mailbox.select(Published.self, timeout: .seconds(10))
                mailbox.retract()
                _ = try await mailbox.select(Retracted.self, timeout: .seconds(10))
            }
            let watchers = mailbox.runtime.watchers[mailbox.address.object]?.count ?? 0
            return Seen(events: ["\(watchers) watchers"])
        }
        #expect((result as? Seen)?.events == ["1 watchers"])
    }
}

@Suite("Both ends of a session agree after a blip")
struct SessionAgreementTests {
    @Test(
        "the subscriber's directory link blips: the directory tells the publisher's end, matches the pair again, and the session carries on at both ends"
    )
    func subscriberLinkBlips() throws {
        let group = uniqueGroup()
        let (directory, directoryMain) = try runningDirectory(group)
        // A publisher that answers Hello and reports once its session ends.
        let publisherThread = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            var seen: [String] = []
            mailbox.publish("svc", scope: .group)
            while true {
                let message = try await mailbox.select(
                    Published.self, Delivered.self, Dropped.self, Hello.self, timeout: .seconds(30))
                seen.append(line(message))
                if message is Hello { try mailbox.reply(Welcome(myName: "server", yourName: "")) }
                if message is Dropped || message is TimedOut { return Seen(events: seen) }
            }
        }
        let subscriber = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            var seen: [String] = []
            mailbox.subscribe("svc", scope: .group)
            _ = try await mailbox.select(Subscribed.self, timeout: .seconds(10))
            guard let available = try await mailbox.select(Available.self, timeout: .seconds(10)) as? Available,
                let directory = mailbox.runtime.pubSub.directory(on: mailbox.runtime)?.object,
                let groupLink = directory.group
            else { return Faulted("no session") }
            let publisher = mailbox.returnAddress
            // The link to the group directory breaks; the process links again by itself and
            // passes its search up again, and the directory matches the pair under a new number.
            mailbox.close(groupLink, reconnecting: true)
            let deadline = Deadline.after(.seconds(20))
            while let session = directory.table.sessions[available.session], session.matchedAs == available.session,
                Deadline.now() < deadline
            {
                _ = try await mailbox.select(Go.self, timeout: .milliseconds(10))
            }
            let matchedAs = directory.table.sessions[available.session]?.matchedAs
            seen.append("matched again \(matchedAs != nil && matchedAs != available.session)")
            seen.append(
                line(
                    try await mailbox.ask(
                        Hello(name: "still"), to: publisher, expecting: Welcome.self,
                        timeout: .seconds(10))))
            mailbox.clear(available.session)
            seen.append(line(try await mailbox.select(Cleared.self, Dropped.self, timeout: .seconds(10))))
            return Seen(events: seen)
        }
        #expect((subscriber.wait() as? Seen)?.events == ["matched again true", "Welcome server", "Cleared svc"])
        // The publisher's end heard the session end once, from the subscriber — not "subscriber
        // gone" from the directory that lost sight of it for a moment.
        #expect(
            (publisherThread.wait() as? Seen)?.events == [
                "Published svc", "Delivered svc", "Hello still", "Dropped ended by the other end",
            ])
        stopDirectory(directoryMain)
        #expect(directory.wait() is Ack)
    }
}

@Suite("A session's end comes after its messages")
struct EndAfterMessagesTests {
    @Test(
        "a publisher sends its last messages and retracts: every subscriber process gets them all, then Dropped"
    )
    func lastMessagesFirst() throws {
        let subscribers = 10
        let messages = 100 // within the 256 a sender may assume before it hears the window
        // Big enough that the messages are still on their way when the directories' word arrives.
        let payload = String(repeating: "x", count: 32 * 1024)
        let group = uniqueGroup()
        let (directory, directoryMain) = try runningDirectory(group)
        let publisherThread = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            mailbox.publish("last-words", scope: .group)
            var ends: [Address] = []
            while ends.count < subscribers {
                guard try await mailbox.select(Delivered.self, timeout: .seconds(30)) is Delivered else {
                    return Faulted("\(ends.count) of \(subscribers) subscribers")
                }
                ends.append(mailbox.returnAddress)
            }
            for end in ends {
                var sent = 0
                while sent < messages {
                    do {
                        try mailbox.send(Hello(name: payload), to: end)
                        sent += 1
                    } catch SendRefused.linkBusy {
                        _ = try await mailbox.select(Writable.self, timeout: .seconds(30))
                    }
                }
            }
            // The end goes two ways: to the group's directory (EntryDown, then its CloseSession to
            // each subscriber's process) and straight to each subscriber's process behind the messages.
            mailbox.retract()
            _ = try await mailbox.select(Retracted.self, timeout: .seconds(30))
            return Ack()
        }
        let threads = (0..<subscribers).map { _ in
            RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
                mailbox.subscribe("last-words", scope: .group)
                guard try await mailbox.select(Available.self, timeout: .seconds(30)) is Available else {
                    return Faulted("no session")
                }
                var received = 0
                while true {
                    let message = try await mailbox.select(Hello.self, Dropped.self, timeout: .seconds(30))
                    guard message is Hello else {
                        return Seen(events: ["\(received) messages, then \(line(message))"])
                    }
                    received += 1
                }
            }
        }
        for thread in threads {
            #expect(
                (thread.wait() as? Seen)?.events == ["\(messages) messages, then Dropped ended by the other end"])
        }
        #expect(publisherThread.wait() is Ack)
        stopDirectory(directoryMain)
        #expect(directory.wait() is Ack)
    }
}

@Suite("Control messages from those who may not send them")
struct ForgedControlTests {
    @Test(
        "a subscriber's process forges a directory's close of its session: refused, the session stays open and the link up"
    )
    func forgedDirectoryClose() throws {
        let group = uniqueGroup()
        let (directory, directoryMain) = try runningDirectory(group)
        let publisherThread = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            var seen: [String] = []
            mailbox.publish("guarded", scope: .group)
            while true {
                let message = try await mailbox.select(
                    Published.self, Delivered.self, Dropped.self, Hello.self, timeout: .seconds(30))
                seen.append(line(message))
                if message is Hello {
                    // What this end's table holds, once the forged close (sent first) was handled.
                    let table = mailbox.runtime.pubSub.directory(on: mailbox.runtime)?.object.table
                    let states = table?.sessions.values.map { "\($0.state)" } ?? []
                    try mailbox.reply(Welcome(myName: states.joined(separator: ","), yourName: ""))
                }
                if message is Dropped || message is TimedOut { return Seen(events: seen) }
            }
        }
        let subscriber = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            mailbox.subscribe("guarded", scope: .group)
            guard let available = try await mailbox.select(Available.self, timeout: .seconds(30)) as? Available else {
                return Faulted("no session")
            }
            let publisher = mailbox.returnAddress
            // To the publisher's process directory, as if from a directory: it may come only over
            // the group link.
            try mailbox.send(
                CloseSession(session: available.session, reason: "forged", entry: 1),
                to: Address(object: 0, via: publisher))
            let answer = try await mailbox.ask(
                Hello(name: "still"), to: publisher, expecting: Welcome.self, timeout: .seconds(10))
            mailbox.clear(available.session)
            _ = try await mailbox.select(Cleared.self, timeout: .seconds(10))
            return Seen(events: [(answer as? Welcome).map { "publisher's end \($0.myName)" } ?? line(answer)])
        }
        #expect((subscriber.wait() as? Seen)?.events == ["publisher's end open"])
        #expect(
            (publisherThread.wait() as? Seen)?.events == [
                "Published guarded", "Delivered guarded", "Hello still", "Dropped ended by the other end",
            ])
        stopDirectory(directoryMain)
        #expect(directory.wait() is Ack)
    }

    @Test(
        "a member says to its directory what only the parent may (Relayed, OpenSession, CloseSession, EntryRefused about another's entry): none reaches the owner"
    )
    func forgedParentMessages() throws {
        let group = uniqueGroup()
        let (directory, directoryMain) = try runningDirectory(group)
        let endpoint = SocketAddress.unixAbstract(name: "ansar-test-victim-\(UInt32.random(in: 0...UInt32.max))")
        let listing = EntryUp(
            id: 42, name: "svc", search: nil, scope: .group, object: 1, endpoint: endpoint)
        // The owner of entry 42: told Go once the forgeries were handled, it asks the directory for
        // its report, which comes after anything the directory passed on to it before.
        let victim = RuntimeThread(transport: groupSecret) { mailbox in
            try await joinAsMember(mailbox, listeningAt: endpoint, group: group)
            let directory = mailbox.returnAddress
            try mailbox.send(listing, to: directory)
            _ = try await mailbox.select(Go.self, timeout: .seconds(10))
            let forger = mailbox.returnAddress
            try mailbox.send(NetworkEnquiry(), to: directory)
            let first = try await mailbox.select(
                Relayed.self, OpenSession.self, CloseSession.self, EntryRefused.self, NetworkReport.self,
                timeout: .seconds(10))
            // The forger keeps its link (and the session its search opened) until now.
            try mailbox.send(Go(), to: forger)
            return Seen(events: [first is NetworkReport ? "nothing forged came" : "got \(type(of: first))"])
        }
        let victimMain = try #require(victim.mainAddress(), "the owner did not start")
        let forger = RuntimeThread(transport: groupSecret) { mailbox in
            try await linkToGroup(mailbox, group)
            let directory = mailbox.returnAddress
            // The owner's listing is in place once a search for it is matched (OpenSession back).
            let search = EntryUp(
                id: 43, name: nil, search: .exact("svc"), scope: .group, object: 1,
                endpoint: .unixAbstract(name: "ansar-test-forger"))
            try mailbox.send(search, to: directory)
            guard let open = try await mailbox.select(OpenSession.self, timeout: .seconds(10)) as? OpenSession else {
                return Faulted("no match")
            }
            try mailbox.send(
                Relayed(
                    session: open.session, entry: 42, relay: .ipv4("127.0.0.1", port: 9),
                    ticket: [UInt8](repeating: 1, count: RelayTicket.bytes)), to: directory)
            try mailbox.send(open, to: directory)
            try mailbox.send(CloseSession(session: open.session, reason: "forged", entry: 42), to: directory)
            try mailbox.send(EntryRefused(id: 42, reason: "forged"), to: directory)
            try mailbox.send(NetworkEnquiry(), to: directory)
            _ = try await mailbox.select(NetworkReport.self, timeout: .seconds(10))
            try mailbox.send(Go(), to: victimMain)
            _ = try await mailbox.select(Go.self, timeout: .seconds(10))
            return Ack()
        }
        #expect(forger.wait() is Ack)
        #expect((victim.wait() as? Seen)?.events == ["nothing forged came"])
        stopDirectory(directoryMain)
        #expect(directory.wait() is Ack)
    }

    @Test(
        "listings at a LAN directory: the host is the one the link comes from; a listing that sends subscribers to a file socket is refused"
    )
    func endpointsFromTheLink() throws {
        let bound = Latch<String>()
        let directory = RuntimeThread(transport: groupSecret) { mailbox in
            mailbox.create(
                ScopeDirectory(listening: .ipv4("127.0.0.1", port: 0), scope: .lan, links: .init()) { bound.set($0) })
            _ = try await mailbox.select(Stop.self, timeout: .seconds(30))
            return Ack()
        }
        let address = try SocketAddress(parsing: try #require(bound.wait(upTo: .seconds(10))))
        let directoryMain = try #require(directory.mainAddress())
        let publisher = RuntimeThread(transport: groupSecret) { mailbox in
            try await linkToGroup(mailbox, address)
            let directory = mailbox.returnAddress
            try mailbox.send(
                EntryUp(
                    id: 50, name: "svc", search: nil, scope: .lan, object: 1,
                    endpoint: .unixAbstract(name: "ansar-test-p"), network: .ipv4("10.9.9.9", port: 4000)),
                to: directory)
            try mailbox.send(
                EntryUp(
                    id: 51, name: "svc", search: nil, scope: .lan, object: 1,
                    endpoint: .unix(path: "/var/run/docker.sock"), network: .ipv4("0.0.0.0", port: 4001)),
                to: directory)
            let refused = try await mailbox.select(EntryRefused.self, timeout: .seconds(10))
            _ = try await mailbox.select(Go.self, timeout: .seconds(10))
            return Seen(events: [(refused as? EntryRefused).map { "refused \($0.id)" } ?? line(refused)])
        }
        let publisherMain = try #require(publisher.mainAddress())
        let subscriber = RuntimeThread(transport: groupSecret) { mailbox in
            try await linkToGroup(mailbox, address)
            try mailbox.send(
                EntryUp(
                    id: 60, name: nil, search: .exact("svc"), scope: .lan, object: 1,
                    endpoint: .unixAbstract(name: "ansar-test-s")),
                to: mailbox.returnAddress)
            let open = try await mailbox.select(OpenSession.self, timeout: .seconds(10))
            try mailbox.send(Go(), to: publisherMain)
            return Seen(events: [
                (open as? OpenSession).map { "session to \($0.listing.network?.description ?? "-")" } ?? line(open)
            ])
        }
        #expect((subscriber.wait() as? Seen)?.events == ["session to 127.0.0.1:4000"])
        #expect((publisher.wait() as? Seen)?.events == ["refused 51"])
        stopDirectory(directoryMain)
        #expect(directory.wait() is Ack)
    }

    @Test(
        "a member's flood: a 15 MiB endpoint dropped undecoded, 30,000 entries held to its share; another member is still served"
    )
    func memberFlood() throws {
        let group = uniqueGroup()
        let (directory, directoryMain) = try runningDirectory(group)
        let flooder = RuntimeThread(transport: groupSecret) { mailbox in
            try await linkToGroup(mailbox, group)
            let directory = mailbox.returnAddress
            let huge = SocketAddress.unixAbstract(name: String(repeating: "a", count: 15 << 20))
            try mailbox.send(
                EntryUp(id: 1, name: "svc-huge", search: nil, scope: .group, object: 1, endpoint: huge), to: directory)
            let endpoint = SocketAddress.unixAbstract(name: "ansar-test-flood")
            var (id, refused) = (UInt64(2), 0)
            while id <= 30_001 {
                do {
                    try mailbox.send(
                        EntryUp(
                            id: id, name: try ServiceName("flood-\(id)"), search: nil, scope: .group, object: 1,
                            endpoint: endpoint),
                        to: directory)
                    id += 1
                } catch SendRefused.linkBusy {
                    // As a process does: take what comes back while waiting for room.
                    let next = try await mailbox.select(Writable.self, EntryRefused.self, timeout: .seconds(30))
                    if next is EntryRefused { refused += 1 }
                }
            }
            while refused < 30_000 - Matcher.defaultCapacity / 4 {
                guard try await mailbox.select(EntryRefused.self, timeout: .seconds(60)) is EntryRefused else { break }
                refused += 1
            }
            return Seen(events: ["refused \(refused)"])
        }
        #expect((flooder.wait() as? Seen)?.events == ["refused \(30_000 - Matcher.defaultCapacity / 4)"])
        let publisherThread = RuntimeThread(
            transport: groupSecret, groupAddress: group, publisher("after-flood", as: "Calm", scope: .group))
        let publisherMain = try #require(publisherThread.mainAddress())
        #expect(
            (firstOffer(of: .exact("after-flood"), in: group, thenStopping: directoryMain).wait() as? Seen)?.events == [
                "Available after-flood"
            ])
        stopDirectory(publisherMain)
        _ = publisherThread.wait()
        #expect(directory.wait() is Ack)
    }

    @Test(
        "a listing's identity is proved on the direct link: a member claiming another's key is refused there; its own key is taken"
    )
    func claimedIdentity() throws {
        let bound = Latch<String>()
        // A host directory takes the identity an entry names (a group directory writes in its
        // link's): the end-to-end check is the subscriber's.
        let directory = RuntimeThread(transport: groupSecret) { mailbox in
            mailbox.create(ScopeDirectory(listening: uniqueGroup(), scope: .host, links: .init()) { bound.set($0) })
            _ = try await mailbox.select(Stop.self, timeout: .seconds(30))
            return Ack()
        }
        let address = try SocketAddress(parsing: try #require(bound.wait(upTo: .seconds(10))))
        let directoryMain = try #require(directory.mainAddress())
        let victim = Identity.generate().publicKey
        var impostorConfiguration = groupSecret
        let impostorIdentity = Identity.generate()
        impostorConfiguration.identity = impostorIdentity
        let impostor = RuntimeThread(transport: impostorConfiguration) { mailbox in
            let endpoint = uniqueGroup()
            try await joinAsMember(mailbox, listeningAt: endpoint, group: address)
            let directory = mailbox.returnAddress
            for (id, name, identity) in [(70, "svc-claimed", victim), (71, "svc-own", impostorIdentity.publicKey)] {
                try mailbox.send(
                    EntryUp(
                        id: UInt64(id), name: try ServiceName(name), search: nil, scope: .host, object: 1,
                        endpoint: endpoint, identity: identity),
                    to: directory)
            }
            _ = try await mailbox.select(Go.self, timeout: .seconds(30))
            return Ack()
        }
        let impostorMain = try #require(impostor.mainAddress())
        let subscriber = RuntimeThread(transport: groupSecret, groupAddress: address) { mailbox in
            var seen: [String] = []
            for name in ["svc-claimed", "svc-own"] {
                mailbox.subscribe(.exact(try ServiceName(name)), scope: .host)
                _ = try await mailbox.select(Subscribed.self, timeout: .seconds(10))
                let offer = try await mailbox.select(Available.self, NotAvailable.self, timeout: .seconds(10))
                if let refused = offer as? NotAvailable {
                    seen.append("NotAvailable \(refused.name): \(refused.reason)")
                } else {
                    seen.append(line(offer))
                }
            }
            try mailbox.send(Go(), to: impostorMain)
            return Seen(events: seen)
        }
        let seen = (subscriber.wait() as? Seen)?.events ?? []
        #expect(seen.last == "Available svc-own", "\(seen)")
        #expect(
            seen.first?.hasPrefix("NotAvailable svc-claimed") == true
                && seen.first?.contains(
                    "peer proved identity \(impostorIdentity.publicKey.short), not the expected \(victim.short)")
                    == true,
            "\(seen)")
        #expect(impostor.wait() is Ack)
        stopDirectory(directoryMain)
        #expect(directory.wait() is Ack)
    }

    @Test(
        "listing takeover: a copy of another process's listing (from an OpenSession) and its withdrawal are refused; the listing stays"
    )
    func listingTakeover() throws {
        let (group, directory) = try startGroup()
        defer { stop(directory) }
        let publisher = try node(["--role=publisher", "--me=P"], group: group)
        defer { stop(publisher) }
        #expect(publisher.waitForError(containing: "published"))
        let address = try SocketAddress(parsing: group)
        let sameRealm = TransportConfiguration(secret: RealmSecret(hex: realm["ANSAR_REALM_SECRET"]!)!)
        let forger = RuntimeThread(transport: sameRealm) { mailbox in
            try await linkToGroup(mailbox, address)
            let directory = mailbox.returnAddress
            try mailbox.send(
                EntryUp(
                    id: 9_001, name: nil, search: .exact("svc"), scope: .group, object: 1,
                    endpoint: .unixAbstract(name: "ansar-test-forger")),
                to: directory)
            guard let open = try await mailbox.select(OpenSession.self, timeout: .seconds(10)) as? OpenSession else {
                return Faulted("no match")
            }
            // The listing as every subscriber receives it, claimed and then withdrawn.
            try mailbox.send(open.listing, to: directory)
            try mailbox.send(EntryDown(id: open.listing.id), to: directory)
            try mailbox.send(NetworkEnquiry(), to: directory)
            _ = try await mailbox.select(NetworkReport.self, timeout: .seconds(10))
            return Ack()
        }
        #expect(forger.wait() is Ack)
        let checker = RuntimeThread(transport: sameRealm, groupAddress: address) { mailbox in
            mailbox.subscribe("svc", scope: .group)
            let offer = try await mailbox.select(Available.self, NotAvailable.self, timeout: .seconds(10))
            return Seen(events: [line(offer)])
        }
        #expect((checker.wait() as? Seen)?.events == ["Available svc"])
    }

}
