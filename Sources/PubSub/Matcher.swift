/// The matching logic of every directory level, without sockets: fed listings, searches and lost
/// members, it answers with the sessions to open and close and what to pass up. The same value
/// serves a process (members are objects), a group (members are processes), a host (groups)…
///
/// Rules:
/// - An entry is kept only if its requested scope reaches this directory's scope.
/// - An entry whose requested scope reaches further is passed up (``Action/forward(_:)``) when
///   this directory has a parent.
/// - A listing and a search match here when the search matches the name and they came from
///   different members — two entries of one member were already matched below — or this is the
///   lowest level, where members are the objects themselves.
/// - Several listings of one name are all kept; each matching search gets each of them.
///
/// Not `Sendable`: it holds its pattern searches compiled, and a directory keeps it on its own
/// thread.
public struct Matcher {
    /// Who gave the directory an entry: an object, or a link to a directory below. Opaque here.
    public typealias Member = UInt64

    /// A match: a listing's id and a search's, the key of the session every directory keeps for it.
    public struct Pair: Hashable, Sendable {
        public let listing: UInt64
        public let search: UInt64

        public init(listing: UInt64, search: UInt64) {
            self.listing = listing
            self.search = search
        }
    }

    /// A listing or a search, as the directory keeps it. Identifiers are unique across the whole
    /// system (random 64 bits): a restarted publisher lists under a new one.
    public struct Entry: Hashable, Sendable {
        public enum Kind: Hashable, Sendable {
            case listing(ServiceName)
            case search(Search)
        }
        public let id: UInt64
        public let kind: Kind
        public let scope: Scope
        public let member: Member

        public init(id: UInt64, kind: Kind, scope: Scope, member: Member) {
            self.id = id
            self.kind = kind
            self.scope = scope
            self.member = member
        }
    }

    /// What the owner must do.
    public enum Action: Hashable, Sendable {
        /// A session should exist between this listing and this search.
        case open(listing: Entry, search: Entry)
        /// The session between them should end: one of them went.
        case close(listing: Entry, search: Entry)
        /// Pass this entry to the parent directory.
        case forward(Entry)
        /// Take this entry back from the parent directory.
        case withdraw(Entry)
    }

    public let scope: Scope
    /// Whether entries that reach further are passed up.
    public var hasParent: Bool
    private(set) var entries: [UInt64: Entry] = [:]
    /// The pattern searches' expressions, compiled once when the search is added rather than at
    /// every match (matching runs on the directory's thread, once per entry pair).
    private var patterns: [UInt64: Regex<Substring>] = [:]

    public init(scope: Scope, hasParent: Bool = false) {
        self.scope = scope
        self.hasParent = hasParent
    }

    public var listings: [Entry] { entries.values.filter { if case .listing = $0.kind { true } else { false } } }
    public var searches: [Entry] { entries.values.filter { if case .search = $0.kind { true } else { false } } }

    /// Adds a listing or a search; a second add of one identifier changes nothing.
    public mutating func add(_ entry: Entry) -> [Action] {
        guard entry.scope >= scope, entries[entry.id] == nil else { return [] }
        entries[entry.id] = entry
        if case .search(.pattern(let text)) = entry.kind { patterns[entry.id] = try? Regex(text, as: Substring.self) }
        var actions: [Action] = []
        for other in entries.values where other.id != entry.id && matchHere(entry, other) {
            actions.append(pair(entry, other, open: true))
        }
        if hasParent && entry.scope > scope { actions.append(.forward(entry)) }
        return actions.sorted(by: Self.order)
    }

    /// Removes an entry: its sessions close, and the parent is told.
    public mutating func remove(_ id: UInt64) -> [Action] {
        guard let entry = entries.removeValue(forKey: id) else { return [] }
        var actions: [Action] = []
        for other in entries.values where matchHere(entry, other) {
            actions.append(pair(entry, other, open: false))
        }
        patterns[id] = nil
        if hasParent && entry.scope > scope { actions.append(.withdraw(entry)) }
        return actions.sorted(by: Self.order)
    }

    /// The entry now belongs to `member`: the same entry came again from there (its owner linked
    /// anew before the old link was noticed gone). Its sessions stand; nothing is matched anew.
    public mutating func move(_ id: UInt64, to member: Member) {
        guard let entry = entries[id] else { return }
        entries[id] = Entry(id: id, kind: entry.kind, scope: entry.scope, member: member)
    }

    /// A member went (an object ended, a link broke): everything it gave goes.
    public mutating func lose(_ member: Member) -> [Action] {
        let gone = entries.values.filter { $0.member == member }.map(\.id).sorted()
        return gone.flatMap { remove($0) }
    }

    /// The parent appeared (or came back): everything that reaches further is passed up again.
    public mutating func parentLinked() -> [Action] {
        hasParent = true
        return entries.values.filter { $0.scope > scope }.sorted { $0.id < $1.id }.map { .forward($0) }
    }

    private func matchHere(_ a: Entry, _ b: Entry) -> Bool {
        guard a.member != b.member || scope == .process else { return false }
        switch (a.kind, b.kind) {
        case (.listing(let name), .search(.pattern)):
            return patterns[b.id].map { (try? $0.wholeMatch(in: name.text)) != nil } ?? false
        case (.search(.pattern), .listing(let name)):
            return patterns[a.id].map { (try? $0.wholeMatch(in: name.text)) != nil } ?? false
        case (.listing(let name), .search(let search)), (.search(let search), .listing(let name)):
            return search.matches(name)
        default: return false
        }
    }

    private func pair(_ a: Entry, _ b: Entry, open: Bool) -> Action {
        let (listing, search) = if case .listing = a.kind { (a, b) } else { (b, a) }
        return open ? .open(listing: listing, search: search) : .close(listing: listing, search: search)
    }

    /// A stable order for actions, so that owners and tests see the same sequence every time.
    private static func order(_ a: Action, _ b: Action) -> Bool { a.sortKey < b.sortKey }
}

extension Matcher.Action {
    fileprivate var sortKey: (Int, UInt64, UInt64) {
        switch self {
        case .open(let listing, let search): return (0, listing.id, search.id)
        case .close(let listing, let search): return (1, listing.id, search.id)
        case .forward(let entry): return (2, entry.id, 0)
        case .withdraw(let entry): return (3, entry.id, 0)
        }
    }
}
