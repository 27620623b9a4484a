/// The accepted connections that have not yet proved they hold the realm secret: bounded per
/// listener and per source address, so that strangers who connect and then say nothing (a
/// slowloris) cannot fill the socket table or keep members out. A source over its share is refused
/// at once; a listener at its cap lets its oldest unproved connection go for the newcomer, so an
/// honest peer, whose handshake takes a round trip, gets through however many idle ones arrive.
/// Sans-I/O: the transport closes what it is told to.
public struct PendingHandshakes {
    /// The bounds.
    public struct Configuration: Sendable {
        /// Unproved connections one listener keeps at once.
        public var perListener = 128
        /// Unproved connections from one IP address at once (TCP; a Unix socket's peers share
        /// the listener's bound).
        public var perSource = 8

        public init() {}
    }

    /// What to do with a connection just accepted.
    enum Admission: Equatable {
        case admit
        /// Admit it, and close this older unproved one of the same listener.
        case admitEvicting(ConnectionID)
        /// Close it now: its source has its share.
        case refuse
    }

    let configuration: Configuration
    /// Per listener, its unproved connections, oldest first.
    private var byListener: [ListenerID: [ConnectionID]] = [:]
    private var bySource: [String: Int] = [:]
    private var pending: [ConnectionID: (listener: ListenerID, source: String?)] = [:]

    init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// How many wait, in all.
    var count: Int { pending.count }

    /// A connection accepted on `listener` from `source` (nil: not an IP peer).
    mutating func admit(_ id: ConnectionID, listener: ListenerID, source: String?) -> Admission {
        if let source, bySource[source, default: 0] >= configuration.perSource { return .refuse }
        var evicted: ConnectionID?
        if let oldest = byListener[listener]?.first, byListener[listener]!.count >= configuration.perListener {
            evicted = oldest
            ended(oldest)
        }
        pending[id] = (listener, source)
        byListener[listener, default: []].append(id)
        if let source { bySource[source, default: 0] += 1 }
        return evicted.map(Admission.admitEvicting) ?? .admit
    }

    /// It proved itself, or it closed: no longer counted.
    mutating func ended(_ id: ConnectionID) {
        guard let (listener, source) = pending.removeValue(forKey: id) else { return }
        byListener[listener]?.removeAll { $0 == id }
        if byListener[listener]?.isEmpty == true { byListener[listener] = nil }
        if let source {
            bySource[source, default: 1] -= 1
            if bySource[source] == 0 { bySource[source] = nil }
        }
    }
}
