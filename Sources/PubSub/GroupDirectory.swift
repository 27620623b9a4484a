import Actors
import Reactor
import Transport

/// The directory of a process group: it listens where the group's processes are told to connect
/// (`--group-address`), keeps the listings and searches they pass up, and when a listing and a
/// search of different processes match, asks the subscriber's process to open the session with
/// the publisher's — directly, the directory carries no session traffic. A process that goes
/// (its link breaks or falls silent past the keep-alive) takes its entries with it, and the other
/// ends of its sessions are told.
public final class GroupDirectory: Object {
    private let address: SocketAddress
    private var directory = Directory(scope: .group)
    /// Each member process, by the address of its directory at the far end of its link.
    private var members: [Address: Directory.Member] = [:]
    private var memberAddress: [Directory.Member: Address] = [:]
    private var nextMember: Directory.Member = 1
    private var details: [UInt64: EntryUp] = [:]
    private var sessions: [Pair: (id: UInt64, publisher: Directory.Member, subscriber: Directory.Member)] = [:]
    private var random = SystemRandomNumberGenerator()

    private struct Pair: Hashable {
        let listing: UInt64
        let search: UInt64
    }

    public static var messageTypes: [any Message.Type] { [EntryUp.self, EntryDown.self] }

    /// A directory that will listen on `address` once created.
    public init(listening address: SocketAddress) {
        self.address = address
    }

    public func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start:
            context.listen(at: address)
        case is Accepted:
            member(context.returnAddress)
        case let up as EntryUp:
            guard let kind = up.kind else { return }
            let member = member(context.returnAddress)
            details[up.id] = up
            apply(directory.add(Directory.Entry(id: up.id, kind: kind, scope: up.scope, member: member)), context)
        case let down as EntryDown:
            details[down.id] = nil
            apply(directory.remove(down.id), context)
        case is Abandoned, is Closed:
            guard let member = members.removeValue(forKey: context.returnAddress) else { return }
            memberAddress[member] = nil
            apply(directory.lose(member), context)
        case is Stop:
            context.complete(Ack())
        default:
            break
        }
    }

    @discardableResult
    private func member(_ link: Address) -> Directory.Member {
        if let known = members[link] { return known }
        let member = nextMember
        nextMember += 1
        members[link] = member
        memberAddress[member] = link
        return member
    }

    private func apply(_ actions: [Directory.Action], _ context: Context) {
        for action in actions {
            switch action {
            case .open(let listing, let search):
                guard let listed = details[listing.id], let searching = details[search.id], let subscriber = memberAddress[search.member] else { continue }
                var id: UInt64 = 0
                while id == 0 { id = random.next() }
                sessions[Pair(listing: listing.id, search: search.id)] = (id, listing.member, search.member)
                tell(OpenSession(session: id, listing: listed, search: searching, scope: .group), to: subscriber, context)
            case .close(let listing, let search):
                guard let session = sessions.removeValue(forKey: Pair(listing: listing.id, search: search.id)) else { continue }
                // Whichever end is still here hears it; its process tells its object.
                for member in [session.publisher, session.subscriber] {
                    guard let link = memberAddress[member] else { continue }
                    let reason = member == session.publisher ? "subscriber gone" : "publisher gone"
                    tell(CloseSession(session: session.id, reason: reason), to: link, context)
                }
            case .forward, .withdraw:
                break  // no directory above a group yet
            }
        }
    }

    private func tell(_ message: some Message, to address: Address, _ context: Context) {
        do {
            try context.send(message, to: address)
        } catch {
            context.runtime.logger.warning("group directory message not delivered", metadata: ["to": "\(address)", "reason": "\(error)"])
        }
    }
}
