import Actors
import Reactor
import Transport

/// The process directory's side of the group: the link up, the peer listener, the direct
/// connections that carry sessions with other processes.
extension ProcessDirectory {
    /// Backoff for the link to the group directory: it may start after us, or restart.
    static let groupBackoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(500))

    func start(_ context: Context) {
        guard let groupAddress = context.runtime.groupAddress else { return }
        self.groupAddress = groupAddress
        // Peers reach this process on an abstract Unix socket: never a network interface.
        let name = "ansar-peer-" + String(random.next() & 0xFFFF_FFFF_FFFF, radix: 16)
        context.listen(at: .unixAbstract(name: name))
        context.connect(to: groupAddress, backoff: Self.groupBackoff)
    }

    /// Passes an entry up once both the link and the peer endpoint are there; until then
    /// `parentLinked()` will pass everything when they are.
    func passUp(_ entry: Directory.Entry, _ context: Context) {
        guard let group, let endpoint, let owner = owners[entry.id] else { return }
        context.runtime.logger.debug("directory: passing up", metadata: ["entry": "\(entry.id)", "to": "\(group)"])
        let up: EntryUp
        switch entry.kind {
        case .listing(let name):
            up = EntryUp(
                id: entry.id, name: name, search: nil, scope: entry.scope, object: owner.object, endpoint: endpoint,
                sessionObject: factories[entry.id] != nil)
        case .search(let search): up = EntryUp(id: entry.id, name: nil, search: search, scope: entry.scope, object: owner.object, endpoint: endpoint)
        }
        context.tell(up, to: group)
    }

    private func linkUpIfReady(_ context: Context) {
        guard group != nil, endpoint != nil else { return }
        apply(directory.parentLinked(), context, endedBy: nil)
    }

    func groupMessage(_ message: any Message, _ context: Context) throws {
        switch message {
        case let listening as Listening:
            endpoint = listening.address
            linkUpIfReady(context)
        case let connected as Connected:
            if connected.requested == groupAddress?.description {
                group = context.returnAddress
                linkUpIfReady(context)
            } else if peers[connected.requested] != nil {
                peers[connected.requested]!.link = context.returnAddress
                for open in peers[connected.requested]!.waiting { hello(open, over: context.returnAddress, context) }
                peers[connected.requested]!.waiting.removeAll()
            }
        case let failed as NotConnected:
            guard failed.requested != groupAddress?.description, let peer = peers.removeValue(forKey: failed.requested) else { return }
            for open in peer.waiting {
                guard let subscriber = owners[open.search.id], let name = open.listing.name else { continue }
                context.tell(NotAvailable(name: name.text, reason: failed.reason), to: subscriber)
            }
        case is Abandoned, is Closed:
            lost(context.returnAddress, context)
        case let open as OpenSession:
            openSession(open, context)
        case let hello as SessionHello:
            accept(hello, context)
        case let accepted as SessionAccepted:
            guard sessions[accepted.session] != nil else { return }
            sessions[accepted.session]!.publisherSide = accepted.publisherSide
            announce(accepted.session, context)
        case let close as CloseSession:
            end(close.session, by: nil, value: nil, reason: close.reason, context, tellPeer: false)
        default:
            break
        }
    }

    /// A connection ended: the group link (reconnecting by itself), or a peer's (its sessions end).
    private func lost(_ link: Address, _ context: Context) {
        if link == group {
            group = nil
            directory.hasParent = false
            return
        }
        for (endpoint, peer) in peers where peer.link == link { peers[endpoint] = nil }
        for (id, session) in sessions where session.pair == nil {
            let remote = session.local == session.publisher ? session.subscriber : session.publisher
            if remote.link == link.link {
                end(id, by: nil, value: nil, reason: "\(session.local == session.publisher ? "subscriber" : "publisher") process lost", context, tellPeer: false)
            }
        }
    }

    /// The directory above matched one of our searches: reach the publisher's process.
    private func openSession(_ open: OpenSession, _ context: Context) {
        guard owners[open.search.id] != nil, !sessions.values.contains(where: { $0.pair == nil && sameSession($0, open) }) else { return }
        if let link = peers[open.listing.endpoint]?.link {
            hello(open, over: link, context)
            return
        }
        if peers[open.listing.endpoint] == nil {
            guard let address = try? SocketAddress(parsing: open.listing.endpoint) else { return }
            peers[open.listing.endpoint] = Peer()
            context.connect(to: address)
        }
        peers[open.listing.endpoint]!.waiting.append(open)
    }

    /// A session for the same publisher object and subscriber already runs (the directory above
    /// restarted and matched them again).
    private func sameSession(_ session: Session, _ open: OpenSession) -> Bool {
        session.subscriber.object == owners[open.search.id]?.object && session.publisher.object == open.listing.object
    }

    /// Subscriber side: tell the publisher's process and the publisher, then the subscriber — at
    /// once, or when the publisher's session object is known.
    private func hello(_ open: OpenSession, over link: Address, _ context: Context) {
        guard let subscriber = owners[open.search.id], let name = open.listing.name, let search = open.search.search else { return }
        let publisher = Address(object: open.listing.object, via: link)
        let subscriberSide = sessionObject(for: open.search.id, owner: subscriber, session: open.session, context) ?? subscriber
        var session = Session(
            publisher: publisher, subscriber: subscriber, publisherSide: publisher, subscriberSide: subscriberSide, name: name.text,
            local: subscriber, pair: nil, announced: false)
        session.search = search.description
        session.scope = open.scope
        sessions[open.session] = session
        context.tell(
            SessionHello(
                session: open.session, name: name.text, search: search.description, scope: open.scope, publisher: open.listing.object,
                listing: open.listing.id, subscriber: subscriberSide),
            to: link)
        // Delivered goes straight to the publisher, on the connection the subscriber's own messages
        // will take: it arrives before them.
        context.tell(Delivered(name: name.text, search: search.description, scope: open.scope, session: open.session), to: publisher, as: subscriberSide)
        if !open.listing.sessionObject { announce(open.session, context) }
    }

    /// Tells the subscriber (and its session object) that the session is open.
    private func announce(_ id: UInt64, _ context: Context) {
        guard var session = sessions[id], !session.announced else { return }
        session.announced = true
        sessions[id] = session
        context.tell(Available(name: session.name, search: session.search, scope: session.scope, session: id), to: session.subscriber, as: session.publisherSide)
        if session.subscriberSide != session.subscriber {
            context.tell(SessionOpened(session: id, name: session.name), to: session.subscriberSide, as: session.publisherSide)
        }
    }

    /// Publisher side: a subscriber's process opened a session with one of our publishers.
    private func accept(_ hello: SessionHello, _ context: Context) {
        let publisher = Address(object: hello.publisher, via: .none)
        guard entriesOf[publisher] != nil else {
            context.tell(CloseSession(session: hello.session, reason: "publisher gone"), to: context.returnAddress)
            return
        }
        // The subscriber's process sent Delivered to the publisher itself.
        let publisherSide = sessionObject(for: hello.listing, owner: publisher, session: hello.session, context) ?? publisher
        sessions[hello.session] = Session(
            publisher: publisher, subscriber: hello.subscriber, publisherSide: publisherSide, subscriberSide: hello.subscriber, name: hello.name,
            local: publisher, pair: nil)
        if publisherSide != publisher {
            context.tell(SessionAccepted(session: hello.session, publisherSide: publisherSide), to: context.returnAddress)
            context.tell(SessionOpened(session: hello.session, name: hello.name), to: publisherSide, as: hello.subscriber)
        }
    }
}
