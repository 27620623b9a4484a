import Actors

/// Who may publish and who may subscribe which names in a realm: owned names.
///
/// A rule gives one action on the names that begin with a prefix to a set of identities. For a
/// name, the rules of the longest prefix it begins with decide: the identities they list may, and
/// no one else. A name no rule covers is open to every member, so a realm without rules (the
/// default, and every home made before them) works as before. Every directory enforces the rules
/// it was given: a listing by an identity that may not publish its name is refused, and a search
/// meets only the listings its identity may subscribe to.
public struct NamePermissions: Sendable, Equatable, Codable {
    public enum Action: String, Sendable, Codable, CaseIterable {
        case publish, subscribe
    }

    /// One grant: `action` on names beginning with `prefix`, to these identities.
    public struct Rule: Sendable, Equatable, Codable {
        public var action: Action
        public var prefix: String
        /// Each identity, with the name of the role it was issued to, if any (for people reading).
        public var members: [Member]

        public init(action: Action, prefix: String, members: [Member]) {
            self.action = action
            self.prefix = prefix
            self.members = members
        }
    }

    /// An identity a rule lists.
    public struct Member: Sendable, Equatable, Codable {
        public var identity: PeerIdentity
        public var role: String?

        public init(identity: PeerIdentity, role: String? = nil) {
            self.identity = identity
            self.role = role
        }

        enum CodingKeys: String, CodingKey { case key, role }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let text = try container.decode(String.self, forKey: .key)
            guard let identity = PeerIdentity(hex: text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .key, in: container, debugDescription: "an identity is 64 hexadecimal digits")
            }
            self.identity = identity
            role = try container.decodeIfPresent(String.self, forKey: .role)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(identity.description, forKey: .key)
            try container.encodeIfPresent(role, forKey: .role)
        }
    }

    public var rules: [Rule]

    /// Bounds, so a permissions file cannot make every match slow.
    public static let maximumRules = 4_096

    /// No rules: every member may publish and subscribe every name.
    public static let open = NamePermissions(rules: [])

    public init(rules: [Rule]) { self.rules = rules }

    /// Whether `identity` may do `action` on `name`. An entry with no identity (one made in this
    /// process, which its own directory takes) is judged as no member: it may only what is open.
    public func allows(_ action: Action, _ name: ServiceName, by identity: PeerIdentity?) -> Bool {
        var longest = -1
        var allowed = true
        for rule in rules where rule.action == action && name.text.hasPrefix(rule.prefix) {
            let listed = identity.map { identity in rule.members.contains { $0.identity == identity } } ?? false
            let length = rule.prefix.utf8.count
            if length > longest {
                (longest, allowed) = (length, listed)
            } else if length == longest {
                allowed = allowed || listed
            }
        }
        return allowed
    }

    /// Gives `action` on `prefix` to `member` (a second grant of the same identity replaces its
    /// role's name).
    public mutating func grant(_ action: Action, prefix: String, to member: Member) {
        if let index = rules.firstIndex(where: { $0.action == action && $0.prefix == prefix }) {
            rules[index].members.removeAll { $0.identity == member.identity }
            rules[index].members.append(member)
        } else {
            rules.append(Rule(action: action, prefix: prefix, members: [member]))
        }
    }

    /// Takes `action` on `prefix` back from `identities`, or the whole rule (the names open
    /// again) when `identities` is nil. False when there was nothing to take back.
    public mutating func revoke(_ action: Action, prefix: String, from identities: [PeerIdentity]?) -> Bool {
        guard let index = rules.firstIndex(where: { $0.action == action && $0.prefix == prefix }) else { return false }
        guard let identities else {
            rules.remove(at: index)
            return true
        }
        let before = rules[index].members.count
        rules[index].members.removeAll { identities.contains($0.identity) }
        let changed = rules[index].members.count != before
        // A rule with no one left still owns its names: nobody may. Say so by keeping it.
        return changed
    }
}
