import Actors
import Logging
import Reactor

/// The PROCESS-level directory: one object per runtime (a runtime service), which matches the
/// listings and searches of that runtime's objects and runs their sessions. No socket is
/// involved; `Available` and `Delivered` carry the other end as their return address.
final class ProcessDirectory: Object {
    static let serviceName = "ansar.pubsub.directory"

    private struct Session {
        let listing: Directory.Entry
        let search: Directory.Entry
        let publisher: Address
        let subscriber: Address
    }

    private struct Pair: Hashable {
        let listing: UInt64
        let search: UInt64
    }

    private var directory = Directory(scope: .process)
    /// The object behind each entry, and each object's entries.
    private var owners: [UInt64: Address] = [:]
    private var entriesOf: [Address: [UInt64]] = [:]
    private var sessions: [UInt64: Session] = [:]
    private var sessionOf: [Pair: UInt64] = [:]
    /// Pairs a side ended with `clear`: not offered again while both entries live.
    private var cleared: Set<Pair> = []
    private var random = SystemRandomNumberGenerator()

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case let request as PublishRequest: publish(request, context)
        case let request as SubscribeRequest: subscribe(request, context)
        case let request as ClearRequest: clear(request, context)
        case is RetractRequest: retract(context.returnAddress, context)
        case let ended as Ended: lose(ended.object, context)
        default: break
        }
    }

    private func freshID() -> UInt64 {
        var id: UInt64 = 0
        while id == 0 || owners[id] != nil { id = random.next() }
        return id
    }

    private func publish(_ request: PublishRequest, _ context: Context) {
        let requester = context.returnAddress
        let name: ServiceName
        do {
            name = try ServiceName(request.name)
        } catch {
            tell(NotPublished(name: request.name, reason: error.description), to: requester, context)
            return
        }
        let entry = Directory.Entry(id: freshID(), kind: .listing(name), scope: request.scope, member: requester.object)
        tell(Published(name: name.text, scope: request.scope), to: requester, context)
        enter(entry, for: requester, context)
    }

    private func subscribe(_ request: SubscribeRequest, _ context: Context) {
        let requester = context.returnAddress
        let search: Search
        do {
            search = try request.search.validated()
        } catch {
            tell(NotSubscribed(search: request.search.description, reason: error.description), to: requester, context)
            return
        }
        let entry = Directory.Entry(id: freshID(), kind: .search(search), scope: request.scope, member: requester.object)
        tell(Subscribed(search: search.description, scope: request.scope), to: requester, context)
        enter(entry, for: requester, context)
    }

    private func enter(_ entry: Directory.Entry, for owner: Address, _ context: Context) {
        if entriesOf[owner] == nil { context.watch(owner) }
        owners[entry.id] = owner
        entriesOf[owner, default: []].append(entry.id)
        apply(directory.add(entry), context, endedBy: nil)
    }

    /// `clear(session)`: the asking end hears Cleared, the other Dropped, and the pair is not
    /// offered again.
    private func clear(_ request: ClearRequest, _ context: Context) {
        let requester = context.returnAddress
        guard let session = sessions[request.session], session.publisher == requester || session.subscriber == requester else {
            context.runtime.logger.debug("clear of an unknown session", metadata: ["session": "\(request.session)"])
            return
        }
        let pair = Pair(listing: session.listing.id, search: session.search.id)
        cleared.insert(pair)
        end(request.session, pair, session, by: requester, value: request.value, context)
    }

    /// `retract()`: every listing and search of the asking object goes; its sessions end with
    /// Cleared on its side.
    private func retract(_ object: Address, _ context: Context) {
        for id in entriesOf.removeValue(forKey: object) ?? [] {
            owners[id] = nil
            apply(directory.remove(id), context, endedBy: object)
        }
    }

    /// An object ended: its entries go, and the other ends of its sessions hear Dropped.
    private func lose(_ object: Address, _ context: Context) {
        guard let ids = entriesOf.removeValue(forKey: object) else { return }
        for id in ids { owners[id] = nil }
        apply(directory.lose(object.object), context, endedBy: nil)
    }

    private func apply(_ actions: [Directory.Action], _ context: Context, endedBy: Address?) {
        for action in actions {
            switch action {
            case .open(let listing, let search):
                let pair = Pair(listing: listing.id, search: search.id)
                guard !cleared.contains(pair), sessionOf[pair] == nil,
                    let publisher = owners[listing.id], let subscriber = owners[search.id],
                    case .listing(let name) = listing.kind, case .search(let wanted) = search.kind
                else { continue }
                let id = freshSessionID()
                sessions[id] = Session(listing: listing, search: search, publisher: publisher, subscriber: subscriber)
                sessionOf[pair] = id
                tell(Available(name: name.text, search: wanted.description, scope: .process, session: id), to: subscriber, as: publisher, context)
                tell(Delivered(name: name.text, search: wanted.description, scope: .process, session: id), to: publisher, as: subscriber, context)
            case .close(let listing, let search):
                let pair = Pair(listing: listing.id, search: search.id)
                cleared.remove(pair)
                guard let id = sessionOf[pair], let session = sessions[id] else { continue }
                end(id, pair, session, by: endedBy, value: nil, context)
            case .forward, .withdraw:
                break  // no parent directory at this level yet
            }
        }
    }

    /// Ends a session: `by` (if it is one of the ends) hears Cleared, the other end Dropped; with
    /// no `by`, the end that is gone hears nothing and the other Dropped.
    private func end(_ id: UInt64, _ pair: Pair, _ session: Session, by: Address?, value: AnyMessage?, _ context: Context) {
        sessions[id] = nil
        sessionOf[pair] = nil
        guard case .listing(let name) = session.listing.kind else { return }
        for (end, other) in [(session.publisher, session.subscriber), (session.subscriber, session.publisher)] {
            if end == by {
                tell(Cleared(session: id, name: name.text, value: value), to: end, as: other, context)
            } else if entriesOf[end] != nil {
                let reason = other == by ? "ended by the other end" : (other == session.publisher ? "publisher gone" : "subscriber gone")
                tell(Dropped(session: id, name: name.text, reason: reason), to: end, as: other, context)
            }
        }
    }

    private func freshSessionID() -> UInt64 {
        var id: UInt64 = 0
        while id == 0 || sessions[id] != nil { id = random.next() }
        return id
    }

    /// Sends a directory message; a full mailbox is logged, never silent.
    private func tell(_ message: some Message, to address: Address, as sender: Address? = nil, _ context: Context) {
        do {
            try context.forward(message, to: address, as: sender ?? context.address)
        } catch {
            context.runtime.logger.warning("directory message not delivered", metadata: ["to": "\(address)", "reason": "\(error)"])
        }
    }
}
