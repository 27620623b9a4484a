import Actors
import Cryptography
import Logging
import Platform

/// The directory of one runtime (kept in its ``PubSubRuntime``): it matches its objects' listings and searches
/// among themselves (PROCESS scope, no socket), and — when the process runs in a group — passes
/// the wider ones to the group's directory, opens the sessions that directory asks for over direct
/// connections to the publishers' processes, and tells both ends when a session ends.
final class ProcessDirectory: Object, ControlSender {
    static var messageTypes: [any Message.Type] {
        [
            EntryRefused.self, OpenSession.self, CloseSession.self, SessionHello.self, SessionAccepted.self,
            SessionKept.self, Relayed.self,
        ]
    }

    struct Session {
        let publisher: Address
        let subscriber: Address
        /// Who speaks for each end: its session object, or the object itself.
        var publisherSide: Address
        var subscriberSide: Address
        let name: ServiceName
        /// The local end (for a PROCESS-scope session, the subscriber; both ends are local).
        let local: Address
        /// For PROCESS-scope sessions, the directory pair; nil for sessions across processes.
        let pair: Pair?
        /// Set once the subscriber has been told (Available may wait for the publisher's side).
        var announced = true
        /// What the subscriber looked for (nil until known, at a publisher's end).
        var search: Search?
        var scope = Scope.process
        /// Subscriber side, across processes: what opened it, to open it again if the link to
        /// the publisher's process breaks while the directory still matches them.
        var open: OpenSession? = nil
        /// Across processes: the number the directories know the pair by now. A directory that
        /// matches a running pair again gives it a new one; a close under an older number is stale.
        var matchedAs: UInt64 = 0
    }

    typealias Pair = Matcher.Pair

    /// A connection to another process of the group, for all sessions with it.
    struct Peer {
        var link: Address?
        var waiting: [OpenSession] = []
        /// The connector trying to reach it (directly, or through a relay).
        var connector: ConnectorID?
        /// Tried directly and failed: waiting for a relay, until this deadline.
        var relayDue: Deadline? = nil
        /// Reaching a publisher again after a lost link: a failure schedules another try, not NotAvailable.
        var reopening = false
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
        var spacing = Backoff(initial: Reopen.first * 2, maximum: .milliseconds(500))
        /// How long one try may take: its ceiling, doubled after each failure.
        private var tries = Backoff(initial: .milliseconds(100), maximum: .seconds(5))

        static let first = Duration.milliseconds(20)

        init(open: OpenSession) { self.open = open }

        /// How long this try may take.
        var attemptLimit: Duration { tries.ceiling }

        /// The try failed: the next may take twice as long.
        mutating func failed() { _ = tries.next() }
    }

    struct ReopenDue: Message {
        static let typeName = "ansar.pubsub.ReopenDue"
    }

    /// How long a subscriber's process waits for the directory's answer to a relay request.
    static let relayAnswerLimit = Duration.seconds(10)

    /// Checks for relay requests left unanswered.
    struct RelayOverdue: Message {
        static let typeName = "ansar.pubsub.RelayOverdue"
    }

    var matcher = Matcher(scope: .process)
    let outbox = ControlOutbox()
    var owners: [UInt64: Address] = [:]
    var entriesOf: [Address: [UInt64]] = [:]
    var sessions: [UInt64: Session] = [:]
    /// Each pair's session: PROCESS-scope ones, and those this process opened as a subscriber (a
    /// directory that matches a running pair again finds it here).
    var sessionOf: [Pair: UInt64] = [:]
    /// Pairs a side ended with `clear`: not offered again while both entries live.
    var cleared: Set<Pair> = []
    var identifiers = RandomIdentifiers()
    /// Session factories handed over with a request (by number), then by entry.
    private var handedOver: [UInt64: SessionFactory] = [:]
    var factories: [UInt64: SessionFactory] = [:]
    /// Session objects, with their session.
    var sessionObjects: [Address: UInt64] = [:]
    /// Objects this directory watches (for ``Ended``): once each, however often they publish.
    var watched: Set<Address> = []

    // The group side.
    var groupAddress: SocketAddress?
    var group: Address?
    var endpoint: SocketAddress?
    var peers: [SocketAddress: Peer] = [:]
    /// Where peers on other hosts reach this process (TCP, "0.0.0.0:port"), once a listing at LAN
    /// or WAN scope made it listen there.
    var networkEndpoint: SocketAddress?
    var networkListener: ListenerID?
    /// Sessions to open again, by session.
    var reopening: [UInt64: Reopen] = [:]
    /// Sessions a directory said were over while their publisher still answered on our link (the
    /// directory lost sight of its host for a moment): ended at the deadline unless the directory
    /// matches the pair again first. By session, with the directory's reason.
    var doubted: [UInt64: (until: Deadline, reason: String)] = [:]
    /// A directory's new identifier for a session that carried on, and ours.
    var aliases: [UInt64: UInt64] = [:]
    static let doubtLimit = Duration.seconds(3)

    struct DoubtDue: Message {
        static let typeName = "ansar.pubsub.DoubtDue"
    }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case let request as PublishRequest: publish(request, context)
        case let request as SubscribeRequest: subscribe(request, context)
        case let request as ClearRequest: clear(request, context)
        case is RetractRequest:
            let entries = withdraw(context.returnAddress, retracted: true, context)
            tell(Retracted(entries: entries), to: context.returnAddress, context)
        case let ended as Ended:
            if let session = sessionObjects.removeValue(forKey: ended.object) {
                sessionObjectEnded(ended.object, session, context)
            } else {
                watched.remove(ended.object)
                withdraw(ended.object, retracted: false, context)
            }
        case is Start: start(context)
        case is Writable, is ControlOutbox.RetryDue: outbox.flush(context)
        default: try groupMessage(message, context)
        }
    }

    /// Keeps a session factory until the request naming it arrives.
    func keep(_ factory: @escaping SessionFactory) -> UInt64 {
        let token = freshID()
        handedOver[token] = factory
        return token
    }

    /// A factory whose request never came (the directory was busy): not kept.
    func discard(_ token: UInt64) { handedOver[token] = nil }

    /// Makes the session object for `entry`'s end, a child of `owner`, if it asked for one.
    func sessionObject(for entry: UInt64, owner: Address, session: UInt64, _ context: Context) -> Address? {
        guard let factory = factories[entry], let object = context.runtime.create(factory(), parent: owner) else {
            return nil
        }
        sessionObjects[object] = session
        context.watch(object)
        return object
    }

    /// A session object completed: its end clears the session.
    private func sessionObjectEnded(_ object: Address, _ id: UInt64, _ context: Context) {
        guard let session = sessions[id] else { return }
        let owner = object == session.publisherSide ? session.publisher : session.subscriber
        end(id, by: owner, value: nil, reason: "ended by the other end", context)
    }

    func freshID() -> UInt64 { identifiers.next { owners[$0] != nil || sessions[$0] != nil } }

    private func publish(_ request: PublishRequest, _ context: Context) {
        let requester = context.returnAddress
        let name = request.name
        let entry = Matcher.Entry(id: freshID(), kind: .listing(name), scope: request.scope, member: requester.object)
        enter(
            entry, for: requester, factory: request.factory, accepted: Published(name: name, scope: request.scope),
            context)
    }

    private func subscribe(_ request: SubscribeRequest, _ context: Context) {
        let requester = context.returnAddress
        let search: Search
        do {
            search = try request.search.validated()
        } catch {
            handedOver[request.factory] = nil
            tell(NotSubscribed(search: request.search, reason: error.description), to: requester, context)
            return
        }
        let entry = Matcher.Entry(id: freshID(), kind: .search(search), scope: request.scope, member: requester.object)
        enter(
            entry, for: requester, factory: request.factory, accepted: Subscribed(search: search, scope: request.scope),
            context)
    }

    /// Lists `entry` for `owner`, who hears `accepted` — or, if the matcher refuses it, why not.
    private func enter(
        _ entry: Matcher.Entry, for owner: Address, factory: UInt64, accepted: some Message, _ context: Context
    ) {
        let factory = handedOver.removeValue(forKey: factory)
        let actions = matcher.add(entry)
        if case .refuse(_, let reason) = actions.first {
            tellRefused(entry.kind, reason: reason, to: owner, context)
            return
        }
        tell(accepted, to: owner, context)
        if watched.insert(owner).inserted { context.watch(owner) }
        owners[entry.id] = owner
        entriesOf[owner, default: []].append(entry.id)
        if let factory { factories[entry.id] = factory }
        apply(actions, context, endedBy: nil)
    }

    /// Tells the owner of a listing or search that it was not taken, and why.
    func tellRefused(_ kind: Matcher.Entry.Kind, reason: String, to owner: Address, _ context: Context) {
        switch kind {
        case .listing(let name): tell(NotPublished(name: name, reason: reason), to: owner, context)
        case .search(let search): tell(NotSubscribed(search: search, reason: reason), to: owner, context)
        }
    }

    /// `clear(session)`: the asking end hears Cleared, the other Dropped; a PROCESS-scope pair is
    /// not offered again.
    private func clear(_ request: ClearRequest, _ context: Context) {
        let requester = context.returnAddress
        guard let session = sessions[request.session], session.local == requester || session.pair != nil,
            session.publisher == requester || session.subscriber == requester
        else {
            tell(NotCleared(session: request.session, reason: "no such session at this end"), to: requester, context)
            return
        }
        if let pair = session.pair { cleared.insert(pair) }
        end(request.session, by: requester, value: request.value, reason: "ended by the other end", context)
    }

    /// Retract (`retracted`) or the object ended: its entries go, and so do its sessions.
    /// Returns how many entries went.
    @discardableResult
    private func withdraw(_ object: Address, retracted: Bool, _ context: Context) -> Int {
        guard let ids = entriesOf.removeValue(forKey: object) else { return 0 }
        for id in ids {
            owners[id] = nil
            factories[id] = nil
            apply(matcher.remove(id), context, endedBy: retracted ? object : nil)
        }
        for (id, session) in sessions
        where session.local == object
            || (session.pair != nil && (session.publisher == object || session.subscriber == object))
        {
            end(
                id, by: retracted ? object : nil, value: nil,
                reason: object == session.publisher ? "publisher gone" : "subscriber gone", context)
        }
        return ids.count
    }

    func apply(_ actions: [Matcher.Action], _ context: Context, endedBy: Address?) {
        for action in actions {
            switch action {
            case .open(let listing, let search):
                let pair = Pair(listing: listing.id, search: search.id)
                guard !cleared.contains(pair), sessionOf[pair] == nil,
                    let publisher = owners[listing.id], let subscriber = owners[search.id],
                    case .listing(let name) = listing.kind, case .search(let wanted) = search.kind
                else { continue }
                let id = freshID()
                let publisherSide = sessionObject(for: listing.id, owner: publisher, session: id, context) ?? publisher
                let subscriberSide =
                    sessionObject(for: search.id, owner: subscriber, session: id, context) ?? subscriber
                sessions[id] = Session(
                    publisher: publisher, subscriber: subscriber, publisherSide: publisherSide,
                    subscriberSide: subscriberSide, name: name,
                    local: subscriber, pair: pair)
                sessionOf[pair] = id
                tell(
                    Available(name: name, search: wanted, scope: .process, session: id), to: subscriber,
                    as: publisherSide, context)
                tell(
                    Delivered(name: name, search: wanted, scope: .process, session: id), to: publisher,
                    as: subscriberSide, context)
                if publisherSide != publisher {
                    tell(SessionOpened(session: id, name: name), to: publisherSide, as: subscriberSide, context)
                }
                if subscriberSide != subscriber {
                    tell(SessionOpened(session: id, name: name), to: subscriberSide, as: publisherSide, context)
                }
            case .close(let listing, let search):
                let pair = Pair(listing: listing.id, search: search.id)
                cleared.remove(pair)
                guard let id = sessionOf[pair] else { continue }
                end(id, by: endedBy, value: nil, reason: "ended by the other end", context)
            case .forward(let entry):
                passUp(entry, context)
            case .withdraw(let entry):
                if let group { tell(EntryDown(id: entry.id), to: group, context) }
            case .refuse:
                break // `enter` answers its owner
            }
        }
    }

    /// Ends a session. Local ends: `by` hears Cleared, the other (if still here) Dropped. A session
    /// with another process: the local end hears Cleared or Dropped, and the other process is told.
    /// `unconfirmed`: of the local end's messages to the other, how many its process never
    /// confirmed (a session lost with its connection).
    func end(
        _ id: UInt64, by: Address?, value: AnyMessage?, reason: String, _ context: Context, tellPeer: Bool = true,
        unconfirmed: Int = 0
    ) {
        guard let session = sessions.removeValue(forKey: id) else { return }
        if let pair = session.pair ?? session.open?.pair, sessionOf[pair] == id { sessionOf[pair] = nil }
        doubted[id] = nil
        if !aliases.isEmpty { aliases = aliases.filter { $0.value != id } }
        let ends =
            session.pair != nil
            ? [(session.publisher, session.subscriberSide), (session.subscriber, session.publisherSide)]
            : session.local == session.publisher
                ? [(session.publisher, session.subscriberSide)] : [(session.subscriber, session.publisherSide)]
        for (end, other) in ends {
            if end == by {
                tell(Cleared(session: id, name: session.name, value: value), to: end, as: other, context)
            } else if entriesOf[end] != nil && (end != session.subscriber || session.announced) {
                let why =
                    session.pair == nil
                    ? reason
                    : (other == by
                        ? "ended by the other end"
                        : (other == session.publisherSide ? "publisher gone" : "subscriber gone"))
                tell(
                    Dropped(
                        session: id, name: session.name, reason: why,
                        unconfirmed: end == session.local ? unconfirmed : 0), to: end, as: other, context)
            }
        }
        // The session objects of this process stop with their session.
        for side in [session.publisherSide, session.subscriberSide]
        where side.isLocal && side != session.publisher && side != session.subscriber {
            if sessionObjects.removeValue(forKey: side) != nil { tell(Stop(), to: side, context) }
        }
        if session.pair == nil, tellPeer {
            let remote = session.local == session.publisher ? session.subscriberSide : session.publisherSide
            tell(
                CloseSession(session: id, reason: "ended by the other end"), to: Address(object: 0, via: remote),
                context)
        }
    }
}
