import Actors
import Cryptography
import Logging
import Platform

/// A directory above the processes: the GROUP directory of one process group (members are the
/// group's processes), or the HOST directory of one machine (members are its groups' directories).
/// It listens where its members are told to connect, keeps the listings and searches they pass
/// up, and when a listing and a search of different members match, asks the subscriber's process
/// to open the session with the publisher's — directly: the directories carry no session traffic.
/// With a parent address it links up (retrying), passes up what reaches further, and relays the
/// parent's session requests down to the member that owns the entry. A member that goes (its
/// link breaks or falls silent past the keep-alive) takes its entries with it, and the other
/// ends of its sessions are told.
public final class ScopeDirectory: Object, ControlSender {
    /// How a directory finds its parent and serves the levels below: all optional.
    public struct Links: Sendable {
        /// The parent's address (HOST → LAN, LAN → WAN).
        public var parent: SocketAddress?
        /// Find the parent by listening for LAN beacons on this UDP port (a HOST directory with
        /// no explicit parent): of the realm's LAN directories heard, the lowest address wins.
        public var discoverOnPort: UInt16?
        /// Announce this directory by beacon to this UDP port (a LAN directory), every `beaconInterval`.
        public var beaconPort: UInt16?
        public var beaconInterval = Duration.seconds(1)
        /// Where a ``RelaySwitch`` listens for the sessions this directory matches whose ends cannot
        /// reach each other (a WAN directory). Host 0.0.0.0: on this machine, at the address each
        /// member reaches it by.
        public var relay: SocketAddress?
        /// The key the relay checks tickets with (``RelayTicket/newKey()``, shared with a relay that
        /// runs on its own through a file); this directory issues each end of a relayed session its ticket.
        public var relayKey: [UInt8]?
        /// How long a ticket is good for joining.
        public var ticketLifetime = Duration.seconds(60)

        public init(
            parent: SocketAddress? = nil, discoverOnPort: UInt16? = nil, beaconPort: UInt16? = nil,
            relay: SocketAddress? = nil, relayKey: [UInt8]? = nil
        ) {
            self.parent = parent
            self.discoverOnPort = discoverOnPort
            self.beaconPort = beaconPort
            self.relay = relay
            self.relayKey = relayKey
        }
    }

    private let address: SocketAddress
    private(set) var links: Links
    private var parentConnector: ConnectorID?
    private var matcher: Matcher
    let outbox = ControlOutbox()
    private var parent: Address?
    /// Each member, by its link: messages from its directory and the link's own events (which
    /// come from the link's owner, object 0) both name it.
    private var members: [LinkID: Matcher.Member] = [:]
    /// Where to reach each member's directory.
    private var memberAddress: [Matcher.Member: Address] = [:]
    /// Over TCP: each member's address as seen here, and ours as seen by it.
    private var memberHosts: [Matcher.Member: (peer: String, local: String)] = [:]
    /// Where each member's link comes from, by the kernel's word: its process over a Unix socket,
    /// its host over TCP (nil: not known, as in the simulator). An entry moves only between links
    /// of one origin.
    private var memberOrigins: [Matcher.Member: String] = [:]
    /// What each member's link proved in its handshake.
    private var memberIdentities: [Matcher.Member: PeerIdentity] = [:]
    private var nextMember: Matcher.Member = 1
    private var details: [UInt64: EntryUp] = [:]
    private var ownerOf: [UInt64: Matcher.Member] = [:]
    private var sessions: [Pair: (id: UInt64, listing: UInt64, search: UInt64)] = [:]
    private var identifiers = RandomIdentifiers()
    /// Where this directory sends its beacons from, and where it hears others' (ordinary sockets of
    /// the runtime's loop).
    private var beaconSender: DatagramSocketID?
    private var beaconListener: DatagramSocketID?
    /// The last ignored beacon's sender and reason, and when it was said: a flood stays a trickle.
    private var lastIgnored = ""
    private var beaconsTaken = BeaconReplays()
    private var lastIgnoredAt = Deadline(nanoseconds: 0)
    private var listeningPort: UInt16?
    /// LAN directories of this realm heard by beacon, with when each was last heard; the set
    /// last said in the log.
    private var lanDirectoriesHeard: [SocketAddress: Deadline] = [:]
    private var lastSplit: Set<SocketAddress> = []

    private typealias Pair = Matcher.Pair

    private struct BeaconDue: LocalOnlyMessage {
        static let typeName = "ansar.pubsub.BeaconDue"
    }

    /// Joins the beacons' multicast group again: an interface that went down and came back has
    /// lost its membership.
    private struct BeaconRejoin: LocalOnlyMessage {
        static let typeName = "ansar.pubsub.BeaconRejoin"
    }

    public static var messageTypes: [any Message.Type] {
        [
            EntryUp.self, EntryDown.self, EntryRefused.self, OpenSession.self, CloseSession.self, NetworkEnquiry.self,
            NetworkReport.self,
            RelayWanted.self, Relayed.self,
        ]
    }
    /// Who asked for the lineage while the parent's part is on its way.
    private var enquirers: [Address] = []

    /// Where a machine's HOST directory of `realm` listens unless told otherwise: an abstract
    /// Unix socket, so it is reachable from this machine only, with no file to clean up, named
    /// after the realm (`@ansar-host-` and 16 hex digits of a tag of its secret), so that two
    /// realms on one machine each have their own and no name is shared to collide on.
    public static func hostAddress(of realm: RealmSecret) -> SocketAddress {
        .unixAbstract(name: "ansar-host-" + SystemAccess.hex(realm.tag("ansar host directory", []).prefix(8)))
    }
    /// The TCP port LAN and WAN directories listen on unless told otherwise.
    public static let lanPort: UInt16 = 32177
    public static let wanPort: UInt16 = 32178

    /// Called with the bound address once the directory listens (a daemon writes its state then).
    private let whenListening: ((String) -> Void)?
    private let whenRefused: ((String) -> Void)?
    private var listenedOnce = false

    /// A directory at `scope` that will listen on `address`, and link to the directory at
    /// `parent` if given.
    public convenience init(
        listening address: SocketAddress, scope: Scope = .group, parent: SocketAddress? = nil,
        permissions: NamePermissions = .open, whenListening: ((String) -> Void)? = nil
    ) {
        self.init(
            listening: address, scope: scope, links: Links(parent: parent), permissions: permissions,
            whenListening: whenListening)
    }

    /// A directory at `scope` that will listen on `address`, with its parent, beacons and relay as
    /// `links` say.
    /// `whenRefused` hears why, if the first attempt to listen fails (a daemon ends then: the
    /// address is taken); later attempts are retried. `permissions` say who may publish and
    /// subscribe what (``NamePermissions``; open by default).
    public init(
        listening address: SocketAddress, scope: Scope, links: Links, permissions: NamePermissions = .open,
        whenListening: ((String) -> Void)? = nil, whenRefused: ((String) -> Void)? = nil
    ) {
        self.address = address
        self.links = links
        self.whenListening = whenListening
        self.whenRefused = whenRefused
        matcher = Matcher(scope: scope, permissions: permissions)
    }

    public func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start:
            context.listen(at: address)
            if let parentAddress = links.parent {
                parentConnector = context.connect(to: parentAddress, backoff: ProcessDirectory.groupBackoff)
            }
            if links.parent == nil, let port = links.discoverOnPort { listenForBeacons(port, context) }
        case let listening as Listening:
            listeningPort = listening.address.port
            listenedOnce = true
            whenListening?(listening.address.description)
            if links.beaconPort != nil {
                sendBeacon(context)
                context.startTimer(BeaconDue(), after: links.beaconInterval, repeating: true)
            }
        case is Writable, is ControlOutbox.RetryDue:
            outbox.flush(context)
        case is BeaconDue:
            sendBeacon(context)
        case let datagram as DatagramReceived where datagram.socket == beaconListener:
            heardBeacon(datagram, context)
        case is BeaconRejoin:
            joinBeaconGroup(context)
        case let refused as NotListening:
            if !listenedOnce, let whenRefused {
                return whenRefused("cannot listen at \(refused.requested): \(refused.reason)")
            }
            context.runtime.logger.error(
                "directory cannot listen (retrying)",
                metadata: ["address": "\(refused.requested)", "reason": "\(refused.reason)"])
        case let accepted as Accepted:
            guard let member = member(context.returnAddress) else { return }
            if let peer = accepted.peer { memberHosts[member] = (host(of: peer), accepted.local.map(host(of:)) ?? "") }
            memberOrigins[member] =
                accepted.peerProcess.map { "process \($0)" } ?? accepted.peer.map { "host \(host(of: $0))" }
            memberIdentities[member] = accepted.peerIdentity
        case is Connected:
            parent = context.returnAddress
            apply(matcher.parentLinked(), context)
        case let up as EntryUp:
            guard let member = member(context.returnAddress), let kind = up.kind else {
                refuse("entry that is neither listing nor search", entry: up.id, context)
                return
            }
            // A process is reached on its host by an abstract socket, from elsewhere over TCP: a
            // listing may not send subscribers to a file socket (docker.sock) or a chosen port.
            guard case .unixAbstract = up.endpoint, up.network?.isTCP ?? true else {
                refuse("entry with an endpoint that is not a process's", entry: up.id, context)
                let reason = "refused by the \(matcher.scope) directory: endpoint \(up.endpoint) is not a process's"
                return tell(EntryRefused(id: up.id, reason: reason), to: context.returnAddress, context)
            }
            var up = up
            // A group directory's members are processes: an entry is its link's, whatever it says.
            if matcher.scope == .group || up.identity == nil { up.identity = memberIdentities[member] }
            if let network = up.network, let (peer, _) = memberHosts[member] {
                // A LAN directory hears its hosts' listings first-hand: the host is the one the
                // link comes from, whatever the entry says. Above, entries come filled in.
                if matcher.scope == .lan, !peer.isEmpty, let port = network.port {
                    up.network = .ipv4(peer, port: port)
                } else {
                    up.network = network.replacingUnspecifiedHost(with: peer)
                }
            }
            if let owner = ownerOf[up.id], owner != member {
                // The very same entry over a new link from the same process (or host): its member
                // linked anew before the old link was noticed gone, and it moves. Anything else
                // under another's identifier — a copy of the entry from elsewhere too — is refused.
                guard details[up.id] == up, memberOrigins[owner] == memberOrigins[member] else {
                    refuse("entry that is not its own", entry: up.id, context)
                    return
                }
                ownerOf[up.id] = member
                matcher.move(up.id, to: member)
                return
            }
            details[up.id] = up
            ownerOf[up.id] = member
            apply(
                matcher.add(
                    Matcher.Entry(id: up.id, kind: kind, scope: up.scope, member: member, identity: up.identity)),
                context)
        case let down as EntryDown:
            // A member takes back only what it gave. One never taken here (refused) is nothing to take.
            guard let owner = ownerOf[down.id] else { return }
            guard let link = context.returnAddress.link, owner == members[link] else {
                refuse("withdrawal of an entry that is not its own", entry: down.id, context)
                return
            }
            details[down.id] = nil
            ownerOf[down.id] = nil
            apply(matcher.remove(down.id), context)
        case let refused as EntryRefused:
            // From the parent: down to the member that gave the entry.
            guard fromParent(context) else { return refuse("EntryRefused from a link not the parent's", context) }
            guard let member = ownerOf[refused.id], let link = memberAddress[member] else { return }
            tell(refused, to: link, context)
        case let open as OpenSession:
            // From the parent: the subscriber is below one of our members.
            guard fromParent(context) else { return refuse("OpenSession from a link not the parent's", context) }
            guard let member = ownerOf[open.search.id], let link = memberAddress[member] else { return }
            tell(open, to: link, context)
        case let close as CloseSession:
            // From the parent, which matched the session: down to the member of the entry.
            guard fromParent(context) else { return refuse("CloseSession from a link not the parent's", context) }
            guard let entry = close.entry, let member = ownerOf[entry], let link = memberAddress[member] else { return }
            tell(close, to: link, context)
        case let wanted as RelayWanted:
            relay(wanted, context)
        case let relayed as Relayed:
            // From the parent only (a member must not send a publisher to a host:port of its
            // choosing): down to the member that owns the entry.
            guard fromParent(context) else {
                return refuse("Relayed from a link not the parent's", entry: relayed.entry, context)
            }
            guard let member = ownerOf[relayed.entry], let link = memberAddress[member] else { return }
            tell(relayed, to: link, context)
        case is Abandoned, is Closed:
            if context.returnAddress == parent {
                parent = nil
                matcher.hasParent = false // the connector comes back by itself; then all is passed up again
                for enquirer in enquirers { tell(report(), to: enquirer, context) }
                enquirers.removeAll()
                return
            }
            guard let link = context.returnAddress.link, let member = members.removeValue(forKey: link) else { return }
            memberAddress[member] = nil
            memberHosts[member] = nil
            memberOrigins[member] = nil
            memberIdentities[member] = nil
            for (id, owner) in ownerOf where owner == member {
                ownerOf[id] = nil
                details[id] = nil
            }
            apply(matcher.lose(member), context)
        case let changed as PermissionsChanged:
            apply(matcher.replacePermissions(changed.permissions), context)
        case is NetworkEnquiry:
            // The lineage: this level, then the parent's answer (which holds the levels above it).
            guard let parent else {
                tell(report(), to: context.returnAddress, context)
                return
            }
            enquirers.append(context.returnAddress)
            if enquirers.count == 1 { tell(NetworkEnquiry(), to: parent, context) }
        case let above as NetworkReport:
            // Only the parent answers for the levels above.
            guard fromParent(context) else { return }
            var mine = report()
            mine.above = [above] + above.above
            mine.above[0].above = []
            for enquirer in enquirers { tell(mine, to: enquirer, context) }
            enquirers.removeAll()
        case is Stop:
            if let beaconListener { context.closeDatagramSocket(beaconListener) }
            if let beaconSender { context.closeDatagramSocket(beaconSender) }
            context.complete(Ack())
        default:
            break
        }
    }

    private func report() -> NetworkReport {
        let listings = matcher.listings.compactMap { entry -> String? in
            if case .listing(let name) = entry.kind { "\(name) (\(entry.scope))" } else { nil }
        }
        let searches = matcher.searches.compactMap { entry -> String? in
            if case .search(let search) = entry.kind { "\(search) (\(entry.scope))" } else { nil }
        }
        return NetworkReport(
            scope: matcher.scope, address: address.description, parent: links.parent?.description,
            relay: links.relay?.description,
            parentLinked: parent != nil, members: members.count, listings: listings.sorted(),
            searches: searches.sorted(), sessions: sessions.count,
            lanDirectoriesHeard: lanDirectoriesHeard.keys.sorted(by: Self.precedes).map(\.description))
    }

    /// The member whose link `sender` came over (a new one for a new link); nil for a sender
    /// in this process, which is no member.
    private func member(_ sender: Address) -> Matcher.Member? {
        guard let link = sender.link else { return nil }
        if let known = members[link] {
            // Its directory's own address, once it has spoken, rather than the link owner's.
            if sender.object != 0 { memberAddress[known] = sender }
            return known
        }
        let member = nextMember
        nextMember += 1
        members[link] = member
        memberAddress[member] = sender
        return member
    }

    private func apply(_ actions: [Matcher.Action], _ context: Context) {
        for action in actions {
            switch action {
            case .open(let listing, let search):
                guard let listed = details[listing.id], let searching = details[search.id],
                    let subscriber = memberAddress[search.member]
                else { continue }
                let id = identifiers.next()
                sessions[Pair(listing: listing.id, search: search.id)] = (id, listing.id, search.id)
                tell(
                    OpenSession(session: id, listing: listed, search: searching, scope: matcher.scope), to: subscriber,
                    context)
            case .close(let listing, let search):
                guard let session = sessions.removeValue(forKey: Pair(listing: listing.id, search: search.id)) else {
                    continue
                }
                // Whichever end is still here hears it; its process tells its object.
                for (entry, reason) in [(session.listing, "subscriber gone"), (session.search, "publisher gone")] {
                    guard let link = memberAddress[entry == listing.id ? listing.member : search.member] else {
                        continue
                    }
                    tell(CloseSession(session: session.id, reason: reason, entry: entry), to: link, context)
                }
            case .forward(let entry):
                if let parent, let up = details[entry.id] { tell(up, to: parent, context) }
            case .withdraw(let entry):
                if let parent { tell(EntryDown(id: entry.id), to: parent, context) }
            case .refuse(let entry, let reason):
                details[entry.id] = nil
                ownerOf[entry.id] = nil
                guard let link = memberAddress[entry.member] else { continue }
                // A member past its share may send thousands: ten lines a second, and a count.
                if case .write(let dropped) = outbox.refusals.admit() {
                    var metadata: Logger.Metadata = ["entry": "\(entry.id)", "reason": "\(reason)"]
                    if dropped > 0 { metadata["unlogged"] = "\(dropped) refusals before this one" }
                    context.runtime.logger.warning("directory refused an entry", metadata: metadata)
                }
                tell(
                    EntryRefused(id: entry.id, reason: "refused by the \(matcher.scope) directory: \(reason)"),
                    to: link, context)
            }
        }
    }

    // MARK: - Across hosts

    /// The host part of "host:port" ("" for anything else).
    private func host(of endpoint: SocketAddress) -> String {
        guard case .ipv4(let host, _) = endpoint else { return "" }
        return host
    }

    private func listenForBeacons(_ port: UInt16, _ context: Context) {
        do {
            beaconListener = try context.openDatagramSocket(port: port)
        } catch {
            context.runtime.logger.error(
                "cannot listen for LAN beacons", metadata: ["port": "\(port)", "reason": "\(error)"])
            return
        }
        joinBeaconGroup(context)
        context.startTimer(BeaconRejoin(), after: .milliseconds(500), repeating: true)
    }

    private func joinBeaconGroup(_ context: Context) {
        guard let beaconListener else { return }
        for interface in context.networkInterfaces() {
            try? context.joinMulticastGroup(LANBeacon.multicastGroup, interface: interface.address, on: beaconListener)
        }
    }

    /// A datagram on the beacon port: a LAN directory of this realm, or something ignored (said
    /// once per sender and reason, at most once a second).
    private func heardBeacon(_ datagram: DatagramReceived, _ context: Context) {
        guard case .ipv4(let host, _) = datagram.from else { return }
        let now = SystemAccess.wallClockSeconds()
        switch LANBeacon.decode(datagram.bytes, from: host, secret: context.runtime.realmSecret, now: now) {
        case .success(let beacon):
            guard beaconsTaken.firstSighting(of: beacon) else { return } // a copy: already heard
            heardOf("\(host):\(beacon.directoryPort)", context)
        case .failure(let why):
            let line = "\(host): \(why)"
            if line != lastIgnored && Deadline.now() >= lastIgnoredAt + .seconds(1) {
                context.runtime.logger.info("beacon ignored: \(line)")
                lastIgnoredAt = .now()
                lastIgnored = line
            }
        }
    }

    /// A beacon named a LAN directory. Two LAN directories of one realm on one network would split
    /// its hosts; the rule that decides, the same at every host: of those heard within
    /// ``lanSilence``, the lowest address (then port) wins. A host links to the winner, and moves
    /// to a lower one when it appears — said in the log and shown by `ansar network`.
    private func heardOf(_ text: String, _ context: Context) {
        guard let heard = try? SocketAddress(parsing: text) else { return }
        let now = Deadline.now()
        lanDirectoriesHeard[heard] = now
        lanDirectoriesHeard = lanDirectoriesHeard.filter { $0.value + Self.lanSilence >= now }
        while lanDirectoriesHeard.count > Self.lanDirectoriesKept,
            let oldest = lanDirectoriesHeard.min(by: { $0.value < $1.value })?.key
        {
            lanDirectoriesHeard[oldest] = nil
        }
        let heardNow = lanDirectoriesHeard.keys.sorted(by: Self.precedes)
        guard let winner = heardNow.first else { return }
        let heardSet = Set(heardNow)
        if heardNow.count > 1, heardSet != lastSplit {
            context.runtime.logger.warning(
                "split brain: \(heardNow.count) LAN directories of this realm heard; the lowest address wins",
                metadata: ["heard": "\(heardNow.map(\.description).joined(separator: ", "))", "winner": "\(winner)"])
        }
        lastSplit = heardSet
        guard winner != links.parent else { return }
        context.runtime.logger.info("LAN directory found", metadata: ["address": "\(winner)"])
        if let old = parentConnector { context.closeConnector(old) }
        if parent != nil {
            // Left for the winner: what was passed up goes to it once linked.
            parent = nil
            matcher.hasParent = false
        }
        links.parent = winner
        parentConnector = context.connect(to: winner, backoff: ProcessDirectory.groupBackoff)
    }

    /// How long a LAN directory counts as heard after its last beacon (beacons come every second).
    static let lanSilence = Duration.seconds(5)
    /// How many LAN directories a host keeps track of: beyond, the longest unheard is forgotten.
    static let lanDirectoriesKept = 16

    /// The rule's order: IPv4 addresses as numbers, then ports; anything else after, as text.
    static func precedes(_ a: SocketAddress, _ b: SocketAddress) -> Bool {
        func key(_ address: SocketAddress) -> (UInt64, String) {
            guard case .ipv4(let host, let port) = address else { return (UInt64.max, address.description) }
            let octets = host.split(separator: ".").compactMap { UInt64($0) }
            guard octets.count == 4, octets.allSatisfy({ $0 < 256 }) else { return (UInt64.max, address.description) }
            return (octets.reduce(0) { $0 << 8 | $1 } << 16 | UInt64(port), "")
        }
        return key(a) < key(b)
    }

    private func sendBeacon(_ context: Context) {
        guard let port = links.beaconPort, let listeningPort else { return }
        if beaconSender == nil { beaconSender = try? context.openDatagramSocket() }
        guard let socket = beaconSender else { return }
        let sent = LANBeacon.send(
            directoryPort: listeningPort, sentAt: SystemAccess.wallClockSeconds(), toPort: port,
            secret: context.runtime.realmSecret, interfaces: context.networkInterfaces()
        ) { bytes, host, interface in
            (try? context.sendDatagram(bytes, on: socket, to: host, port: port, interface: interface)) != nil
        }
        if sent == 0 { context.runtime.logger.debug("beacon went out of no interface") }
    }

    /// The message came over the link to the parent (what only the levels above may say).
    private func fromParent(_ context: Context) -> Bool {
        guard let parent, let link = context.returnAddress.link else { return false }
        return link == parent.link
    }

    /// A subscriber's process cannot reach the publisher's: the directory that matched them names
    /// a relay to both (each at the address it reaches this machine by), or says there is none.
    private func relay(_ wanted: RelayWanted, _ context: Context) {
        guard let session = sessions.values.first(where: { $0.id == wanted.session }) else {
            if let parent {
                tell(wanted, to: parent, context)
            } else if let member = ownerOf[wanted.entry], let link = memberAddress[member] {
                tell(Relayed(session: wanted.session, entry: wanted.entry, relay: nil, ticket: []), to: link, context)
            }
            return
        }
        let relay = links.relayKey == nil ? nil : links.relay
        let expiry = SystemAccess.wallClockSeconds() + UInt64(links.ticketLifetime.components.seconds)
        let tickets = links.relayKey.map {
            RelayTicket.issue(token: RelayTicket.newToken(), expiresAt: expiry, key: $0)
        }
        for (entry, ticket) in [(session.search, tickets?.client), (session.listing, tickets?.server)] {
            guard let member = ownerOf[entry], let link = memberAddress[member] else { continue }
            if relay == nil && entry == session.listing { continue }
            tell(
                Relayed(
                    session: wanted.session, entry: entry,
                    relay: relay.map { $0.replacingUnspecifiedHost(with: memberHosts[member]?.local ?? "") },
                    ticket: ticket ?? []),
                to: link, context)
        }
    }
}
