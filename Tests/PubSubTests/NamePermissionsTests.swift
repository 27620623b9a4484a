import Actors
import AnsarTestKit
import Platform
import Testing

@testable import PubSub

@Suite("Owned names: who may publish and subscribe what")
struct NamePermissionsTests {
    let owner = Identity.generate().publicKey
    let admin = Identity.generate().publicKey
    let stranger = Identity.generate().publicKey

    func name(_ text: String) -> ServiceName { try! ServiceName(text) }

    var rules: NamePermissions {
        var permissions = NamePermissions.open
        permissions.grant(.publish, prefix: "hello-", to: .init(identity: owner, role: "pub"))
        permissions.grant(.publish, prefix: "hello-admin", to: .init(identity: admin))
        permissions.grant(.subscribe, prefix: "secret-", to: .init(identity: admin))
        return permissions
    }

    @Test("the longest prefix that fits decides; names no rule covers are open; no identity is no member")
    func decisions() {
        let rules = self.rules
        #expect(rules.allows(.publish, name("hello-welcome"), by: owner))
        #expect(!rules.allows(.publish, name("hello-welcome"), by: stranger))
        #expect(!rules.allows(.publish, name("hello-welcome"), by: nil))
        #expect(rules.allows(.publish, name("hello-admin-panel"), by: admin))
        #expect(!rules.allows(.publish, name("hello-admin-panel"), by: owner), "the longer prefix owns it")
        #expect(rules.allows(.publish, name("other"), by: stranger), "open")
        #expect(rules.allows(.subscribe, name("hello-welcome"), by: stranger), "publishing rules do not bind searches")
        #expect(!rules.allows(.subscribe, name("secret-plans"), by: stranger))
        #expect(NamePermissions.open.allows(.publish, name("anything"), by: nil))
    }

    @Test("grant twice keeps one member; revoke from one, or the whole rule")
    func grantAndRevoke() {
        var rules = self.rules
        rules.grant(.publish, prefix: "hello-", to: .init(identity: owner, role: "renamed"))
        #expect(rules.rules.first { $0.prefix == "hello-" }?.members.map(\.role) == ["renamed"])
        let revoked = rules.revoke(.publish, prefix: "hello-", from: [owner])
        #expect(revoked)
        #expect(
            !rules.allows(.publish, name("hello-welcome"), by: owner), "a rule with no one left still owns its names")
        let again = rules.revoke(.publish, prefix: "hello-", from: [owner])
        #expect(!again, "nothing left to take back")
        let whole = rules.revoke(.publish, prefix: "hello-", from: nil)
        #expect(whole)
        #expect(rules.allows(.publish, name("hello-welcome"), by: stranger), "open again")
    }

    @Test(
        "a directory refuses a listing or an exact search its identity may not make, and a wider search never meets a name it may not see"
    )
    func matcher() {
        var matcher = Matcher(scope: .group, permissions: rules)
        let impostor = matcher.add(
            .init(id: 1, kind: .listing(name("hello-welcome")), scope: .group, member: 1, identity: stranger))
        #expect(impostor.count == 1)
        if case .refuse(_, let reason) = impostor.first {
            #expect(reason == "identity \(stranger.short) may not publish hello-welcome (the realm's permissions)")
        } else {
            Issue.record("not refused: \(impostor)")
        }
        _ = matcher.add(.init(id: 2, kind: .listing(name("hello-welcome")), scope: .group, member: 2, identity: owner))
        _ = matcher.add(.init(id: 3, kind: .listing(name("secret-plans")), scope: .group, member: 2, identity: owner))
        let exact = matcher.add(
            .init(id: 4, kind: .search(.exact(name("secret-plans"))), scope: .group, member: 3, identity: stranger))
        #expect(exact.allSatisfy { if case .refuse = $0 { true } else { false } } && exact.count == 1)
        let prefix = matcher.add(.init(id: 5, kind: .search(.prefix("")), scope: .group, member: 3, identity: stranger))
        #expect(prefix.compactMap { if case .open(let listing, _) = $0 { listing.id } else { nil } } == [UInt64(2)])
        let admitted = matcher.add(
            .init(id: 6, kind: .search(.pattern("secret-.*")), scope: .group, member: 4, identity: admin))
        #expect(admitted.compactMap { if case .open(let listing, _) = $0 { listing.id } else { nil } } == [UInt64(3)])
    }

    @Test("new rules while entries are held: what they refuse goes, a wide search loses and gains what it may see")
    func newRules() {
        var matcher = Matcher(scope: .group)
        _ = matcher.add(
            .init(id: 1, kind: .listing(name("hello-welcome")), scope: .group, member: 1, identity: stranger))
        _ = matcher.add(.init(id: 2, kind: .listing(name("secret-plans")), scope: .group, member: 2, identity: owner))
        let wide = Matcher.Entry(id: 3, kind: .search(.prefix("")), scope: .group, member: 3, identity: stranger)
        #expect(matcher.add(wide).count == 2)
        let changes = matcher.replacePermissions(rules)
        let closed = changes.compactMap {
            if case .close(let listing, let search) = $0 { [listing.id, search.id] } else { nil }
        }
        let refused = changes.compactMap {
            if case .refuse(let entry, let why) = $0 { "\(entry.id): \(why)" } else { nil }
        }
        #expect(
            closed.sorted { $0[0] < $1[0] } == [[1, 3], [2, 3]],
            "the impostor's listing went; the secret is out of sight")
        #expect(refused == ["1: identity \(stranger.short) may not publish hello-welcome (the realm's permissions)"])
        #expect(matcher.count == 2)
        // Opened again to every one: the wide search meets the secret listing again.
        let opened = matcher.replacePermissions(.open)
        #expect(opened.compactMap { if case .open(let listing, _) = $0 { listing.id } else { nil } } == [UInt64(2)])
    }
}

@Suite("Owned names across the processes of a group")
struct OwnedNamesTests {
    @Test("an impostor publishing a name it may not is refused (no Available for it); the owner's listing is found")
    func impostorRefused() throws {
        let owner = Identity.generate()
        var rules = NamePermissions.open
        rules.grant(.publish, prefix: "hello-", to: .init(identity: owner.publicKey, role: "owner"))
        let permissions = rules
        let group = uniqueGroup()
        let directory = RuntimeThread(transport: groupSecret) { mailbox in
            mailbox.create(ScopeDirectory(listening: group, permissions: permissions))
            _ = try await mailbox.select(Stop.self, timeout: .seconds(30))
            return Ack()
        }
        let directoryMain = try #require(directory.mainAddress())
        func configuration(_ identity: Identity) -> TransportConfiguration {
            var configuration = groupSecret
            configuration.identity = identity
            return configuration
        }
        // The impostor (the realm's secret, another key) first: refused at the directory. It stays,
        // answering any Hello, so a listing of it that got through would be found first.
        let impostorIdentity = Identity.generate()
        let refused = Latch<String>()
        let impostor = RuntimeThread(transport: configuration(impostorIdentity), groupAddress: group) { mailbox in
            var seen: [String] = []
            mailbox.publish("hello-owned", scope: .group)
            while true {
                let message = try await mailbox.select(
                    Published.self, NotPublished.self, Hello.self, Stop.self, timeout: .seconds(30))
                if message is Stop || message is TimedOut { return Seen(events: seen) }
                seen.append(line(message))
                if let hello = message as? Hello {
                    try mailbox.reply(Welcome(myName: "Impostor", yourName: hello.name))
                }
                if let no = message as? NotPublished { refused.set(no.reason) }
            }
        }
        let impostorMain = try #require(impostor.mainAddress())
        #expect(
            refused.wait(upTo: .seconds(10))
                == "refused by the GROUP directory: identity \(impostorIdentity.publicKey.short) may not publish hello-owned (the realm's permissions)"
        )
        let subscriberGo = Latch<Address>()
        let subscriber = RuntimeThread(transport: groupSecret, groupAddress: group) { mailbox in
            var seen: [String] = []
            mailbox.subscribe("hello-owned", scope: .group)
            seen.append(line(try await mailbox.select(Subscribed.self, timeout: .seconds(10))))
            subscriberGo.set(mailbox.address)
            // The first offer is the owner's, started only now: the impostor's listing never was.
            seen.append(line(try await mailbox.select(Available.self, NotAvailable.self, timeout: .seconds(10))))
            seen.append(
                line(
                    try await mailbox.ask(
                        Hello(name: "Gladys"), to: mailbox.returnAddress, expecting: Welcome.self,
                        timeout: .seconds(10))))
            try mailbox.send(Stop(), to: directoryMain)
            return Seen(events: seen)
        }
        _ = try #require(subscriberGo.wait(upTo: .seconds(10)))
        let ownerThread = RuntimeThread(
            transport: configuration(owner), groupAddress: group, publisher("hello-owned", as: "Owner", scope: .group))
        let ownerMain = try #require(ownerThread.mainAddress())
        #expect(
            (subscriber.wait() as? Seen)?.events == [
                "Subscribed hello-owned", "Available hello-owned", "Welcome Owner",
            ])
        stopDirectory(ownerMain)
        stopDirectory(impostorMain)
        #expect(((ownerThread.wait() as? Seen)?.events ?? []).first == "Published hello-owned")
        #expect((impostor.wait() as? Seen)?.events.contains("Hello Gladys") == false)
        #expect(directory.wait() is Ack)
    }
}
