import ArgumentParser
import Platform
import ProcessShim
import PubSub

#if canImport(Glibc)
    import Glibc
#endif

// Identities and owned names in a home: each role's static key (`keys/ROLE`, issued here), and
// the realm's rules of who may publish and subscribe which names (`permissions.json`), which the
// directories started from this home enforce.

extension Home {
    /// The role's identity, issued now (written 0600) if it has none yet.
    func identity(of role: String) throws(ToolError) -> Identity {
        let path = layout.key(of: role)
        do {
            if SystemAccess.exists(path) { return try Identity(contentsOfFile: path) }
        } catch {
            throw ToolError("identity \(error): remove it and run `ansar identity \(role)` for a new one")
        }
        let identity = Identity.generate()
        do {
            try SystemAccess.makeDirectories("\(layout.path)/keys")
            try SystemAccess.writeFileAtomically(path, Array((identity.secretHex + "\n").utf8), mode: 0o600)
        } catch {
            throw ToolError("cannot issue an identity for \(role): \(error)")
        }
        return identity
    }

    /// The realm's permissions as this home keeps them; open when there is no file.
    func permissions() throws(ToolError) -> NamePermissions {
        let path = layout.permissions
        guard SystemAccess.exists(path) else { return .open }
        let permissions: NamePermissions
        do {
            permissions = try JSON(objectAt: path, limit: 4 << 20).decode(NamePermissions.self)
        } catch {
            throw ToolError("\(path) is corrupt (\(error)): fix it, or remove it to open every name")
        }
        guard permissions.rules.count <= NamePermissions.maximumRules else {
            throw ToolError("\(path) has \(permissions.rules.count) rules, more than \(NamePermissions.maximumRules)")
        }
        return permissions
    }

    func store(_ permissions: NamePermissions) throws(ToolError) {
        do {
            try JSON(encoding: permissions).store(at: layout.permissions)
        } catch {
            throw ToolError("cannot store \(layout.permissions): \(error)")
        }
    }
}

extension NamePermissions.Action: ExpressibleByArgument {}

/// What a grant or revoke names: the action, the prefix, and the members — roles of this home
/// (their keys, issued if need be) and keys given as text.
struct RuleArguments: ParsableArguments {
    @OptionGroup var home: HomeOption
    @Argument(help: "publish or subscribe.") var action: NamePermissions.Action
    @Argument(help: "The names' prefix (empty: every name).") var prefix: String
    @Argument(help: "Roles of this home.") var roles: [String] = []
    @Option(name: .customLong("key"), help: "An identity (64 hexadecimal digits) from elsewhere; repeatable.")
    var keys: [String] = []

    /// The members named, and the home's rules as they stand.
    func open() throws(ToolError) -> (Home, [NamePermissions.Member], NamePermissions) {
        let home = try Home.open(self.home.homePath)
        return (home, try members(of: home), try home.permissions())
    }

    func members(of home: Home) throws(ToolError) -> [NamePermissions.Member] {
        var members: [NamePermissions.Member] = []
        for role in roles {
            _ = try home.role(role) // a typo is not a grant to no one
            members.append(NamePermissions.Member(identity: try home.identity(of: role).publicKey, role: role))
        }
        for key in keys {
            guard let identity = PeerIdentity(hex: key) else {
                throw ToolError("--key \(key): expected 64 hexadecimal digits (`ansar identity ROLE` shows one)")
            }
            members.append(NamePermissions.Member(identity: identity))
        }
        return members
    }
}

/// Checks a prefix as a name would be (empty: every name): a grant on a prefix no name could
/// begin with is a typo.
private func checkedPrefix(_ prefix: String) throws(ToolError) -> String {
    guard !prefix.isEmpty else { return prefix }
    do throws(NameError) { _ = try ServiceName(prefix) } catch { throw ToolError("prefix: \(error)") }
    return prefix
}

struct IdentityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Show a role's identity (its public key), issuing one if it has none.",
        discussion: """
            Every role proves its identity in each handshake; `grant` gives names to identities. Example: \
            ansar identity pub
            """)
    @OptionGroup var home: HomeOption
    @Argument(help: "The role.") var role: String

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            _ = try home.role(role)
            print(try home.identity(of: role).publicKey)
        }
    }
}

struct Grant: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Let roles (or keys) publish or subscribe the names that begin with a prefix.",
        discussion: """
            Once a prefix has a rule, only the identities it lists may do that on its names (the longest \
            prefix that fits a name decides); names no rule covers stay open to every member. Directories \
            read the rules when they start. Example: ansar grant publish hello- pub
            """)
    @OptionGroup var rule: RuleArguments

    func run() throws {
        try perform { () throws(ToolError) in
            let (action, prefix) = (rule.action, try checkedPrefix(rule.prefix))
            var (home, members, permissions) = try rule.open()
            guard !members.isEmpty else { throw ToolError("grant \(action) \(prefix): name a role or a --key") }
            for member in members { permissions.grant(action, prefix: prefix, to: member) }
            guard permissions.rules.count <= NamePermissions.maximumRules else {
                throw ToolError("at most \(NamePermissions.maximumRules) rules")
            }
            try home.store(permissions)
            let who = members.map { $0.role ?? $0.identity.short }.joined(separator: ", ")
            print("granted \(action) on \"\(prefix)…\" to \(who)\(restartHint(home))")
        }
    }
}

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take a grant back from roles (or keys); with none named, remove the rule and open its names.",
        discussion: "Example: ansar revoke publish hello- pub")
    @OptionGroup var rule: RuleArguments

    func run() throws {
        try perform { () throws(ToolError) in
            let (action, prefix) = (rule.action, rule.prefix)
            var (home, members, permissions) = try rule.open()
            guard
                permissions.revoke(
                    action, prefix: prefix, from: members.isEmpty ? nil : members.map(\.identity))
            else { throw ToolError("no \(action) grant on \"\(prefix)\" for that: see `ansar permissions`") }
            try home.store(permissions)
            print(
                members.isEmpty
                    ? "removed the \(action) rule on \"\(prefix)…\": its names are open\(restartHint(home))"
                    : "revoked \(action) on \"\(prefix)…\" from \(members.map { $0.role ?? $0.identity.short }.joined(separator: ", "))\(restartHint(home))"
            )
        }
    }
}

struct Permissions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show who may publish and subscribe which names.",
        discussion: "Names no rule covers are open to every member of the realm.")
    @OptionGroup var home: HomeOption
    @Flag(help: "Print the rules as JSON.") var json = false

    func run() throws {
        try perform { () throws(ToolError) in
            let permissions = try Home.open(home.homePath).permissions()
            if json {
                do { print(try JSON(encoding: permissions).pretty) } catch { throw ToolError("\(error)") }
                return
            }
            guard !permissions.rules.isEmpty else { return print("no rules: every name is open to every member") }
            for rule in permissions.rules.sorted(by: {
                ($0.prefix, $0.action.rawValue) < ($1.prefix, $1.action.rawValue)
            }) {
                let who = rule.members.map { member in
                    member.role.map { "\($0) (\(member.identity.short))" } ?? member.identity.description
                }
                print("\(rule.action) \"\(rule.prefix)…\": \(who.isEmpty ? "no one" : who.joined(separator: ", "))")
            }
        }
    }
}

/// The running group's directory and this home's directory daemons take the new rules at once:
/// what to add to the command's line.
private func restartHint(_ home: Home) -> String {
    var said = ""
    if home.runningGroup() != nil {
        do {
            said += "; " + (try RunnerRequest.send(.permissions, role: "", to: home))
        } catch {
            said += "; the running group did not take them (\(error)): `ansar stop; ansar start` to apply"
        }
    }
    let daemons = DirectoryLevel.allCases.compactMap { level -> Int32? in
        guard let json = try? JSON(objectAt: "\(home.path)/tmp/\(level.stem).json"),
            case .integer(let pid)? = json["pid"],
            ChildProcess.isAlive(Int32(pid))
        else { return nil }
        return Int32(pid)
    }
    for pid in daemons { ChildProcess.signal(pid, SIGHUP) }
    if !daemons.isEmpty { said += "; \(daemons.count) directory daemon\(daemons.count == 1 ? "" : "s") told" }
    return said
}
