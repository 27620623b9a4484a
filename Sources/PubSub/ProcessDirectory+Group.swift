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
                sessionObject: factories[entry.id] != nil, identity: context.runtime.identity)
        case .search(let search):
            up = EntryUp(
                id: entry.id, name: nil, search: search, scope: entry.scope, object: owner.object, endpoint: endpoint,
                identity: context.runtime.identity)
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
            } else if let key = connectors.removeValue(forKey: connected.connector) {
                perform(table.peerConnected(key, link: context.returnAddress, in: world(context)), context)
            }
        // Else the publisher's end of a relayed connection: the subscriber's hello comes over it.
        case let failed as NotConnected:
            guard failed.requested != groupAddress, let key = connectors.removeValue(forKey: failed.connector) else {
                return
            }
            perform(table.peerFailed(key, reason: failed.reason, now: .now(), in: world(context)), context)
        case let relayed as Relayed:
            perform(
                table.relayed(relayed, from: context.returnAddress.link, now: .now(), in: world(context)), context)
        case is RelayOverdue:
            perform(table.relayOverdue(now: .now(), in: world(context)), context)
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
            guard context.returnAddress.link != nil, context.returnAddress.link == group?.link else {
                return refuse("OpenSession from a link not the group's", context)
            }
            perform(table.openRequested(open, now: .now(), in: world(context)), context)
        case let hello as SessionHello:
            perform(table.hello(hello, from: context.returnAddress, in: world(context)), context)
        case let accepted as SessionAccepted:
            perform(table.accepted(accepted, from: context.returnAddress.link), context)
        case let close as CloseSession:
            perform(
                table.closeReceived(close, from: context.returnAddress.link, now: .now(), in: world(context)), context)
        case let kept as SessionKept:
            perform(table.keptReceived(kept, from: context.returnAddress.link), context)
        case is ReopenDue:
            perform(table.reopenDue(now: .now(), in: world(context)), context)
        case is DoubtDue:
            perform(table.doubtDue(now: .now(), in: world(context)), context)
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
        perform(table.linkLost(link, unconfirmed: unconfirmed, now: .now(), in: world(context)), context)
    }
}
