import Actors
import Platform

/// The process directory's side of the group: the link up, the peer listener, the direct
/// connections that carry sessions with other processes.
extension ProcessDirectory {
    /// Backoff for the link to the group directory: it may start after us, or restart.
    static let groupBackoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(500))
    /// Where a process listens for peers on other hosts: every interface, a port of the kernel's choosing.
    static let networkAddress = SocketAddress.ipv4("0.0.0.0", port: 0)

    func start(_ context: Context) {
        guard let groupAddress = context.runtime.pubSub.groupAddress else { return }
        self.groupAddress = groupAddress
        // Peers reach this process on an abstract Unix socket: never a network interface.
        let name = "ansar-peer-" + String(identifiers.next(bits: 48), radix: 16)
        context.listen(at: .unixAbstract(name: name))
        context.connect(to: groupAddress, backoff: Self.groupBackoff)
    }

    /// Passes an entry up once both the link and the peer endpoint are there; until then
    /// `parentLinked()` will pass everything when they are.
    func passUp(_ entry: Matcher.Entry, _ context: Context) {
        guard let group, let endpoint, let owner = owners[entry.id] else { return }
        // A listing other hosts may reach waits for the network listener.
        let network = entry.scope >= .lan ? networkEndpoint : nil
        if case .listing = entry.kind, entry.scope >= .lan, network == nil {
            if networkListener == nil { networkListener = context.listen(at: Self.networkAddress) }
            return
        }
        context.runtime.logger.debug("directory: passing up", metadata: ["entry": "\(entry.id)", "to": "\(group)"])
        let up: EntryUp
        switch entry.kind {
        case .listing(let name):
            up = EntryUp(
                id: entry.id, name: name, search: nil, scope: entry.scope, object: owner.object, endpoint: endpoint,
                network: network,
                sessionObject: factories[entry.id] != nil)
        case .search(let search):
            up = EntryUp(
                id: entry.id, name: nil, search: search, scope: entry.scope, object: owner.object, endpoint: endpoint)
        }
        tell(up, to: group, context)
    }

    private func linkUpIfReady(_ context: Context) {
        guard group != nil, endpoint != nil else { return }
        apply(matcher.parentLinked(), context, endedBy: nil)
    }

    func groupMessage(_ message: any Message, _ context: Context) throws {
        switch message {
        case let listening as Listening:
            if listening.requested == Self.networkAddress {
                networkEndpoint = listening.address
                // The listings that waited for it go up now.
                for entry in matcher.listings where entry.scope >= .lan && matcher.hasParent { passUp(entry, context) }
            } else {
                endpoint = listening.address
                linkUpIfReady(context)
            }
        case let connected as Connected:
            if connected.requested == groupAddress {
                group = context.returnAddress
                linkUpIfReady(context)
            } else if let key = peers.first(where: {
                $0.value.connector == connected.connector && $0.value.link == nil
            })?.key {
                peers[key]!.link = context.returnAddress
                for open in peers[key]!.waiting { hello(open, over: context.returnAddress, context) }
                peers[key]!.waiting.removeAll()
            }
        // Else the publisher's end of a relayed connection: the subscriber's hello comes over it.
        case let failed as NotConnected:
            guard failed.requested != groupAddress,
                let key = peers.first(where: { $0.value.connector == failed.connector && $0.value.link == nil })?
                    .key
            else { return }
            unreachable(key, reason: failed.reason, context)
        case let relayed as Relayed:
            relayedTo(relayed, context)
        case is RelayOverdue:
            // A request or its answer was lost (a directory restarted): the subscribers are told.
            let now = Deadline.now()
            for (key, peer) in peers
            where peer.link == nil && peer.connector == nil && (peer.relayDue.map { $0 <= now } ?? false) {
                unreachable(key, reason: "no relay offered within \(Self.relayAnswerLimit)", context)
            }
            if let next = peers.values.compactMap({ $0.connector == nil ? $0.relayDue : nil }).min() {
                context.startTimer(RelayOverdue(), at: next)
            }
        case let abandoned as Abandoned:
            lost(context.returnAddress, unconfirmed: abandoned.unconfirmed, context)
        case let closed as Closed:
            lost(context.returnAddress, unconfirmed: closed.unconfirmed, context)
        case let refused as EntryRefused:
            guard context.returnAddress.link == group?.link, let owner = owners[refused.id],
                let kind = matcher.entries[refused.id]?.kind
            else { return }
            tellRefused(kind, reason: refused.reason, to: owner, context)
        case let open as OpenSession:
            openSession(open, context)
        case let hello as SessionHello:
            accept(hello, context)
        case let accepted as SessionAccepted:
            guard sessions[accepted.session] != nil else { return }
            sessions[accepted.session]!.publisherSide = accepted.publisherSide
            announce(accepted.session, context)
        case let close as CloseSession:
            closeSession(close, context)
        case let carriedOn as SessionKept:
            // Only the far end of the session, over its own link, may say so.
            guard let session = sessions[carriedOn.session], session.pair == nil,
                context.returnAddress.link != nil, session.subscriberSide.link == context.returnAddress.link
            else {
                return refuse("SessionKept for a session that is not its own", context)
            }
            kept(carriedOn.session, matchedAs: carriedOn.matchedAs)
        case is ReopenDue:
            reopenDue(context)
        case is DoubtDue:
            let now = Deadline.now()
            for (id, doubt) in doubted where doubt.until <= now {
                // Not matched again in time: over, at both ends.
                doubted[id] = nil
                end(id, by: nil, value: nil, reason: doubt.reason, context)
            }
            if let next = doubted.values.map(\.until).min() { context.startTimer(DoubtDue(), at: next) }
        default:
            break
        }
    }

    /// A connection ended: the group link (reconnecting by itself), or a peer's (its sessions end).
    private func lost(_ link: Address, unconfirmed: [UnconfirmedMessages], _ context: Context) {
        if link == group {
            group = nil
            matcher.hasParent = false
            return
        }
        for (endpoint, peer) in peers where peer.link == link { peers[endpoint] = nil }
        for (id, session) in sessions where session.pair == nil {
            let remote = session.local == session.publisher ? session.subscriber : session.publisher
            if remote.link == link.link {
                // What this end sent the other that the other's process never confirmed.
                let (localSide, remoteSide) =
                    session.local == session.publisher
                    ? (session.publisherSide, session.subscriberSide) : (session.subscriberSide, session.publisherSide)
                let count = unconfirmed.reduce(0) { total, entry in
                    let ours = entry.sender == session.local || entry.sender == localSide
                    let theirs =
                        entry.destination.object == remote.object || entry.destination.object == remoteSide.object
                    return ours && theirs ? total + entry.count : total
                }
                end(
                    id, by: nil, value: nil,
                    reason: "\(session.local == session.publisher ? "subscriber" : "publisher") process lost", context,
                    tellPeer: false, unconfirmed: count)
                if let open = session.open, owners[open.search.id] != nil { scheduleReopen(open, soon: true, context) }
            }
        }
    }

    /// A session is over: said by the other end's process, or by a directory. A directory may say
    /// so while the other end's process still answers on our link (it lost sight of that end's
    /// member, and will match the pair again when it sees it): at either end, that session is
    /// doubted for a while, not ended.
    private func closeSession(_ close: CloseSession, _ context: Context) {
        let id = aliases[close.session] ?? close.session
        if reopening.removeValue(forKey: id) != nil {
            // It is over: no more tries, and a try under way is not for it any more.
            for (key, peer) in peers where peer.link == nil {
                peers[key]!.waiting.removeAll { $0.session == id }
                if peers[key]!.waiting.isEmpty {
                    if let connector = peer.connector { context.closeConnector(connector) }
                    peers[key] = nil
                }
            }
        }
        if close.entry != nil, let session = sessions[id], session.pair == nil {
            // From a directory, while the other end's process still answers on our link (a
            // session on a lost link has ended already).
            guard session.matchedAs == close.session else { return } // matched again since
            if doubted[id] == nil {
                doubted[id] = (.after(Self.doubtLimit), close.reason)
                context.startTimer(DoubtDue(), after: Self.doubtLimit)
            }
            return
        }
        doubted[id] = nil
        end(id, by: nil, value: nil, reason: close.reason, context, tellPeer: false)
    }

    /// Subscriber side: a directory matched the running session `id` again, under `matchedAs`. It
    /// carries on, and the publisher's process is told so, in case a directory told it otherwise.
    private func keep(_ id: UInt64, matchedAs: UInt64, _ context: Context) {
        guard let session = sessions[id], session.matchedAs != matchedAs else { return }
        kept(id, matchedAs: matchedAs)
        tell(SessionKept(session: id, matchedAs: matchedAs), to: Address(object: 0, via: session.publisher), context)
    }

    /// Either side: the session carries on under the directories' new number for it.
    private func kept(_ id: UInt64, matchedAs: UInt64) {
        sessions[id]?.matchedAs = matchedAs
        doubted[id] = nil
        if matchedAs != id { aliases[matchedAs] = id }
    }

    /// Tries a lost session again — `soon` (the first spacing), or after the next spacing of its
    /// backoff — until it opens, its directory closes it, or its subscriber goes.
    private func scheduleReopen(_ open: OpenSession, soon: Bool, _ context: Context) {
        var reopen = reopening[open.session] ?? Reopen(open: open)
        if reopening[open.session] != nil { reopen.failed() }
        reopen.due = .after(soon ? Reopen.first : reopen.spacing.next())
        reopening[open.session] = reopen
        armReopen(context)
    }

    private func armReopen(_ context: Context) {
        guard let next = reopening.values.map(\.due).min(), next < .distantFuture else { return }
        context.startTimer(ReopenDue(), at: next)
    }

    private func reopenDue(_ context: Context) {
        let now = Deadline.now()
        for (id, reopen) in reopening where reopen.due <= now {
            guard owners[reopen.open.search.id] != nil else {
                reopening[id] = nil
                continue
            }
            reopening[id]!.due = .distantFuture // trying; a failure schedules the next
            openSession(reopen.open, context, reopening: reopen.attemptLimit)
        }
        armReopen(context)
    }

    /// The directory above matched one of our searches (or a lost session is tried again):
    /// reach the publisher's process.
    /// `again`: a lost session tried again, each attempt bounded by that time.
    private func openSession(_ open: OpenSession, _ context: Context, reopening again: Duration? = nil) {
        guard owners[open.search.id] != nil else { return }
        if let id = sessionOf[open.pair] {
            // Running already: a directory that lost sight of one end has matched it again.
            keep(id, matchedAs: open.session, context)
            return
        }
        if again == nil {
            // A fresh match of the same pair replaces a pending try, and a try under way.
            for (id, pending) in reopening
            where pending.open.listing.id == open.listing.id && pending.open.search.id == open.search.id {
                reopening[id] = nil
                for key in peers.keys { peers[key]!.waiting.removeAll { $0.session == id } }
            }
        }
        let key = peerEndpoint(open)
        if let link = peers[key]?.link {
            hello(open, over: link, context)
            return
        }
        if peers[key] == nil {
            peers[key] = Peer(connector: context.connect(to: key, deadline: again), reopening: again != nil)
        }
        peers[key]!.waiting.append(open)
    }

    /// Where to reach a listing's process: on this host through its Unix socket; matched at LAN or
    /// WAN scope, over the network.
    private func peerEndpoint(_ open: OpenSession) -> SocketAddress {
        open.scope >= .lan ? open.listing.network ?? open.listing.endpoint : open.listing.endpoint
    }

    /// A publisher's process could not be reached: across hosts, ask the directory that matched
    /// the session for a relay (once); else, or if that failed too, its subscribers hear
    /// NotAvailable, and it is tried again until the directory closes the session.
    private func unreachable(_ key: SocketAddress, reason: String, _ context: Context) {
        guard let peer = peers[key] else { return }
        // Only a WAN directory offers relays: a session matched lower has no other way.
        if peer.relayDue == nil, let first = peer.waiting.first, first.scope >= .wan, let group {
            context.runtime.logger.info(
                "publisher unreachable; asking for a relay", metadata: ["endpoint": "\(key)", "reason": "\(reason)"])
            peers[key]!.relayDue = .after(Self.relayAnswerLimit)
            peers[key]!.connector = nil
            tell(RelayWanted(session: first.session, entry: first.search.id), to: group, context)
            context.startTimer(RelayOverdue(), after: Self.relayAnswerLimit)
            return
        }
        peers[key] = nil
        for open in peer.waiting {
            guard let subscriber = owners[open.search.id], let name = open.listing.name else { continue }
            if peer.reopening {
                // A retry after a loss the subscriber was told of (Dropped): a match that joined
                // it is tried again quietly too.
                scheduleReopen(open, soon: false, context)
                continue
            }
            // Said once; then tried again quietly while the directory still matches the pair (the
            // publisher may be cut off for a moment), so it comes back as Available by itself.
            tell(NotAvailable(name: name, reason: reason), to: subscriber, context)
            scheduleReopen(open, soon: true, context)
        }
    }

    /// The directory that matched a session named a relay. The subscriber's end connects as the
    /// handshake's client, the publisher's as its server; an empty relay means there is none.
    private func relayedTo(_ relayed: Relayed, _ context: Context) {
        guard owners[relayed.entry] != nil else { return }
        let relay = relayed.token.count == RelaySwitch.tokenBytes ? relayed.relay : nil
        // The subscriber's end: its sessions with that publisher wait for this.
        if let (key, _) = peers.first(where: { $0.value.waiting.contains { $0.session == relayed.session } }) {
            guard let relay else { return unreachable(key, reason: "unreachable, and no relay offered", context) }
            peers[key]!.connector = context.connect(to: relay, preface: RelaySwitch.preface(token: relayed.token))
        } else if let relay {
            context.connect(to: relay, preface: RelaySwitch.preface(token: relayed.token), role: .server)
        }
    }

    /// Subscriber side: tell the publisher's process and the publisher, then the subscriber — at
    /// once, or when the publisher's session object is known.
    private func hello(_ open: OpenSession, over link: Address, _ context: Context) {
        guard let subscriber = owners[open.search.id], let name = open.listing.name, let search = open.search.search
        else { return }
        // One session per pair: a match that raced another to the same publisher joins it.
        if let id = sessionOf[open.pair] {
            keep(id, matchedAs: open.session, context)
            reopening[open.session] = nil
            return
        }
        let publisher = Address(object: open.listing.object, via: link)
        let subscriberSide =
            sessionObject(for: open.search.id, owner: subscriber, session: open.session, context) ?? subscriber
        var session = Session(
            publisher: publisher, subscriber: subscriber, publisherSide: publisher, subscriberSide: subscriberSide,
            name: name,
            local: subscriber, pair: nil, announced: false)
        session.search = search
        session.scope = open.scope
        session.open = open
        session.matchedAs = open.session
        reopening[open.session] = nil
        sessions[open.session] = session
        sessionOf[open.pair] = open.session
        tell(
            SessionHello(
                session: open.session, name: name, search: search, scope: open.scope, publisher: open.listing.object,
                listing: open.listing.id, subscriber: subscriberSide),
            to: link, context)
        // Delivered goes straight to the publisher, on the connection the subscriber's own messages
        // will take: it arrives before them.
        tell(
            Delivered(name: name, search: search, scope: open.scope, session: open.session), to: publisher,
            as: subscriberSide, context)
        if !open.listing.sessionObject { announce(open.session, context) }
    }

    /// Tells the subscriber (and its session object) that the session is open.
    private func announce(_ id: UInt64, _ context: Context) {
        guard var session = sessions[id], !session.announced else { return }
        session.announced = true
        sessions[id] = session
        tell(
            Available(
                name: session.name, search: session.search ?? .exact(session.name), scope: session.scope, session: id),
            to: session.subscriber, as: session.publisherSide, context)
        if session.subscriberSide != session.subscriber {
            tell(
                SessionOpened(session: id, name: session.name), to: session.subscriberSide, as: session.publisherSide,
                context)
        }
    }

    /// Publisher side: a subscriber's process opened a session with one of our publishers.
    private func accept(_ hello: SessionHello, _ context: Context) {
        let publisher = Address(object: hello.publisher, via: .none)
        guard entriesOf[publisher] != nil else {
            tell(CloseSession(session: hello.session, reason: "publisher gone"), to: context.returnAddress, context)
            return
        }
        // The subscriber's process sent Delivered to the publisher itself.
        let publisherSide =
            sessionObject(for: hello.listing, owner: publisher, session: hello.session, context) ?? publisher
        var session = Session(
            publisher: publisher, subscriber: hello.subscriber, publisherSide: publisherSide,
            subscriberSide: hello.subscriber, name: hello.name,
            local: publisher, pair: nil)
        session.matchedAs = hello.session
        sessions[hello.session] = session
        if publisherSide != publisher {
            tell(
                SessionAccepted(session: hello.session, publisherSide: publisherSide), to: context.returnAddress,
                context)
            tell(
                SessionOpened(session: hello.session, name: hello.name), to: publisherSide, as: hello.subscriber,
                context)
        }
    }
}
