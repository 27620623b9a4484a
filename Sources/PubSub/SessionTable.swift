import Actors
import Platform

/// What the session table asks of the process directory around it. Queries only, but one: the
/// session object an end asked for is made when its session opens.
protocol SessionWorld {
    /// The object that gave a live listing or search.
    func owner(of entry: UInt64) -> Address?
    /// Whether an object still lists or searches: an end that has gone is told nothing more.
    func isMember(_ object: Address) -> Bool
    /// Makes the session object `entry`'s owner asked for, its child; nil if it asked for none.
    func sessionObject(for entry: UInt64, owner: Address, session: UInt64) -> Address?
    /// The link to the group's directory, when there is one.
    var group: Address? { get }
}

/// The sessions of one process, as a value: events in (a match, a directory's open or close, a
/// peer's hello, a link up or lost, a timer), actions out (tell an object, connect, stop a session
/// object, arm a timer, refuse bad input). No socket, no clock: time comes in with the events.
///
/// A session has one of three paths: both ends here (PROCESS scope, matched by this process's
/// matcher), the publisher's end (a subscriber's process said hello), or the subscriber's end
/// (a directory above matched one of our searches and we reached the publisher's process).
struct SessionTable {
    /// Which ends of a session this process holds.
    enum Path: Equatable {
        /// Both, matched here.
        case local(Matcher.Pair)
        /// The publisher's: the subscriber is in another process.
        case publisherEnd
        /// The subscriber's: what opened it, to open it again if the link to the publisher's
        /// process breaks while the directory still matches them.
        case subscriberEnd(OpenSession)
    }

    enum State: Equatable {
        /// Subscriber's end: waiting for the publisher's session object before saying Available.
        case awaitingPublisherSide
        case open
        /// A directory said the session was over while the other end's process still answers
        /// on our link (the directory lost sight of that end for a moment): ended at `until`
        /// unless a directory matches the pair again first.
        case doubted(until: Deadline, reason: String)
    }

    struct Session {
        let publisher: Address
        let subscriber: Address
        /// Who speaks for each end: its session object, or the object itself.
        var publisherSide: Address
        var subscriberSide: Address
        let name: ServiceName
        let search: Search
        let scope: Scope
        let path: Path
        var state: State
        /// Across processes: the number the directories know the pair by now. A directory that
        /// matches a running pair again gives it a new one; a close under an older number is stale.
        var matchedAs: UInt64
        /// Other numbers this session is known by (the directories' later ones), newest last.
        var aliases: [UInt64] = []

        /// The end of this process that the session belongs to (for a local one, the subscriber).
        var local: Address { path == .publisherEnd ? publisher : subscriber }
        /// The other end, across processes: its address carries the link to its process.
        var remote: Address { path == .publisherEnd ? subscriber : publisher }
        var acrossProcesses: Bool {
            if case .local = path { return false }
            return true
        }
        var pair: Matcher.Pair? {
            switch path {
            case .local(let pair): pair
            case .subscriberEnd(let open): open.pair
            case .publisherEnd: nil
            }
        }
        /// This process's ends: those whose sessions go when they withdraw.
        var localEnds: [Address] {
            switch path {
            case .local: [publisher, subscriber]
            case .publisherEnd: [publisher]
            case .subscriberEnd: [subscriber]
            }
        }
    }

    /// A connection to another process of the group, for all sessions with it.
    struct Peer {
        var link: Address?
        /// Sessions to open once the link is there.
        var waiting: [OpenSession] = []
        /// A connector is trying to reach it (directly, or through a relay).
        var connecting = true
        /// Tried directly and failed: waiting for a relay, until this deadline.
        var relayDue: Deadline? = nil
        /// Reaching a publisher again after a lost link: a failure schedules another try, not NotAvailable.
        var reopening = false
        /// Who its listings say it is: the handshake must prove it.
        var identity: PeerIdentity? = nil
    }

    /// A session whose link broke, to be opened again while its directory still matches it: the
    /// link may come back (a cable put back) before any directory notices it went.
    ///
    /// Tries start 20 ms after the loss and double their spacing to 500 ms; each try is bounded by
    /// 100 ms, doubling to 5 s (a far peer needs more than a near one's round trip), so a SYN lost
    /// while the link was still down does not wait a second for the kernel to send it again.
    struct Reopen {
        let open: OpenSession
        var due = Deadline.distantFuture
        /// The spacing of tries, after the first.
        var spacing: Backoff
        /// How long one try may take: its ceiling, doubled after each failure.
        private var tries = Backoff(initial: .milliseconds(100), maximum: .seconds(5))

        static let first = Duration.milliseconds(20)

        init(open: OpenSession) {
            self.open = open
            // Seeded by the session: the same events give the same schedule.
            spacing = Backoff(initial: Reopen.first * 2, maximum: .milliseconds(500), seed: open.session)
        }

        /// How long this try may take.
        var attemptLimit: Duration { tries.ceiling }

        /// The try failed: the next may take twice as long.
        mutating func failed() { _ = tries.next() }
    }

    enum Timer: Equatable {
        case reopen, doubt, relayOverdue
    }

    enum Action {
        /// A directory message to an object (as `sender`, or as the directory).
        case tell(any Message, to: Address, as: Address? = nil)
        /// Reach a publisher's process at `address`, which must prove `expecting` (its listing's
        /// identity); `limit` bounds a try again after a loss.
        case connect(to: SocketAddress, limit: Duration?, expecting: PeerIdentity?)
        /// Reach the far end through a relay. `peer`: the publisher's process whose sessions wait
        /// for it (the subscriber's end, the handshake's client, which must prove `expecting`); nil
        /// at the publisher's end (its server).
        case joinRelay(SocketAddress, ticket: [UInt8], peer: SocketAddress?, expecting: PeerIdentity?)
        /// Give up reaching `peer`.
        case cancelConnect(SocketAddress)
        /// Stop a session object: its session is over.
        case stop(Address)
        case arm(Timer, at: Deadline)
        /// A message a sender may not send, or a bound reached: said in the log, nothing changes.
        case refuse(String)
        case note(String, metadata: [String: String])
    }

    /// How many sessions, and how many peer processes, one process holds at most.
    let capacity: Int
    let peerCapacity: Int
    let sessionsPerLink: Int
    /// At most this many of a session's numbers are remembered (each re-match adds one).
    static let aliasLimit = 8
    static let doubtLimit = Duration.seconds(3)
    /// How long a subscriber's process waits for the directory's answer to a relay request.
    static let relayAnswerLimit = Duration.seconds(10)

    private(set) var sessions: [UInt64: Session] = [:]
    /// Each pair's session: local ones, and those this process opened as a subscriber (a
    /// directory that matches a running pair again finds it here).
    private(set) var sessionOf: [Matcher.Pair: UInt64] = [:]
    /// Sessions by each local end, and by the link to the other end's process.
    private var byEnd: [Address: Set<UInt64>] = [:]
    private var byLink: [LinkID: Set<UInt64>] = [:]
    /// Pairs a side ended with `clear`: not offered again while both entries live.
    private(set) var cleared: Set<Matcher.Pair> = []
    /// Session objects, with their session.
    private(set) var sideObjects: [Address: UInt64] = [:]
    private(set) var peers: [SocketAddress: Peer] = [:]
    /// Sessions to open again, by session.
    private(set) var reopening: [UInt64: Reopen] = [:]
    /// A directory's newer number for a session that carried on, and ours.
    private var aliases: [UInt64: UInt64] = [:]
    /// The sessions in doubt: a doubt's timer looks at these only.
    private var doubted: Set<UInt64> = []
    /// Sessions this process's publishers met at a relay lately, and until when each is
    /// remembered: a repeated `Relayed` opens no second connection.
    private var relayJoins: [UInt64: Deadline] = [:]
    static let relayJoinsLimit = 256
    static let relayJoinWindow = Duration.seconds(60)

    /// `sessionsPerLink` bounds what one peer process may open here (a quarter of `capacity` by
    /// default): a flood of hellos over one link cannot take the table from the others.
    init(capacity: Int = 100_000, peerCapacity: Int = 1_024, sessionsPerLink: Int? = nil) {
        precondition(capacity > 0 && peerCapacity > 0, "session table bounds must be positive")
        self.capacity = capacity
        self.peerCapacity = peerCapacity
        self.sessionsPerLink = sessionsPerLink ?? max(1, capacity / 4)
    }

    var count: Int { sessions.count }

    /// Whether `id` names a session here, or a session to be opened again.
    func knows(_ id: UInt64) -> Bool { sessions[id] != nil || reopening[id] != nil }

    private var full: String { "session table full (\(capacity) sessions)" }

    // MARK: - Both ends here

    /// This process's matcher matched a listing and a search of its own objects: a session under
    /// `id`, unless the pair was cleared or already has one.
    mutating func matched(
        _ pair: Matcher.Pair, name: ServiceName, search: Search, publisher: Address, subscriber: Address, id: UInt64,
        in world: some SessionWorld
    ) -> [Action] {
        guard !cleared.contains(pair), sessionOf[pair] == nil else { return [] }
        guard sessions.count < capacity else {
            return [.tell(NotAvailable(name: name, reason: full), to: subscriber), .refuse(full)]
        }
        let publisherSide = side(for: pair.listing, owner: publisher, session: id, world) ?? publisher
        let subscriberSide = side(for: pair.search, owner: subscriber, session: id, world) ?? subscriber
        insert(
            Session(
                publisher: publisher, subscriber: subscriber, publisherSide: publisherSide,
                subscriberSide: subscriberSide, name: name, search: search, scope: .process, path: .local(pair),
                state: .open, matchedAs: id), as: id)
        var actions: [Action] = [
            .tell(
                Available(name: name, search: search, scope: .process, session: id), to: subscriber, as: publisherSide),
            .tell(
                Delivered(name: name, search: search, scope: .process, session: id), to: publisher, as: subscriberSide),
        ]
        if publisherSide != publisher {
            actions.append(.tell(SessionOpened(session: id, name: name), to: publisherSide, as: subscriberSide))
        }
        if subscriberSide != subscriber {
            actions.append(.tell(SessionOpened(session: id, name: name), to: subscriberSide, as: publisherSide))
        }
        return actions
    }

    /// The matcher no longer matches the pair (an entry went): its session ends. `endedBy`: the
    /// end that retracted, told Cleared.
    mutating func unmatched(_ pair: Matcher.Pair, endedBy: Address?, in world: some SessionWorld) -> [Action] {
        cleared.remove(pair)
        guard let id = sessionOf[pair] else { return [] }
        return end(id, by: endedBy, value: nil, reason: "ended by the other end", world)
    }

    // MARK: - Either path

    /// `clear(session)` from `requester`: it hears Cleared, the other end Dropped; a local pair is
    /// not offered again.
    mutating func clear(
        _ id: UInt64, by requester: Address, value: AnyMessage?, in world: some SessionWorld
    ) -> [Action] {
        guard let session = sessions[id], session.localEnds.contains(requester) else {
            return [.tell(NotCleared(session: id, reason: "no such session at this end"), to: requester)]
        }
        if case .local(let pair) = session.path { cleared.insert(pair) }
        return end(id, by: requester, value: value, reason: "ended by the other end", world)
    }

    /// An object's entries went (`retracted`: by its own hand; else it ended): so do its sessions.
    mutating func withdrawn(_ object: Address, retracted: Bool, in world: some SessionWorld) -> [Action] {
        guard let ids = byEnd[object] else { return [] }
        var actions: [Action] = []
        for id in ids.sorted() {
            guard let session = sessions[id] else { continue }
            actions += end(
                id, by: retracted ? object : nil, value: nil,
                reason: object == session.publisher ? "publisher gone" : "subscriber gone", world)
        }
        return actions
    }

    /// A session object ended: its end clears the session. Nil if `object` is no session object.
    mutating func sideEnded(_ object: Address, in world: some SessionWorld) -> [Action]? {
        guard let id = sideObjects.removeValue(forKey: object) else { return nil }
        guard let session = sessions[id] else { return [] }
        let owner = object == session.publisherSide ? session.publisher : session.subscriber
        return end(id, by: owner, value: nil, reason: "ended by the other end", world)
    }

    // MARK: - The subscriber's end

    /// A directory above matched one of our searches (or a lost session is tried again): reach the
    /// publisher's process. `again`: a try after a loss, bounded by that time.
    mutating func openRequested(
        _ open: OpenSession, again: Duration? = nil, now: Deadline, in world: some SessionWorld
    ) -> [Action] {
        guard world.owner(of: open.search.id) != nil else { return [] }
        if let id = sessionOf[open.pair] {
            // Running already: a directory that lost sight of one end has matched it again.
            return keep(id, matchedAs: open.session)
        }
        var actions: [Action] = []
        if again == nil {
            // A fresh match of the same pair replaces a pending try, and a try under way.
            for (id, pending) in reopening where pending.open.pair == open.pair {
                reopening[id] = nil
                for key in peers.keys { peers[key]!.waiting.removeAll { $0.session == id } }
            }
        }
        let key = open.publisherEndpoint
        if let peer = peers[key], peer.identity != open.listing.identity {
            // One endpoint is one process: a listing naming someone else there is not taken.
            let reason =
                "its listing names identity \(open.listing.identity?.short ?? "none"), but the process at \(key) is \(peer.identity?.short ?? "none")"
            if let subscriber = world.owner(of: open.search.id), let name = open.listing.name {
                actions.append(.tell(NotAvailable(name: name, reason: reason), to: subscriber))
            }
            return actions + [.refuse(reason)]
        }
        if let link = peers[key]?.link { return actions + hello(open, over: link, world) }
        if peers[key] == nil {
            guard peers.count < peerCapacity else {
                let reason = "too many publisher processes (\(peerCapacity))"
                if let subscriber = world.owner(of: open.search.id), let name = open.listing.name {
                    actions.append(.tell(NotAvailable(name: name, reason: reason), to: subscriber))
                }
                return actions + [.refuse(reason)]
            }
            peers[key] = Peer(reopening: again != nil, identity: open.listing.identity)
            actions.append(.connect(to: key, limit: again, expecting: open.listing.identity))
        }
        peers[key]!.waiting.append(open)
        return actions
    }

    /// The connection to a publisher's process is up: the sessions waiting for it say hello.
    mutating func peerConnected(_ key: SocketAddress, link: Address, in world: some SessionWorld) -> [Action] {
        guard let peer = peers[key], peer.link == nil else { return [] }
        peers[key]!.link = link
        peers[key]!.connecting = false
        peers[key]!.waiting.removeAll()
        return peer.waiting.flatMap { hello($0, over: link, world) }
    }

    /// A publisher's process could not be reached: across hosts, ask the directory that matched
    /// the session for a relay (once); else, or if that failed too, its subscribers hear
    /// NotAvailable, and it is tried again until the directory closes the session.
    mutating func peerFailed(
        _ key: SocketAddress, reason: String, now: Deadline, in world: some SessionWorld
    ) -> [Action] {
        guard let peer = peers[key], peer.link == nil else { return [] }
        // Only a WAN directory offers relays: a session matched lower has no other way.
        if peer.relayDue == nil, let first = peer.waiting.first, first.scope >= .wan, let group = world.group {
            let due = now + Self.relayAnswerLimit
            peers[key]!.relayDue = due
            peers[key]!.connecting = false
            return [
                .note(
                    "publisher unreachable; asking for a relay", metadata: ["endpoint": "\(key)", "reason": reason]),
                .tell(RelayWanted(session: first.session, entry: first.search.id), to: group),
                .arm(.relayOverdue, at: due),
            ]
        }
        peers[key] = nil
        var actions: [Action] = []
        for open in peer.waiting {
            guard let subscriber = world.owner(of: open.search.id), let name = open.listing.name else { continue }
            if peer.reopening {
                // A retry after a loss the subscriber was told of (Dropped): a match that joined
                // it is tried again quietly too.
                actions += scheduleReopen(open, soon: false, now: now)
                continue
            }
            // Said once; then tried again quietly while the directory still matches the pair (the
            // publisher may be cut off for a moment), so it comes back as Available by itself.
            actions.append(.tell(NotAvailable(name: name, reason: reason), to: subscriber))
            actions += scheduleReopen(open, soon: true, now: now)
        }
        return actions
    }

    /// A request for a relay or its answer was lost (a directory restarted): the subscribers are told.
    mutating func relayOverdue(now: Deadline, in world: some SessionWorld) -> [Action] {
        var actions: [Action] = []
        for key in peers.keys.sorted(by: { "\($0)" < "\($1)" }) {
            guard let peer = peers[key], peer.link == nil, !peer.connecting, let due = peer.relayDue, due <= now
            else { continue }
            actions += peerFailed(key, reason: "no relay offered within \(Self.relayAnswerLimit)", now: now, in: world)
        }
        if let next = peers.values.compactMap({ $0.connecting ? nil : $0.relayDue }).min() {
            actions.append(.arm(.relayOverdue, at: next))
        }
        return actions
    }

    /// The directory that matched a session named a relay (from `from`, which must be the group
    /// link). The subscriber's end connects as the handshake's client, the publisher's as its
    /// server; an empty relay means there is none.
    mutating func relayed(_ relayed: Relayed, from: LinkID?, now: Deadline, in world: some SessionWorld) -> [Action] {
        guard from != nil, from == world.group?.link else { return [.refuse("Relayed from a link not the group's")] }
        guard world.owner(of: relayed.entry) != nil else { return [] }
        let relay = relayed.ticket.count == RelayTicket.bytes ? relayed.relay : nil
        // The subscriber's end: its sessions with that publisher wait for this.
        if let key = peers.first(where: { $0.value.waiting.contains { $0.session == relayed.session } })?.key {
            guard let relay else {
                return peerFailed(key, reason: "unreachable, and no relay offered", now: now, in: world)
            }
            peers[key]!.connecting = true
            return [.joinRelay(relay, ticket: relayed.ticket, peer: key, expecting: peers[key]!.identity)]
        }
        // The publisher's end: one connection per session, and a bounded number in flight, however
        // many times the directory (or a member behind it) repeats itself.
        guard let relay else { return [] }
        relayJoins = relayJoins.filter { $0.value > now }
        guard relayJoins[relayed.session] == nil, relayJoins.count < Self.relayJoinsLimit else {
            return [.refuse("Relayed again, or too many at once")]
        }
        relayJoins[relayed.session] = now + Self.relayJoinWindow
        return [.joinRelay(relay, ticket: relayed.ticket, peer: nil, expecting: nil)]
    }

    /// Subscriber's end: tells the publisher's process and the publisher, then the subscriber — at
    /// once, or when the publisher's session object is known.
    private mutating func hello(_ open: OpenSession, over link: Address, _ world: some SessionWorld) -> [Action] {
        guard let subscriber = world.owner(of: open.search.id), let name = open.listing.name,
            let search = open.search.search
        else { return [] }
        // One session per pair: a match that raced another to the same publisher joins it.
        if let id = sessionOf[open.pair] {
            reopening[open.session] = nil
            return keep(id, matchedAs: open.session)
        }
        guard sessions.count < capacity else {
            return [.tell(NotAvailable(name: name, reason: full), to: subscriber), .refuse(full)]
        }
        let publisher = Address(object: open.listing.object, via: link)
        let subscriberSide = side(for: open.search.id, owner: subscriber, session: open.session, world) ?? subscriber
        reopening[open.session] = nil
        insert(
            Session(
                publisher: publisher, subscriber: subscriber, publisherSide: publisher, subscriberSide: subscriberSide,
                name: name, search: search, scope: open.scope, path: .subscriberEnd(open),
                state: .awaitingPublisherSide, matchedAs: open.session), as: open.session)
        var actions: [Action] = [
            .tell(
                SessionHello(
                    session: open.session, name: name, search: search, scope: open.scope,
                    publisher: open.listing.object, listing: open.listing.id, subscriber: subscriberSide),
                to: link),
            // Delivered goes straight to the publisher, on the connection the subscriber's own
            // messages will take: it arrives before them.
            .tell(
                Delivered(name: name, search: search, scope: open.scope, session: open.session), to: publisher,
                as: subscriberSide),
        ]
        if !open.listing.sessionObject { actions += announce(open.session) }
        return actions
    }

    /// The publisher's process named its session object (from `from`, which must be its link).
    mutating func accepted(_ accepted: SessionAccepted, from: LinkID?) -> [Action] {
        guard let session = sessions[accepted.session], case .subscriberEnd = session.path,
            from != nil, session.publisher.link == from
        else { return [.refuse("SessionAccepted for a session that is not its own")] }
        sessions[accepted.session]!.publisherSide = accepted.publisherSide
        return announce(accepted.session)
    }

    /// Tells the subscriber (and its session object) that the session is open.
    private mutating func announce(_ id: UInt64) -> [Action] {
        guard let session = sessions[id], session.state == .awaitingPublisherSide else { return [] }
        sessions[id]!.state = .open
        var actions: [Action] = [
            .tell(
                Available(name: session.name, search: session.search, scope: session.scope, session: id),
                to: session.subscriber, as: session.publisherSide)
        ]
        if session.subscriberSide != session.subscriber {
            actions.append(
                .tell(
                    SessionOpened(session: id, name: session.name), to: session.subscriberSide,
                    as: session.publisherSide))
        }
        return actions
    }

    /// Subscriber's end: a directory matched the running session `id` again, under `matchedAs`.
    /// It carries on, and the publisher's process is told so, in case a directory told it otherwise.
    private mutating func keep(_ id: UInt64, matchedAs: UInt64) -> [Action] {
        guard let session = sessions[id], session.matchedAs != matchedAs else { return [] }
        kept(id, matchedAs: matchedAs)
        return [
            .tell(SessionKept(session: id, matchedAs: matchedAs), to: Address(object: 0, via: session.publisher))
        ]
    }

    /// Either end: the session carries on under the directories' new number for it.
    private mutating func kept(_ id: UInt64, matchedAs: UInt64) {
        guard var session = sessions[id] else { return }
        session.matchedAs = matchedAs
        if case .doubted = session.state {
            session.state = .open
            doubted.remove(id)
        }
        if matchedAs != id, aliases[matchedAs] == nil {
            aliases[matchedAs] = id
            session.aliases.append(matchedAs)
            if session.aliases.count > Self.aliasLimit { aliases[session.aliases.removeFirst()] = nil }
        }
        sessions[id] = session
    }

    /// Tries a lost session again — `soon` (the first spacing), or after the next spacing of its
    /// backoff — until it opens, its directory closes it, or its subscriber goes.
    private mutating func scheduleReopen(_ open: OpenSession, soon: Bool, now: Deadline) -> [Action] {
        var reopen = reopening[open.session] ?? Reopen(open: open)
        if reopening[open.session] != nil { reopen.failed() }
        reopen.due = now + (soon ? Reopen.first : reopen.spacing.next())
        reopening[open.session] = reopen
        return [.arm(.reopen, at: nextReopen)]
    }

    private var nextReopen: Deadline { reopening.values.map(\.due).min() ?? .distantFuture }

    /// Lost sessions whose try is due are tried again.
    mutating func reopenDue(now: Deadline, in world: some SessionWorld) -> [Action] {
        var actions: [Action] = []
        for id in reopening.keys.sorted() {
            guard let reopen = reopening[id], reopen.due <= now else { continue }
            guard world.owner(of: reopen.open.search.id) != nil else {
                reopening[id] = nil
                continue
            }
            reopening[id]!.due = .distantFuture // trying; a failure schedules the next
            actions += openRequested(reopen.open, again: reopen.attemptLimit, now: now, in: world)
        }
        if nextReopen < .distantFuture { actions.append(.arm(.reopen, at: nextReopen)) }
        return actions
    }

    // MARK: - The publisher's end

    /// A subscriber's process (over `link`) opened a session with one of our publishers.
    mutating func hello(_ hello: SessionHello, from link: Address, in world: some SessionWorld) -> [Action] {
        let publisher = Address(object: hello.publisher, via: .none)
        guard hello.subscriber.link != nil, hello.subscriber.link == link.link else {
            return [.refuse("SessionHello for a subscriber not over its own link")]
        }
        guard world.owner(of: hello.listing) == publisher else {
            // The listing went before the subscriber's process arrived. Its Delivered, sent
            // straight to the publisher, follows this hello on the link: the publisher hears the
            // end after it (its own withdrawal ended the session), the subscriber's process hears
            // it too.
            return [
                .tell(CloseSession(session: hello.session, reason: "publisher gone"), to: link),
                .tell(
                    Cleared(session: hello.session, name: hello.name, value: nil), to: publisher, as: hello.subscriber),
            ]
        }
        var actions: [Action] = []
        if let old = sessions[hello.session] {
            // Opened again over a new link before this end saw the old one go: the new one stands.
            guard old.path == .publisherEnd, old.subscriber.link != link.link else {
                return [.refuse("SessionHello for a session already open")]
            }
            actions += end(hello.session, by: nil, value: nil, reason: "", world, tellPeer: false, quietly: true)
        }
        guard sessions.count < capacity else {
            return [.tell(CloseSession(session: hello.session, reason: full), to: link), .refuse(full)]
        }
        if let over = link.link, byLink[over, default: []].count >= sessionsPerLink {
            let reason = "too many sessions over one link (\(sessionsPerLink))"
            return [.tell(CloseSession(session: hello.session, reason: reason), to: link), .refuse(reason)]
        }
        // The subscriber's process sent Delivered to the publisher itself.
        let publisherSide = side(for: hello.listing, owner: publisher, session: hello.session, world) ?? publisher
        insert(
            Session(
                publisher: publisher, subscriber: hello.subscriber, publisherSide: publisherSide,
                subscriberSide: hello.subscriber, name: hello.name, search: hello.search, scope: hello.scope,
                path: .publisherEnd, state: .open, matchedAs: hello.session), as: hello.session)
        guard publisherSide != publisher else { return actions }
        return actions + [
            .tell(SessionAccepted(session: hello.session, publisherSide: publisherSide), to: link),
            .tell(SessionOpened(session: hello.session, name: hello.name), to: publisherSide, as: hello.subscriber),
        ]
    }

    /// The far end of a session, over its own link, says a directory matched it again.
    mutating func keptReceived(_ message: SessionKept, from: LinkID?) -> [Action] {
        guard let session = sessions[message.session], session.acrossProcesses, from != nil,
            session.subscriberSide.link == from
        else { return [.refuse("SessionKept for a session that is not its own")] }
        kept(message.session, matchedAs: message.matchedAs)
        return []
    }

    // MARK: - Ends

    /// A session is over: said by the other end's process (over its link), or by a directory
    /// (over the group link, naming the entry of the end told). A directory may say so while the
    /// other end's process still answers on our link (it lost sight of that end's member, and will
    /// match the pair again when it sees it): at either end, that session is doubted for a while,
    /// not ended.
    mutating func closeReceived(
        _ close: CloseSession, from: LinkID?, now: Deadline, in world: some SessionWorld
    ) -> [Action] {
        let id = aliases[close.session] ?? close.session
        let fromDirectory = close.entry != nil
        if fromDirectory {
            guard from != nil, from == world.group?.link else {
                return [.refuse("CloseSession from a directory not ours")]
            }
        } else if let session = sessions[id], session.remote.link != from {
            return [.refuse("CloseSession for a session that is not its own")]
        }
        var actions: [Action] = []
        if reopening.removeValue(forKey: id) != nil {
            // It is over: no more tries, and a try under way is not for it any more.
            for key in peers.keys.sorted(by: { "\($0)" < "\($1)" }) where peers[key]!.link == nil {
                peers[key]!.waiting.removeAll { $0.session == id }
                if peers[key]!.waiting.isEmpty {
                    if peers[key]!.connecting { actions.append(.cancelConnect(key)) }
                    peers[key] = nil
                }
            }
        }
        guard let session = sessions[id], session.acrossProcesses else { return actions }
        if fromDirectory {
            // A session on a lost link has ended already: this one's other end still answers.
            guard session.matchedAs == close.session else { return actions } // matched again since
            if case .doubted = session.state { return actions }
            let until = now + Self.doubtLimit
            sessions[id]!.state = .doubted(until: until, reason: close.reason)
            doubted.insert(id)
            return actions + [.arm(.doubt, at: until)]
        }
        return actions + end(id, by: nil, value: nil, reason: close.reason, world, tellPeer: false)
    }

    /// Doubted sessions not matched again in time are over, at both ends.
    mutating func doubtDue(now: Deadline, in world: some SessionWorld) -> [Action] {
        var actions: [Action] = []
        var next = Deadline.distantFuture
        for id in doubted.sorted() {
            guard case .doubted(let until, let reason) = sessions[id]?.state else { continue }
            if until <= now {
                actions += end(id, by: nil, value: nil, reason: reason, world)
            } else {
                next = min(next, until)
            }
        }
        if next < .distantFuture { actions.append(.arm(.doubt, at: next)) }
        return actions
    }

    /// A connection to another process ended: the sessions over it end, each end told how many of
    /// its messages the other's process never confirmed; a subscriber's end tries again.
    mutating func linkLost(
        _ link: Address, unconfirmed: [UnconfirmedMessages], now: Deadline, in world: some SessionWorld
    ) -> [Action] {
        for (key, peer) in peers where peer.link == link { peers[key] = nil }
        guard let lost = link.link, let ids = byLink[lost] else { return [] }
        var actions: [Action] = []
        for id in ids.sorted() {
            guard let session = sessions[id] else { continue }
            let (localSide, remoteSide) =
                session.path == .publisherEnd
                ? (session.publisherSide, session.subscriberSide) : (session.subscriberSide, session.publisherSide)
            // What this end sent the other that the other's process never confirmed.
            let count = unconfirmed.reduce(0) { total, entry in
                let ours = entry.sender == session.local || entry.sender == localSide
                let theirs =
                    entry.destination.object == session.remote.object || entry.destination.object == remoteSide.object
                return ours && theirs ? total + entry.count : total
            }
            actions += end(
                id, by: nil, value: nil,
                reason: "\(session.path == .publisherEnd ? "subscriber" : "publisher") process lost", world,
                tellPeer: false, unconfirmed: count)
            if case .subscriberEnd(let open) = session.path, world.owner(of: open.search.id) != nil {
                actions += scheduleReopen(open, soon: true, now: now)
            }
        }
        return actions
    }

    /// Ends a session. Local ends: `by` hears Cleared, the other (if still here) Dropped. A session
    /// with another process: the local end hears Cleared or Dropped, and the other process is told.
    /// `unconfirmed`: of the local end's messages to the other, how many its process never
    /// confirmed (a session lost with its connection). `quietly`: neither end is told (the session
    /// is replaced), only its session objects stop.
    private mutating func end(
        _ id: UInt64, by: Address?, value: AnyMessage?, reason: String, _ world: some SessionWorld,
        tellPeer: Bool = true, unconfirmed: Int = 0, quietly: Bool = false
    ) -> [Action] {
        guard let session = remove(id) else { return [] }
        var actions: [Action] = []
        let ends: [(Address, Address)] =
            switch session.path {
            case .local: [(session.publisher, session.subscriberSide), (session.subscriber, session.publisherSide)]
            case .publisherEnd: [(session.publisher, session.subscriberSide)]
            case .subscriberEnd: [(session.subscriber, session.publisherSide)]
            }
        for (end, other) in ends where !quietly {
            if end == by {
                actions.append(.tell(Cleared(session: id, name: session.name, value: value), to: end, as: other))
            } else if world.isMember(end) && (end != session.subscriber || session.state != .awaitingPublisherSide) {
                // Both ends here: said by whom. The other end, or its session object, ended it.
                let otherEnd = other == session.publisherSide ? session.publisher : session.subscriber
                let why =
                    session.acrossProcesses
                    ? reason
                    : (otherEnd == by
                        ? "ended by the other end"
                        : (otherEnd == session.publisher ? "publisher gone" : "subscriber gone"))
                actions.append(
                    .tell(
                        Dropped(
                            session: id, name: session.name, reason: why,
                            unconfirmed: end == session.local ? unconfirmed : 0), to: end, as: other))
            }
        }
        // The session objects of this process stop with their session.
        for side in [session.publisherSide, session.subscriberSide]
        where side.isLocal && side != session.publisher && side != session.subscriber {
            if sideObjects.removeValue(forKey: side) != nil { actions.append(.stop(side)) }
        }
        if session.acrossProcesses, tellPeer {
            actions.append(
                .tell(
                    CloseSession(session: id, reason: "ended by the other end"),
                    to: Address(
                        object: 0, via: session.path == .publisherEnd ? session.subscriberSide : session.publisherSide))
            )
        }
        return actions
    }

    // MARK: - Bookkeeping

    private mutating func side(for entry: UInt64, owner: Address, session: UInt64, _ world: some SessionWorld)
        -> Address?
    {
        guard let object = world.sessionObject(for: entry, owner: owner, session: session) else { return nil }
        sideObjects[object] = session
        return object
    }

    private mutating func insert(_ session: Session, as id: UInt64) {
        sessions[id] = session
        if let pair = session.pair { sessionOf[pair] = id }
        for end in session.localEnds { byEnd[end, default: []].insert(id) }
        if session.acrossProcesses, let link = session.remote.link { byLink[link, default: []].insert(id) }
    }

    private mutating func remove(_ id: UInt64) -> Session? {
        guard let session = sessions.removeValue(forKey: id) else { return nil }
        if let pair = session.pair, sessionOf[pair] == id { sessionOf[pair] = nil }
        for end in session.localEnds {
            byEnd[end]?.remove(id)
            if byEnd[end]?.isEmpty == true { byEnd[end] = nil }
        }
        if session.acrossProcesses, let link = session.remote.link {
            byLink[link]?.remove(id)
            if byLink[link]?.isEmpty == true { byLink[link] = nil }
        }
        for alias in session.aliases { aliases[alias] = nil }
        doubted.remove(id)
        return session
    }
}

extension OpenSession {
    /// Where to reach the listing's process: on this host through its Unix socket; matched at LAN
    /// or WAN scope, over the network.
    var publisherEndpoint: SocketAddress {
        scope >= .lan ? listing.network ?? listing.endpoint : listing.endpoint
    }
}
