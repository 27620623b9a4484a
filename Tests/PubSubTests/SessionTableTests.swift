import Platform
import Testing

@testable import Actors
@testable import PubSub

/// The process around a session table, made of plain values: who owns which entry, who is still a
/// member, which entries asked for a session object.
final class TableWorld: SessionWorld {
    var owners: [UInt64: Address] = [:]
    var members: Set<Address> = []
    var wantsSessionObject: Set<UInt64> = []
    var names: [Address: String] = [:]
    var group: Address? = Address.owner(of: LinkID(value: 1), runtime: 0)

    func owner(of entry: UInt64) -> Address? { owners[entry] }
    func isMember(_ object: Address) -> Bool { members.contains(object) }

    func sessionObject(for entry: UInt64, owner: Address, session: UInt64) -> Address? {
        guard wantsSessionObject.contains(entry) else { return nil }
        let object = Address(local: 0x5000 + UInt64(names.count))
        names[object] = "\(names[owner] ?? "?")'s side"
        return object
    }

    /// A local member owning `entries`.
    func member(_ name: String, _ object: UInt64, entries: [UInt64]) -> Address {
        let address = Address(local: object)
        names[address] = name
        members.insert(address)
        for entry in entries { owners[entry] = address }
        return address
    }

    /// An object of another process, over `link`.
    func remote(_ name: String, _ object: UInt64, link: UInt64) -> Address {
        let address = Address(object: object, link: LinkID(value: link), runtime: 0)
        names[address] = name
        return address
    }

    /// One line per action, with the objects by name: what a reader of a transition checks.
    func lines(_ actions: [SessionTable.Action], since start: Deadline) -> [String] {
        actions.map { action in
            switch action {
            case .tell(let message, let to, let sender):
                return "\(describe(message)) → \(label(to))" + (sender.map { " as \(label($0))" } ?? "")
            case .connect(let address, let limit, _):
                return "connect \(address)" + (limit.map { " within \($0)" } ?? "")
            case .joinRelay(let relay, _, let peer, _):
                return "join relay \(relay)" + (peer.map { " for \($0)" } ?? " as server")
            case .cancelConnect(let peer): return "cancel \(peer)"
            case .stop(let object): return "stop \(label(object))"
            case .arm(let timer, let deadline):
                return "arm \(timer) at +\(start.nanoseconds(until: deadline) / 1_000_000) ms"
            case .refuse(let what): return "refuse: \(what)"
            case .note(let what, _): return "note: \(what)"
            }
        }
    }

    private func label(_ address: Address) -> String {
        if let name = names[address] { return name }
        if address.object == 0, let link = address.link { return "process at \(link)" }
        return "\(address)"
    }

    private func describe(_ message: any Message) -> String {
        switch message {
        case let m as Available: "Available #\(m.session)"
        case let m as Delivered: "Delivered #\(m.session)"
        case let m as Dropped: "Dropped #\(m.session) \(m.reason)" + (m.unconfirmed > 0 ? " (\(m.unconfirmed))" : "")
        case let m as Cleared: "Cleared #\(m.session)"
        case let m as NotCleared: "NotCleared #\(m.session): \(m.reason)"
        case let m as NotAvailable: "NotAvailable \(m.name): \(m.reason)"
        case let m as SessionOpened: "SessionOpened #\(m.session)"
        case let m as SessionHello: "SessionHello #\(m.session)"
        case let m as SessionAccepted: "SessionAccepted #\(m.session)"
        case let m as SessionKept: "SessionKept #\(m.session) as #\(m.matchedAs)"
        case let m as CloseSession: "CloseSession #\(m.session) \(m.reason)"
        case let m as RelayWanted: "RelayWanted #\(m.session)"
        default: "\(type(of: message))"
        }
    }
}

private let start = Deadline(nanoseconds: 1_000_000_000)
private let name: ServiceName = "svc"
private let publisherEndpoint = SocketAddress.unixAbstract(name: "ansar-peer-p")

/// A directory's match of listing 1 (object 0x11 of the publisher's process) with search 2.
private func open(
    _ session: UInt64, listing: UInt64 = 1, search: UInt64 = 2, scope: Scope = .group, sessionObject: Bool = false
) -> OpenSession {
    OpenSession(
        session: session,
        listing: EntryUp(
            id: listing, name: name, search: nil, scope: scope, object: 0x11, endpoint: publisherEndpoint,
            sessionObject: sessionObject),
        search: EntryUp(
            id: search, name: nil, search: .exact(name), scope: scope, object: 0x22,
            endpoint: .unixAbstract(name: "ansar-peer-s")),
        scope: scope)
}

@Suite("Session table: both ends in this process")
struct LocalSessionTests {
    let world = TableWorld()
    var table = SessionTable()
    let publisher: Address
    let subscriber: Address

    init() {
        publisher = world.member("pub", 0x11, entries: [1])
        subscriber = world.member("sub", 0x22, entries: [2])
    }

    mutating func match(_ id: UInt64 = 7) -> [String] {
        world.lines(
            table.matched(
                Matcher.Pair(listing: 1, search: 2), name: name, search: .exact(name), publisher: publisher,
                subscriber: subscriber, id: id, in: world), since: start)
    }

    @Test("a match opens one session: Available to the subscriber, Delivered to the publisher; again, nothing")
    mutating func opens() {
        #expect(match() == ["Available #7 → sub as pub", "Delivered #7 → pub as sub"])
        #expect(match(8) == [])
        #expect(table.count == 1)
    }

    @Test("ends that asked for session objects: each side speaks for its end and hears SessionOpened")
    mutating func sessionObjects() {
        world.wantsSessionObject = [1, 2]
        #expect(
            match() == [
                "Available #7 → sub as pub's side", "Delivered #7 → pub as sub's side",
                "SessionOpened #7 → pub's side as sub's side", "SessionOpened #7 → sub's side as pub's side",
            ])
        // The subscriber's side completes: its end clears, the other end is told, its side stops.
        let side = table.sessions[7]!.subscriberSide
        #expect(
            world.lines(table.sideEnded(side, in: world)!, since: start) == [
                "Dropped #7 ended by the other end → pub as sub's side", "Cleared #7 → sub as pub's side",
                "stop pub's side",
            ])
        #expect(table.sideEnded(subscriber, in: world) == nil)
        #expect(table.sideObjects.isEmpty)
    }

    @Test("clear: Cleared to the asker, Dropped to the other; the pair is not offered again until it unmatches")
    mutating func clear() {
        _ = match()
        #expect(
            world.lines(table.clear(7, by: subscriber, value: nil, in: world), since: start) == [
                "Dropped #7 ended by the other end → pub as sub", "Cleared #7 → sub as pub",
            ])
        #expect(match(8) == [])
        #expect(
            world.lines(table.unmatched(Matcher.Pair(listing: 1, search: 2), endedBy: nil, in: world), since: start)
                == [])
        #expect(match(9) == ["Available #9 → sub as pub", "Delivered #9 → pub as sub"])
    }

    @Test("clear of a session not at this end, or of none: NotCleared")
    mutating func clearOfOthers() {
        _ = match()
        let stranger = world.member("stranger", 0x33, entries: [3])
        #expect(
            world.lines(table.clear(7, by: stranger, value: nil, in: world), since: start) == [
                "NotCleared #7: no such session at this end → stranger"
            ])
        #expect(
            world.lines(table.clear(99, by: subscriber, value: nil, in: world), since: start) == [
                "NotCleared #99: no such session at this end → sub"
            ])
        #expect(table.count == 1)
    }

    @Test("the publisher retracts: it hears Cleared, the subscriber Dropped; it ends: only the subscriber hears")
    mutating func withdrawn() {
        _ = match()
        world.members.remove(publisher)
        #expect(
            world.lines(table.withdrawn(publisher, retracted: true, in: world), since: start) == [
                "Cleared #7 → pub as sub", "Dropped #7 ended by the other end → sub as pub",
            ])
        world.members.insert(publisher)
        _ = match(8)
        world.members.remove(publisher)
        #expect(
            world.lines(table.withdrawn(publisher, retracted: false, in: world), since: start) == [
                "Dropped #8 publisher gone → sub as pub"
            ])
        #expect(table.count == 0)
    }

    @Test("an entry unmatches: both ends still here hear Dropped")
    mutating func unmatched() {
        _ = match()
        #expect(
            world.lines(table.unmatched(Matcher.Pair(listing: 1, search: 2), endedBy: nil, in: world), since: start)
                == [
                    "Dropped #7 subscriber gone → pub as sub", "Dropped #7 publisher gone → sub as pub",
                ])
    }

    @Test("at its bound the table refuses a session: the subscriber hears NotAvailable, nothing else changes")
    func bound() {
        var table = SessionTable(capacity: 1)
        let other = world.member("sub2", 0x23, entries: [3])
        _ = table.matched(
            Matcher.Pair(listing: 1, search: 2), name: name, search: .exact(name), publisher: publisher,
            subscriber: subscriber, id: 7, in: world)
        let refused = table.matched(
            Matcher.Pair(listing: 1, search: 3), name: name, search: .exact(name), publisher: publisher,
            subscriber: other, id: 8, in: world)
        #expect(
            world.lines(refused, since: start) == [
                "NotAvailable svc: session table full (1 sessions) → sub2", "refuse: session table full (1 sessions)",
            ])
        #expect(table.count == 1 && table.sessions[7] != nil)
    }
}

@Suite("Session table: the subscriber's end")
struct SubscriberEndTests {
    let world = TableWorld()
    var table = SessionTable()
    let subscriber: Address
    let peerLink = Address.owner(of: LinkID(value: 5), runtime: 0)

    init() {
        subscriber = world.member("sub", 0x22, entries: [2, 4])
        world.names[Address(object: 0x11, via: peerLink)] = "pub"
    }

    func lines(_ actions: [SessionTable.Action]) -> [String] { world.lines(actions, since: start) }

    /// Opens session `id` up to Available.
    mutating func opened(_ id: UInt64 = 7) {
        _ = table.openRequested(open(id), now: start, in: world)
        _ = table.peerConnected(publisherEndpoint, link: peerLink, in: world)
    }

    @Test("a match connects to the publisher's process; the sessions waiting say hello once it is up")
    mutating func connectsThenHello() {
        #expect(lines(table.openRequested(open(7), now: start, in: world)) == ["connect \(publisherEndpoint)"])
        // A second search for the same process waits on the same connector.
        #expect(lines(table.openRequested(open(8, search: 4), now: start, in: world)) == [])
        #expect(
            lines(table.peerConnected(publisherEndpoint, link: peerLink, in: world)) == [
                "SessionHello #7 → process at link#5", "Delivered #7 → pub as sub", "Available #7 → sub as pub",
                "SessionHello #8 → process at link#5", "Delivered #8 → pub as sub", "Available #8 → sub as pub",
            ])
        // Once up, the link carries the next at once.
        #expect(table.sessions[7]?.state == .open && table.sessions[8]?.state == .open)
        #expect(table.peerConnected(publisherEndpoint, link: peerLink, in: world).isEmpty)
    }

    @Test("a match for a search that went: nothing")
    mutating func searchGone() {
        world.owners[2] = nil
        #expect(table.openRequested(open(7), now: start, in: world).isEmpty)
    }

    @Test(
        "a publisher with a session object: Available waits for SessionAccepted, which only the publisher's link may send"
    )
    mutating func awaitsPublisherSide() {
        _ = table.openRequested(open(7, sessionObject: true), now: start, in: world)
        #expect(
            lines(table.peerConnected(publisherEndpoint, link: peerLink, in: world)) == [
                "SessionHello #7 → process at link#5", "Delivered #7 → pub as sub",
            ])
        let side = world.remote("pub's side", 0x99, link: 5)
        let stranger = LinkID(value: 9)
        #expect(
            lines(table.accepted(SessionAccepted(session: 7, publisherSide: side), from: stranger)) == [
                "refuse: SessionAccepted for a session that is not its own"
            ])
        #expect(table.sessions[7]?.state == .awaitingPublisherSide)
        #expect(
            lines(table.accepted(SessionAccepted(session: 7, publisherSide: side), from: LinkID(value: 5))) == [
                "Available #7 → sub as pub's side"
            ])
    }

    @Test("a session ended before it was announced: its subscriber is not told of it")
    mutating func endedUnannounced() {
        _ = table.openRequested(open(7, sessionObject: true), now: start, in: world)
        _ = table.peerConnected(publisherEndpoint, link: peerLink, in: world)
        #expect(lines(table.linkLost(peerLink, unconfirmed: [], now: start, in: world)) == ["arm reopen at +20 ms"])
    }

    @Test("the same pair matched again under a new number: the session carries on and the publisher's process is told")
    mutating func matchedAgain() {
        opened()
        #expect(
            lines(table.openRequested(open(70), now: start, in: world)) == ["SessionKept #7 as #70 → process at link#5"]
        )
        #expect(table.openRequested(open(70), now: start, in: world).isEmpty)
        #expect(table.sessions[7]?.matchedAs == 70)
    }

    @Test(
        "a directory closes a session whose publisher still answers: doubted, then over at both ends unless matched again"
    )
    mutating func doubt() {
        opened()
        let group = world.group!.link
        let close = CloseSession(session: 7, reason: "publisher gone", entry: 2)
        #expect(lines(table.closeReceived(close, from: group, now: start, in: world)) == ["arm doubt at +3000 ms"])
        #expect(table.sessions[7]?.state == .doubted(until: start + .seconds(3), reason: "publisher gone"))
        // Said again: still the first deadline.
        #expect(table.closeReceived(close, from: group, now: start + .seconds(1), in: world).isEmpty)
        #expect(lines(table.doubtDue(now: start + .seconds(1), in: world)) == ["arm doubt at +3000 ms"])
        #expect(
            lines(table.doubtDue(now: start + .seconds(3), in: world)) == [
                "Dropped #7 publisher gone → sub as pub", "CloseSession #7 ended by the other end → process at link#5",
            ])
    }

    @Test("doubted, then matched again: the session carries on; a close under the old number is stale")
    mutating func doubtLifted() {
        opened()
        let group = world.group!.link
        _ = table.closeReceived(
            CloseSession(session: 7, reason: "publisher gone", entry: 2), from: group, now: start, in: world)
        _ = table.openRequested(open(70), now: start, in: world)
        #expect(table.sessions[7]?.state == .open)
        #expect(table.doubtDue(now: start + .seconds(5), in: world).isEmpty)
        #expect(
            table.closeReceived(CloseSession(session: 7, reason: "late", entry: 2), from: group, now: start, in: world)
                .isEmpty)
        #expect(table.sessions[7]?.state == .open)
        // Under the new number (its alias), it is doubted again.
        #expect(
            lines(
                table.closeReceived(
                    CloseSession(session: 70, reason: "gone", entry: 2), from: group, now: start, in: world)
            ) == ["arm doubt at +3000 ms"])
    }

    @Test("close from a link that is neither the group's nor the publisher's: refused, the session stays")
    mutating func closeFromStranger() {
        opened()
        #expect(
            lines(
                table.closeReceived(
                    CloseSession(session: 7, reason: "x", entry: 2), from: LinkID(value: 9), now: start, in: world))
                == ["refuse: CloseSession from a directory not ours"])
        #expect(
            lines(
                table.closeReceived(
                    CloseSession(session: 7, reason: "x"), from: LinkID(value: 9), now: start, in: world))
                == ["refuse: CloseSession for a session that is not its own"])
        #expect(table.count == 1)
        // From the publisher's process itself: over, and it is not told back.
        #expect(
            lines(
                table.closeReceived(
                    CloseSession(session: 7, reason: "ended by the other end"), from: LinkID(value: 5), now: start,
                    in: world))
                == ["Dropped #7 ended by the other end → sub as pub"])
    }

    @Test("the link to the publisher's process is lost: Dropped with what it never confirmed, then tried again")
    mutating func linkLost() {
        opened()
        let unconfirmed = [
            UnconfirmedMessages(sender: subscriber, destination: Address(object: 0x11, via: peerLink), count: 3),
            UnconfirmedMessages(sender: subscriber, destination: Address(object: 0x44, via: peerLink), count: 5),
        ]
        #expect(
            lines(table.linkLost(peerLink, unconfirmed: unconfirmed, now: start, in: world)) == [
                "Dropped #7 publisher process lost (3) → sub as pub", "arm reopen at +20 ms",
            ])
        #expect(
            lines(table.reopenDue(now: start + .milliseconds(20), in: world)) == [
                "connect \(publisherEndpoint) within 0.1 seconds"
            ])
        // That try fails: tried again later, quietly, and each try may take longer.
        let failed = lines(
            table.peerFailed(publisherEndpoint, reason: "refused", now: start + .milliseconds(30), in: world))
        #expect(failed.count == 1 && failed[0].hasPrefix("arm reopen at +"))
        let due = table.reopening[7]!.due
        #expect(lines(table.reopenDue(now: due, in: world)) == ["connect \(publisherEndpoint) within 0.2 seconds"])
        #expect(
            lines(table.peerConnected(publisherEndpoint, link: peerLink, in: world)) == [
                "SessionHello #7 → process at link#5", "Delivered #7 → pub as sub", "Available #7 → sub as pub",
            ])
        #expect(table.reopening.isEmpty)
    }

    @Test("a session tried again that its directory closes: no more tries, and the try under way is given up")
    mutating func reopenClosed() {
        opened()
        _ = table.linkLost(peerLink, unconfirmed: [], now: start, in: world)
        _ = table.reopenDue(now: start + .milliseconds(20), in: world)
        #expect(
            lines(
                table.closeReceived(
                    CloseSession(session: 7, reason: "publisher gone", entry: 2), from: world.group!.link, now: start,
                    in: world))
                == ["cancel \(publisherEndpoint)"])
        #expect(table.reopening.isEmpty && table.peers.isEmpty)
    }

    @Test("a publisher that cannot be reached: NotAvailable once, then tried again; its subscriber gone, no more")
    mutating func unreachable() {
        _ = table.openRequested(open(7), now: start, in: world)
        #expect(
            lines(table.peerFailed(publisherEndpoint, reason: "refused", now: start, in: world)) == [
                "NotAvailable svc: refused → sub", "arm reopen at +20 ms",
            ])
        world.owners[2] = nil
        #expect(table.reopenDue(now: start + .milliseconds(20), in: world).isEmpty)
        #expect(table.reopening.isEmpty)
    }

    @Test("across a WAN: an unreachable publisher's relay is asked of the group link, and only its answer is taken")
    mutating func relay() {
        _ = table.openRequested(open(7, scope: .wan), now: start, in: world)
        let wanted = lines(table.peerFailed(publisherEndpoint, reason: "refused", now: start, in: world))
        #expect(wanted.dropFirst() == ["RelayWanted #7 → process at link#1", "arm relayOverdue at +10000 ms"])
        let relay = SocketAddress.ipv4("10.0.0.1", port: 4000)
        let answer = Relayed(
            session: 7, entry: 2, relay: relay, ticket: Array(repeating: 1, count: RelayTicket.bytes))
        #expect(
            lines(table.relayed(answer, from: LinkID(value: 9), now: start, in: world)) == [
                "refuse: Relayed from a link not the group's"
            ])
        #expect(
            lines(table.relayed(answer, from: world.group!.link, now: start, in: world)) == [
                "join relay \(relay) for \(publisherEndpoint)"
            ])
        // No answer ever for another: its subscriber is told when the wait is over.
        _ = table.openRequested(
            open(8, listing: 5, search: 4, scope: .wan).withEndpoint(.ipv4("10.0.0.2", port: 1)), now: start, in: world)
        _ = table.peerFailed(.ipv4("10.0.0.2", port: 1), reason: "refused", now: start, in: world)
        #expect(
            lines(table.relayOverdue(now: start + .seconds(10), in: world)) == [
                "NotAvailable svc: no relay offered within 10.0 seconds → sub", "arm reopen at +10020 ms",
            ])
    }

    @Test(
        "bounds: past the peer bound a match is refused with NotAvailable; past the session bound, a hello is not sent")
    func bounds() {
        var table = SessionTable(capacity: 1, peerCapacity: 1)
        _ = table.openRequested(open(7), now: start, in: world)
        let other = open(8, listing: 5, search: 4).withEndpoint(.unixAbstract(name: "ansar-peer-q"))
        #expect(
            world.lines(table.openRequested(other, now: start, in: world), since: start) == [
                "NotAvailable svc: too many publisher processes (1) → sub", "refuse: too many publisher processes (1)",
            ])
        _ = table.openRequested(open(9, search: 4), now: start, in: world)
        #expect(
            world.lines(table.peerConnected(publisherEndpoint, link: peerLink, in: world), since: start).suffix(2) == [
                "NotAvailable svc: session table full (1 sessions) → sub", "refuse: session table full (1 sessions)",
            ])
        #expect(table.count == 1)
    }
}

@Suite("Session table: the publisher's end")
struct PublisherEndTests {
    let world = TableWorld()
    var table = SessionTable()
    let publisher: Address
    let link = Address.owner(of: LinkID(value: 5), runtime: 0)
    let subscriber: Address

    init() {
        publisher = world.member("pub", 0x11, entries: [1])
        subscriber = world.remote("sub", 0x22, link: 5)
    }

    func lines(_ actions: [SessionTable.Action]) -> [String] { world.lines(actions, since: start) }

    func hello(_ id: UInt64 = 7, from: Address? = nil) -> SessionHello {
        SessionHello(
            session: id, name: name, search: .exact(name), scope: .group, publisher: 0x11, listing: 1,
            subscriber: from ?? subscriber)
    }

    @Test("a hello opens the publisher's end; with a session object, the subscriber's process hears which")
    mutating func accepts() {
        #expect(table.hello(hello(), from: link, in: world).isEmpty)
        #expect(table.sessions[7]?.path == .publisherEnd)
        world.wantsSessionObject = [1]
        #expect(
            lines(table.hello(hello(8), from: link, in: world)) == [
                "SessionAccepted #8 → process at link#5", "SessionOpened #8 → pub's side as sub",
            ])
    }

    @Test(
        "a hello for a listing that went: CloseSession back, and the publisher (whose Delivered is on its way) hears the end after it"
    )
    mutating func publisherGone() {
        world.owners[1] = nil
        #expect(
            lines(table.hello(hello(), from: link, in: world)) == [
                "CloseSession #7 publisher gone → process at link#5", "Cleared #7 → pub as sub",
            ])
        #expect(table.count == 0)
    }

    @Test("10,000 hellos over one link: a quarter of the table, the rest closed at once; another link is served")
    mutating func helloFlood() {
        table = SessionTable(capacity: 40_000)
        var opened = 0
        for id in UInt64(1)...10_000 where table.hello(hello(id), from: link, in: world).isEmpty { opened += 1 }
        #expect(opened == 10_000 && table.count == 10_000)
        #expect(
            lines(table.hello(hello(10_001), from: link, in: world)) == [
                "CloseSession #10001 too many sessions over one link (10000) → process at link#5",
                "refuse: too many sessions over one link (10000)",
            ])
        let other = Address.owner(of: LinkID(value: 6), runtime: 0)
        #expect(table.hello(hello(10_002, from: world.remote("other", 0x23, link: 6)), from: other, in: world).isEmpty)
        #expect(table.count == 10_001)
    }

    @Test("1,000 Relayed for the publisher's end: one connection per session, and at most 256 in flight")
    mutating func repeatedRelayed() {
        let relay = SocketAddress.ipv4("10.0.0.1", port: 4000)
        let ticket = [UInt8](repeating: 1, count: RelayTicket.bytes)
        func relayed(_ session: UInt64, at now: Deadline = start) -> [String] {
            lines(
                table.relayed(
                    Relayed(session: session, entry: 1, relay: relay, ticket: ticket), from: world.group!.link,
                    now: now,
                    in: world))
        }
        #expect(relayed(7) == ["join relay \(relay) as server"])
        var joins = 1
        for _ in 0..<999 where relayed(7) != ["refuse: Relayed again, or too many at once"] { joins += 1 }
        #expect(joins == 1, "the same session, repeated")
        for session in UInt64(100)..<1_100 where relayed(session).first?.hasPrefix("join") == true { joins += 1 }
        #expect(joins == SessionTable.relayJoinsLimit)
        // Once the window has passed, the session may be relayed again (its ends lost the first).
        #expect(relayed(7, at: start + SessionTable.relayJoinWindow + .seconds(1)) == ["join relay \(relay) as server"])
    }

    @Test("a hello naming a subscriber beyond another link, or a session already open on this one: refused")
    mutating func helloBadInput() {
        let elsewhere = world.remote("elsewhere", 0x22, link: 6)
        #expect(
            lines(table.hello(hello(from: elsewhere), from: link, in: world)) == [
                "refuse: SessionHello for a subscriber not over its own link"
            ])
        _ = table.hello(hello(), from: link, in: world)
        #expect(
            lines(table.hello(hello(), from: link, in: world)) == ["refuse: SessionHello for a session already open"])
        // Opened again over a new link before the old one was seen to go: the new one stands.
        let newLink = Address.owner(of: LinkID(value: 6), runtime: 0)
        #expect(table.hello(hello(from: elsewhere), from: newLink, in: world).isEmpty)
        #expect(table.sessions[7]?.subscriber.link == LinkID(value: 6))
        #expect(lines(table.linkLost(link, unconfirmed: [], now: start, in: world)) == [])
        #expect(table.count == 1)
    }

    @Test("SessionKept only from the subscriber's own link; it lifts a doubt")
    mutating func kept() {
        _ = table.hello(hello(), from: link, in: world)
        _ = table.closeReceived(
            CloseSession(session: 7, reason: "subscriber gone", entry: 1), from: world.group!.link, now: start,
            in: world)
        #expect(
            lines(table.keptReceived(SessionKept(session: 7, matchedAs: 70), from: LinkID(value: 9))) == [
                "refuse: SessionKept for a session that is not its own"
            ])
        if case .doubted = table.sessions[7]?.state {} else { Issue.record("the doubt went on a stranger's word") }
        #expect(table.keptReceived(SessionKept(session: 7, matchedAs: 70), from: LinkID(value: 5)).isEmpty)
        #expect(table.sessions[7]?.state == .open && table.sessions[7]?.matchedAs == 70)
        #expect(table.doubtDue(now: start + .seconds(5), in: world).isEmpty)
    }

    @Test("the publisher clears: Cleared, and the subscriber's process is told")
    mutating func clear() {
        _ = table.hello(hello(), from: link, in: world)
        #expect(
            lines(table.clear(7, by: publisher, value: nil, in: world)) == [
                "Cleared #7 → pub as sub", "CloseSession #7 ended by the other end → process at link#5",
            ])
    }

    @Test("the subscriber's process is lost: the publisher hears Dropped with its unconfirmed count")
    mutating func lost() {
        _ = table.hello(hello(), from: link, in: world)
        let unconfirmed = [UnconfirmedMessages(sender: publisher, destination: subscriber, count: 2)]
        #expect(
            lines(table.linkLost(link, unconfirmed: unconfirmed, now: start, in: world)) == [
                "Dropped #7 subscriber process lost (2) → pub as sub"
            ])
        #expect(table.count == 0)
    }
}

extension OpenSession {
    /// The same match, of a publisher's process at another endpoint.
    fileprivate func withEndpoint(_ endpoint: SocketAddress) -> OpenSession {
        var copy = self
        copy.listing.endpoint = endpoint
        return copy
    }
}
