/// Where things live in a home, spelled once for the process shim (which reads a role's settings,
/// input, secret and lock) and the `ansar` command (which makes and fills homes). The layout
/// itself is described in `docs/ansar.md`.
public struct HomeLayout: Sendable, Equatable {
    public static let defaultPath = ".ansar-home"
    public static let folders = [
        "bin", "roles", "settings", "input", "logs", "resource", "model", "locks", "tmp", "keys",
    ]

    public let path: String

    public init(_ path: String) { self.path = path }

    /// The role files a home keeps, each in the folder of that name.
    public enum RoleFile: String, Sendable, CaseIterable {
        case settings, input
    }

    public var bin: String { "\(path)/bin" }
    public var secret: String { "\(path)/secret" }
    public var locks: String { "\(path)/locks" }
    /// A role's identity: its static key's secret half, 64 hexadecimal digits, mode 0600.
    public func key(of role: String) -> String { "\(path)/keys/\(role)" }
    /// Who may publish and subscribe which names (``NamePermissions`` as JSON); none: all open.
    public var permissions: String { "\(path)/permissions.json" }
    public func lock(of role: String) -> String { "\(locks)/\(role)" }
    public func entry(_ role: String) -> String { "\(path)/roles/\(role).json" }
    public func file(_ kind: RoleFile, of role: String) -> String { "\(path)/\(kind.rawValue)/\(role).json" }
    public func log(_ role: String) -> String { "\(path)/logs/\(role).log" }
    public func result(_ role: String) -> String { "\(path)/tmp/\(role).result" }
}

/// The flags a runner starts a role with, and the shim reads: one spelling for both.
public enum LaunchFlags {
    /// A role of the group in `home`, linked to the group's directory at `groupAddress`, printing
    /// its result as JSON.
    public static func forRole(_ role: String, home: HomeLayout, groupAddress: SocketAddress, debugLevel: String?)
        -> [String]
    {
        var flags = [
            "--\(homePath)=\(home.path)", "--\(roleName)=\(role)", "--\(groupAddressFlag)=\(groupAddress)",
            "--\(pureObject)",
        ]
        if let debugLevel { flags.append("--\(self.debugLevel)=\(debugLevel)") }
        return flags
    }

    static let homePath = "home-path"
    static let roleName = "role-name"
    static let groupAddressFlag = "group-address"
    static let pureObject = "pure-object"
    static let debugLevel = "debug-level"
}
