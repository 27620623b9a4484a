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
        /// Whose entry it is (its process's static key), judged by the ``NamePermissions``.
        public let identity: PeerIdentity?

        public init(id: UInt64, kind: Kind, scope: Scope, member: Member, identity: PeerIdentity? = nil) {
            self.id = id
            self.kind = kind
            self.scope = scope
            self.member = member
            self.identity = identity
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
        /// The entry was not taken (the directory is full, say): nothing else changed; its owner
        /// should be told why.
        case refuse(Entry, reason: String)
    }

    public let scope: Scope
    /// Whether entries that reach further are passed up.
    public var hasParent: Bool
    /// How many entries, and how many pattern searches among them, this directory keeps, in all
    /// and from one member (so that no member can take the directory for itself): an entry
    /// beyond any is refused (``Action/refuse(_:reason:)``) and nothing else changes.
    public let capacity: Int
    public let patternCapacity: Int
    public let capacityPerMember: Int
    public let patternsPerMember: Int
    /// Who may publish and subscribe what: a listing its identity may not publish is refused, and
    /// a search meets only the listings its identity may subscribe to.
    public private(set) var permissions: NamePermissions
    private(set) var entries: [UInt64: Entry] = [:]

    // Indexes, so that an entry meets only the entries it matches: a refill of n listings and n
    // searches costs about n lookups, not n² comparisons.
    /// Listings by name, and their distinct names in order (a prefix search reads a run of them).
    private var listingsNamed: [ServiceName: Set<UInt64>] = [:]
    private var sortedNames: [ServiceName] = []
    /// Exact searches by name; prefix searches by prefix, with how many use each prefix length.
    private var exactSearches: [ServiceName: Set<UInt64>] = [:]
    private var prefixSearches: [String: Set<UInt64>] = [:]
    private var prefixLengths: [Int: Int] = [:]
    /// The pattern searches' expressions, compiled once when the search is added (matching runs on
    /// the directory's thread). A new listing is tried against each: their number is bounded.
    private var patterns: [UInt64: NamePattern] = [:]
    private var entriesOf: [Member: Set<UInt64>] = [:]
    private var patternsOf: [Member: Int] = [:]

    public static let defaultCapacity = 100_000
    public static let defaultPatternCapacity = 1_000

    /// By default a member may hold a quarter of each bound.
    public init(
        scope: Scope, hasParent: Bool = false, capacity: Int = Matcher.defaultCapacity,
        patternCapacity: Int = Matcher.defaultPatternCapacity, capacityPerMember: Int? = nil,
        patternsPerMember: Int? = nil, permissions: NamePermissions = .open
    ) {
        self.permissions = permissions
        self.scope = scope
        self.hasParent = hasParent
        self.capacity = capacity
        self.patternCapacity = patternCapacity
        self.capacityPerMember = capacityPerMember ?? max(1, capacity / 4)
        self.patternsPerMember = patternsPerMember ?? max(1, patternCapacity / 4)
    }

    public var count: Int { entries.count }
    public var listings: [Entry] { entries.values.filter { if case .listing = $0.kind { true } else { false } } }
    public var searches: [Entry] { entries.values.filter { if case .search = $0.kind { true } else { false } } }

    /// Adds a listing or a search; a second add of one identifier changes nothing.
    public mutating func add(_ entry: Entry) -> [Action] {
        guard entry.scope >= scope, entries[entry.id] == nil else { return [] }
        guard entries.count < capacity else { return [.refuse(entry, reason: "directory full (\(capacity) entries)")] }
        guard entriesOf[entry.member, default: []].count < capacityPerMember else {
            return [.refuse(entry, reason: "too many entries from one member (\(capacityPerMember))")]
        }
        if let refusal = forbidden(entry) { return [.refuse(entry, reason: refusal)] }
        if case .search(.pattern(let text)) = entry.kind {
            guard patterns.count < patternCapacity else {
                return [.refuse(entry, reason: "directory full (\(patternCapacity) pattern searches)")]
            }
            guard patternsOf[entry.member, default: 0] < patternsPerMember else {
                return [.refuse(entry, reason: "too many pattern searches from one member (\(patternsPerMember))")]
            }
            do throws(NameError) {
                patterns[entry.id] = try NamePattern(text)
            } catch {
                return [.refuse(entry, reason: error.description)]
            }
        }
        var actions = matches(of: entry).map { pair(entry, $0, open: true) }
        index(entry)
        if hasParent && entry.scope > scope { actions.append(.forward(entry)) }
        return actions.sorted(by: Self.order)
    }

    /// Why the rules refuse `entry` outright (a listing, or an exact search), if they do.
    private func forbidden(_ entry: Entry) -> String? {
        switch entry.kind {
        case .listing(let name) where !permissions.allows(.publish, name, by: entry.identity):
            return "\(Self.who(entry)) may not publish \(name) (the realm's permissions)"
        case .search(.exact(let name)) where !permissions.allows(.subscribe, name, by: entry.identity):
            return "\(Self.who(entry)) may not subscribe to \(name) (the realm's permissions)"
        default: return nil
        }
    }

    /// New rules, while entries are held: an entry they refuse goes (its sessions close, the parent
    /// is told, its owner hears why), and a prefix or pattern search loses the listings it may no
    /// longer see and meets those it now may. A listing or search refused under the old rules was
    /// not kept: its owner gives it again to be judged by the new ones.
    public mutating func replacePermissions(_ new: NamePermissions) -> [Action] {
        let old = permissions
        permissions = new
        var actions: [Action] = []
        for entry in entries.values.sorted(by: { $0.id < $1.id }) {
            if let refusal = forbidden(entry) {
                actions += remove(entry.id)
                actions.append(.refuse(entry, reason: refusal))
            }
        }
        for search in entries.values.sorted(by: { $0.id < $1.id }) {
            switch search.kind {
            case .search(.prefix), .search(.pattern): break
            default: continue
            }
            let before = Set(matches(of: search, under: old).map(\.id))
            let now = matches(of: search, under: new)
            let after = Set(now.map(\.id))
            for listing in before.subtracting(after).sorted().compactMap({ entries[$0] }) {
                actions.append(pair(search, listing, open: false))
            }
            for listing in now where !before.contains(listing.id) { actions.append(pair(search, listing, open: true)) }
        }
        return actions.sorted(by: Self.order)
    }

    /// Removes an entry: its sessions close, and the parent is told.
    public mutating func remove(_ id: UInt64) -> [Action] {
        guard let entry = entries[id] else { return [] }
        unindex(entry)
        var actions = matches(of: entry).map { pair(entry, $0, open: false) }
        patterns[id] = nil
        if hasParent && entry.scope > scope { actions.append(.withdraw(entry)) }
        return actions.sorted(by: Self.order)
    }

    /// The entry now belongs to `member`: the same entry came again from there (its owner linked
    /// anew before the old link was noticed gone). Its sessions stand; nothing is matched anew.
    public mutating func move(_ id: UInt64, to member: Member) {
        guard let entry = entries[id] else { return }
        forget(entry, of: entry.member)
        entries[id] = Entry(id: id, kind: entry.kind, scope: entry.scope, member: member, identity: entry.identity)
        own(entry, by: member)
    }

    /// A member went (an object ended, a link broke): everything it gave goes.
    public mutating func lose(_ member: Member) -> [Action] {
        (entriesOf[member] ?? []).sorted().flatMap { remove($0) }
    }

    /// The parent appeared (or came back): everything that reaches further is passed up again.
    public mutating func parentLinked() -> [Action] {
        hasParent = true
        return entries.values.filter { $0.scope > scope }.sorted { $0.id < $1.id }.map { .forward($0) }
    }

    /// The entries `entry` matches here, found through the indexes (`entry` itself not indexed).
    /// Two entries of one member were matched below already, except at the lowest level, where
    /// members are the objects themselves.
    private func matches(of entry: Entry) -> [Entry] { matches(of: entry, under: permissions) }

    private func matches(of entry: Entry, under rules: NamePermissions) -> [Entry] {
        var found: [UInt64] = []
        switch entry.kind {
        case .listing(let name):
            found += exactSearches[name] ?? []
            let bytes = name.text.utf8
            for length in prefixLengths.keys where length <= bytes.count {
                found += prefixSearches[String(decoding: bytes.prefix(length), as: UTF8.self)] ?? []
            }
            for (id, pattern) in patterns where pattern.matches(name.text) { found.append(id) }
        case .search(.exact(let name)):
            found += listingsNamed[name] ?? []
        case .search(.prefix(let prefix)):
            var at = lowerBound(of: prefix)
            while at < sortedNames.count, sortedNames[at].text.hasPrefix(prefix) {
                found += listingsNamed[sortedNames[at]] ?? []
                at += 1
            }
        case .search(.pattern):
            guard let pattern = patterns[entry.id] else { break }
            for name in sortedNames where pattern.matches(name.text) {
                found += listingsNamed[name] ?? []
            }
        }
        return found.compactMap { entries[$0] }.filter { other in
            (other.member != entry.member || scope == .process) && Self.mayMeet(entry, other, under: rules)
        }
    }

    /// Whether the search of the two may see the listing: a prefix or pattern search meets only
    /// the names its identity may subscribe to.
    private static func mayMeet(_ a: Entry, _ b: Entry, under rules: NamePermissions) -> Bool {
        let (listing, search) = if case .listing = a.kind { (a, b) } else { (b, a) }
        guard case .listing(let name) = listing.kind else { return false }
        return rules.allows(.subscribe, name, by: search.identity)
    }

    /// An entry's identity as a log line shows it.
    static func who(_ entry: Entry) -> String {
        entry.identity.map { "identity \($0.short)" } ?? "a member without an identity"
    }

    private mutating func index(_ entry: Entry) {
        entries[entry.id] = entry
        own(entry, by: entry.member)
        switch entry.kind {
        case .listing(let name):
            if listingsNamed[name] == nil { sortedNames.insert(name, at: lowerBound(of: name.text)) }
            listingsNamed[name, default: []].insert(entry.id)
        case .search(.exact(let name)):
            exactSearches[name, default: []].insert(entry.id)
        case .search(.prefix(let prefix)):
            prefixSearches[prefix, default: []].insert(entry.id)
            prefixLengths[prefix.utf8.count, default: 0] += 1
        case .search(.pattern):
            break // kept in `patterns`
        }
    }

    private mutating func unindex(_ entry: Entry) {
        entries[entry.id] = nil
        forget(entry, of: entry.member)
        switch entry.kind {
        case .listing(let name):
            listingsNamed[name]?.remove(entry.id)
            if listingsNamed[name]?.isEmpty == true {
                listingsNamed[name] = nil
                sortedNames.remove(at: lowerBound(of: name.text))
            }
        case .search(.exact(let name)):
            exactSearches[name]?.remove(entry.id)
            if exactSearches[name]?.isEmpty == true { exactSearches[name] = nil }
        case .search(.prefix(let prefix)):
            prefixSearches[prefix]?.remove(entry.id)
            if prefixSearches[prefix]?.isEmpty == true { prefixSearches[prefix] = nil }
            let length = prefix.utf8.count
            prefixLengths[length, default: 1] -= 1
            if prefixLengths[length] == 0 { prefixLengths[length] = nil }
        case .search(.pattern):
            break
        }
    }

    private mutating func forget(_ entry: Entry, of member: Member) {
        entriesOf[member]?.remove(entry.id)
        if entriesOf[member]?.isEmpty == true { entriesOf[member] = nil }
        if case .search(.pattern) = entry.kind {
            patternsOf[member, default: 1] -= 1
            if patternsOf[member] == 0 { patternsOf[member] = nil }
        }
    }

    private mutating func own(_ entry: Entry, by member: Member) {
        entriesOf[member, default: []].insert(entry.id)
        if case .search(.pattern) = entry.kind { patternsOf[member, default: 0] += 1 }
    }

    /// The first place in `sortedNames` whose name is not below `text` (byte order: names are ASCII).
    private func lowerBound(of text: String) -> Int {
        var (low, high) = (0, sortedNames.count)
        while low < high {
            let middle = (low + high) / 2
            if sortedNames[middle].text < text { low = middle + 1 } else { high = middle }
        }
        return low
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
        case .refuse(let entry, _): return (4, entry.id, 0)
        }
    }
}
