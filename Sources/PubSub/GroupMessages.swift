import Actors

// The directory protocol between a process and the directory above it, and between the two
// processes of a session. Listings and searches travel with what a peer needs to reach their
// owner directly: the owner's object number and its process's peer endpoint.

/// A listing or a search passed up to a directory.
struct EntryUp: Message, Equatable {
    static let typeName = "ansar.pubsub.EntryUp"
    var id: UInt64
    var name: ServiceName?
    var search: Search?
    var scope: Scope
    /// The publishing or subscribing object, by number in its process.
    var object: UInt64
    /// Where its process accepts peer connections from its own host (an abstract Unix socket).
    var endpoint: SocketAddress
    /// For a listing at LAN or WAN scope: where its process accepts connections from other hosts
    /// (TCP). The process knows only its port ("0.0.0.0:port"); the first directory that hears it
    /// over the network puts in the address it came from.
    var network: SocketAddress? = nil
    /// A listing whose publisher runs a session object per session: the subscriber's process
    /// waits for ``SessionAccepted`` before it announces the session.
    var sessionObject = false
    /// Who the owner's process is: the static key its links prove. The group directory writes
    /// in the one its member's link proved, whatever the entry says; a directory above fills it in
    /// only when it is missing. A subscriber's process takes the publisher's only if it proves it.
    var identity: PeerIdentity? = nil

    var kind: Matcher.Entry.Kind? {
        if let name { return .listing(name) }
        if let search { return .search(search) }
        return nil
    }
}

/// An entry taken back.
struct EntryDown: Message {
    static let typeName = "ansar.pubsub.EntryDown"
    var id: UInt64
}

/// From a directory down to the member that gave an entry: it was not taken there (the directory
/// is full, say); the owner hears ``NotPublished`` or ``NotSubscribed`` with the reason, and the
/// entry stays listed below.
struct EntryRefused: Message {
    static let typeName = "ansar.pubsub.EntryRefused"
    var id: UInt64
    var reason: String
}

/// From a directory to the subscriber's process: connect to the publisher's process and open
/// this session.
struct OpenSession: Message, Equatable {
    static let typeName = "ansar.pubsub.OpenSession"
    var session: UInt64
    var listing: EntryUp
    var search: EntryUp
    var scope: Scope

    /// The listing and search it matched: however often directories match them, one session.
    var pair: Matcher.Pair { Matcher.Pair(listing: listing.id, search: search.id) }
}

/// A session is over (from the directory, or from the process at the other end).
struct CloseSession: Message {
    static let typeName = "ansar.pubsub.CloseSession"
    var session: UInt64
    var reason: String
    /// From a directory: the entry of the end being told, so directories between can route it.
    var entry: UInt64? = nil
}

/// From a subscriber's process that cannot reach a publisher's: asks, up the lineage, the
/// directory that matched the session for a relay.
struct RelayWanted: Message {
    static let typeName = "ansar.pubsub.RelayWanted"
    var session: UInt64
    /// The subscriber's entry: where the answer goes back down.
    var entry: UInt64
}

/// From the directory that matched a session, down to each end's process: meet at this relay,
/// showing it this ticket (``RelayTicket``, this end's). No relay means there is none: the
/// subscriber gives up (NotAvailable).
struct Relayed: Message {
    static let typeName = "ansar.pubsub.Relayed"
    var session: UInt64
    /// The entry of the end being told, so directories between can route it.
    var entry: UInt64
    var relay: SocketAddress?
    var ticket: [UInt8]
}

/// From the subscriber's process to the publisher's, over their direct connection.
struct SessionHello: Message {
    static let typeName = "ansar.pubsub.SessionHello"
    var session: UInt64
    var name: ServiceName
    var search: Search
    var scope: Scope
    var publisher: UInt64
    var listing: UInt64
    /// The subscriber, or its session object.
    var subscriber: Address
}

/// From the subscriber's process to the publisher's: a directory matched a running session's pair
/// again, under `matchedAs` (it had lost sight of one end for a moment). The session carries on
/// at both ends; a directory's close of it under an older number is stale.
struct SessionKept: Message {
    static let typeName = "ansar.pubsub.SessionKept"
    var session: UInt64
    var matchedAs: UInt64
}

/// From the publisher's process: the session object that speaks for the publisher.
struct SessionAccepted: Message {
    static let typeName = "ansar.pubsub.SessionAccepted"
    var session: UInt64
    var publisherSide: Address
}

/// A subscriber's match could not be reached (the reason says why). Its process keeps trying while
/// the directory still matches the two; `Available` follows if it gets through.
public struct NotAvailable: Message, Equatable {
    public static let typeName = "ansar.pubsub.NotAvailable"
    public var name: ServiceName
    public var reason: String
}

/// Asks a directory what it holds (`ansar network`).
public struct NetworkEnquiry: Message {
    public static let typeName = "ansar.pubsub.NetworkEnquiry"
    public init() {}
}

/// A directory's answer: its level, where it listens, its parent link, and what it holds.
public struct NetworkReport: Message, Equatable {
    public static let typeName = "ansar.pubsub.NetworkReport"
    public var scope: Scope
    public var address: String
    /// The directory above, if linked; nil for none.
    public var parent: String?
    /// Where this directory's relay is, if it offers one (WAN directories).
    public var relay: String? = nil
    public var parentLinked: Bool
    public var members: Int
    /// Listed names and searches, with their requested scope.
    public var listings: [String]
    public var searches: [String]
    public var sessions: Int
    /// At a host directory that finds its parent by beacon: the LAN directories of the realm it
    /// hears, the winner first. More than one is a split brain.
    public var lanDirectoriesHeard: [String] = []
    /// The reports of the directories above, nearest first: the lineage.
    public var above: [NetworkReport] = []
}
