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

    typealias Pair = Matcher.Pair

    struct ReopenDue: LocalOnlyMessage {
        static let typeName = "ansar.pubsub.ReopenDue"
    }

    /// Checks for relay requests left unanswered.
    struct RelayOverdue: LocalOnlyMessage {
        static let typeName = "ansar.pubsub.RelayOverdue"
    }

    struct DoubtDue: LocalOnlyMessage {
        static let typeName = "ansar.pubsub.DoubtDue"
    }

    var matcher = Matcher(scope: .process)
    /// Every session of this process: the protocol lives there; this object drives it.
    var table = SessionTable()
    let outbox = ControlOutbox()
    var owners: [UInt64: Address] = [:]
    var entriesOf: [Address: [UInt64]] = [:]
    var identifiers = RandomIdentifiers()
    /// Session factories handed over with a request (by number), then by entry.
    private var handedOver: [UInt64: SessionFactory] = [:]
    var factories: [UInt64: SessionFactory] = [:]
    /// Objects this directory watches (for ``Ended``): once each, however often they publish.
    var watched: Set<Address> = []

    // The group side.
    var groupAddress: SocketAddress?
    var group: Address?
    var endpoint: SocketAddress?
    /// Connectors reaching publishers' processes, with the endpoint each is for.
    var connectors: [ConnectorID: SocketAddress] = [:]
    /// Where peers on other hosts reach this process (TCP, "0.0.0.0:port"), once a listing at LAN
    /// or WAN scope made it listen there.
    var networkEndpoint: SocketAddress?
    var networkListener: ListenerID?

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case let request as PublishRequest: publish(request, context)
        case let request as SubscribeRequest: subscribe(request, context)
        case let request as ClearRequest: clear(request, context)
        case is RetractRequest:
            let entries = withdraw(context.returnAddress, retracted: true, context)
            tell(Retracted(entries: entries), to: context.returnAddress, context)
        case let ended as Ended:
            if let actions = table.sideEnded(ended.object, in: world(context)) {
                perform(actions, context)
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

    func freshID() -> UInt64 { identifiers.next { owners[$0] != nil || table.knows($0) } }

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
        // Subscribers' processes learn a publisher's number from the directory: any link may
        // address it while it is listed.
        if case .listing = entry.kind { context.expose(owner) }
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
        perform(
            table.clear(request.session, by: context.returnAddress, value: request.value, in: world(context)), context)
    }

    /// Retract (`retracted`) or the object ended: its entries go, and so do its sessions.
    /// Returns how many entries went.
    @discardableResult
    private func withdraw(_ object: Address, retracted: Bool, _ context: Context) -> Int {
        guard let ids = entriesOf.removeValue(forKey: object) else { return 0 }
        // A retracted publisher stays reachable: what its subscribers' processes sent before they
        // heard of the retraction still arrives. An ended one is unreachable anyway.
        if !retracted { context.unexpose(object) }
        for id in ids {
            owners[id] = nil
            factories[id] = nil
            apply(matcher.remove(id), context, endedBy: retracted ? object : nil)
        }
        perform(table.withdrawn(object, retracted: retracted, in: world(context)), context)
        return ids.count
    }

    func apply(_ actions: [Matcher.Action], _ context: Context, endedBy: Address?) {
        for action in actions {
            switch action {
            case .open(let listing, let search):
                guard let publisher = owners[listing.id], let subscriber = owners[search.id],
                    case .listing(let name) = listing.kind, case .search(let wanted) = search.kind
                else { continue }
                let pair = Pair(listing: listing.id, search: search.id)
                perform(
                    table.matched(
                        pair, name: name, search: wanted, publisher: publisher, subscriber: subscriber, id: freshID(),
                        in: world(context)), context)
            case .close(let listing, let search):
                let pair = Pair(listing: listing.id, search: search.id)
                perform(table.unmatched(pair, endedBy: endedBy, in: world(context)), context)
            case .forward(let entry):
                passUp(entry, context)
            case .withdraw(let entry):
                if let group { tell(EntryDown(id: entry.id), to: group, context) }
            case .refuse:
                break // `enter` answers its owner
            }
        }
    }

    /// What the session table sees of this process, for one event.
    struct Surroundings: SessionWorld {
        unowned let directory: ProcessDirectory
        let context: Context

        func owner(of entry: UInt64) -> Address? { directory.owners[entry] }
        func isMember(_ object: Address) -> Bool { directory.entriesOf[object] != nil }
        var group: Address? { directory.group }

        func sessionObject(for entry: UInt64, owner: Address, session: UInt64) -> Address? {
            guard let factory = directory.factories[entry],
                let object = context.runtime.create(factory(), parent: owner)
            else { return nil }
            context.watch(object)
            return object
        }
    }

    func world(_ context: Context) -> Surroundings { Surroundings(directory: self, context: context) }

    /// Does what the session table said.
    func perform(_ actions: [SessionTable.Action], _ context: Context) {
        for action in actions {
            switch action {
            case .tell(let message, let to, let sender):
                tell(message, to: to, as: sender, context)
            case .connect(let address, let limit, let identity):
                connectors[context.connect(to: address, deadline: limit, expecting: identity)] = address
            case .joinRelay(let relay, let ticket, let peer, let identity):
                if let peer {
                    connectors[context.connect(to: relay, preface: ticket, expecting: identity)] = peer
                } else {
                    context.connect(to: relay, preface: ticket, role: .server)
                }
            case .cancelConnect(let peer):
                for (connector, key) in connectors where key == peer {
                    connectors[connector] = nil
                    context.closeConnector(connector)
                }
            case .stop(let object):
                tell(Stop(), to: object, context)
            case .arm(let timer, let deadline):
                switch timer {
                case .reopen: context.startTimer(ReopenDue(), at: deadline)
                case .doubt: context.startTimer(DoubtDue(), at: deadline)
                case .relayOverdue: context.startTimer(RelayOverdue(), at: deadline)
                }
            case .refuse(let what):
                refuse(what, context)
            case .note(let what, let metadata):
                context.runtime.logger.info(
                    "\(what)", metadata: metadata.mapValues { .string($0) })
            }
        }
    }
}
