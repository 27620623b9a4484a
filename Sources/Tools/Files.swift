import ArgumentParser
import Platform
import ProcessShim

#if canImport(Glibc)
    import Glibc
#endif

/// The role files `set` and `get` handle.
typealias RoleFile = HomeLayout.RoleFile
extension HomeLayout.RoleFile: ExpressibleByArgument {}

struct SetFile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Store a role's settings or input from a JSON file (checked before it replaces anything).",
        discussion: "Example: ansar set settings sub --file sub.json")
    @OptionGroup var home: HomeOption
    @Argument(help: "settings or input") var kind: RoleFile
    @Argument(help: "The role.") var role: String
    @Option(help: "The JSON file to store.") var file: String

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            _ = try home.role(role)
            let json: JSON
            do {
                json = try JSON(objectAt: file)
            } catch {
                throw ToolError("\(file): \(error); nothing was stored")
            }
            try home.store(json, kind, for: role)
        }
    }
}

struct GetFile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Print a role's stored settings or input (`{}` if none).",
        discussion: "Example: ansar get settings sub")
    @OptionGroup var home: HomeOption
    @Argument(help: "settings or input") var kind: RoleFile
    @Argument(help: "The role.") var role: String

    func run() throws {
        try perform { () throws(ToolError) in try showRoleFile(kind, homePath: home.homePath, role: role) }
    }
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a role's last runs: when, for how long, how it ended.", discussion: "Example: ansar history sub"
    )
    @OptionGroup var home: HomeOption
    @Argument(help: "The role.") var role: String

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            _ = try home.role(role)
            let now = SystemAccess.wallClock()
            for (index, run) in home.history(role).enumerated() {
                guard case .double(let started)? = run["started"], case .double(let ended)? = run["ended"],
                    case .string(let outcome)? = run["outcome"]
                else { continue }
                print(
                    """
                    [\(index)] \(String(format1: now - started))s ago ... \(String(format1: ended - started))s \
                    (\(outcome))
                    """
                )
            }
        }
    }
}

struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Edit a role's settings or input with $EDITOR; stored only if it is still valid JSON.",
        discussion: "Example: EDITOR=nano ansar edit settings sub")
    @OptionGroup var home: HomeOption
    @Argument(help: "settings or input") var kind: RoleFile
    @Argument(help: "The role.") var role: String

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            _ = try home.role(role)
            let stored = home.file(kind, of: role)
            let draft = "\(home.path)/tmp/\(kind.rawValue)-\(role).edit.json"
            let current = (try? SystemAccess.readSmallFile(stored, limit: 16 << 20).bytes) ?? Array("{}\n".utf8)
            do {
                try SystemAccess.writeFileAtomically(draft, current, mode: 0o600)
            } catch {
                throw ToolError("cannot prepare \(draft): \(error)")
            }
            defer { ChildProcess.remove(draft) }
            let environment = ChildProcess.currentEnvironment()
            let editor = environment["VISUAL"] ?? environment["EDITOR"] ?? "vi"
            // Through the shell, so that EDITOR may carry arguments ("code -w"); on this terminal.
            guard
                let pid = try? ChildProcess.spawn(
                    "/bin/sh", arguments: ["-c", "\(editor) \"$0\"", draft], environment: environment, stdout: nil,
                    stderr: nil)
            else { throw ToolError("cannot start the editor \(editor): set EDITOR") }
            let exit = ChildProcess.wait(pid)
            guard exit == .code(0) else { throw ToolError("the editor ended with \(exit): nothing was stored") }
            let edited: JSON
            do {
                edited = try JSON(objectAt: draft)
            } catch {
                throw ToolError("the edited \(kind.rawValue) are not valid (\(error)): nothing was stored")
            }
            try home.store(edited, kind, for: role)
        }
    }
}

struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy every role's settings and input out of the home into a folder.",
        discussion: "Example: ansar snapshot saved")
    @OptionGroup var home: HomeOption
    @Argument(help: "The folder to copy into (made if need be).") var folder: String

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            for kind in RoleFile.allCases {
                let source = "\(home.path)/\(kind.rawValue)"
                for name in ChildProcess.files(in: source) ?? [] where name.hasSuffix(".json") {
                    do {
                        try SystemAccess.makeDirectories("\(folder)/\(kind.rawValue)")
                        try ChildProcess.copy("\(source)/\(name)", to: "\(folder)/\(kind.rawValue)/\(name)")
                    } catch {
                        throw ToolError("cannot copy \(source)/\(name) into \(folder): \(error)")
                    }
                }
            }
        }
    }
}
