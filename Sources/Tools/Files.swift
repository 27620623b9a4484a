import Actors
import ArgumentParser
import Reactor

/// The role files `set` and `get` handle.
enum RoleFile: String, ExpressibleByArgument, CaseIterable {
    case settings, input
}

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
                let (bytes, _) = try SystemAccess.readSmallFile(file, limit: 16 << 20)
                json = try JSON(parsing: String(decoding: bytes, as: UTF8.self))
                guard case .object = json else { throw WireError(path: "", problem: "expected a JSON object") }
            } catch {
                throw ToolError("\(file): \(error); nothing was stored")
            }
            do {
                try SystemAccess.writeFileAtomically("\(home.path)/\(kind.rawValue)/\(role).json", Array((json.pretty + "\n").utf8))
            } catch {
                throw ToolError("cannot store \(kind.rawValue) for \(role): \(error)")
            }
        }
    }
}

struct GetFile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Print a role's stored settings or input (`{}` if none).", discussion: "Example: ansar get settings sub")
    @OptionGroup var home: HomeOption
    @Argument(help: "settings or input") var kind: RoleFile
    @Argument(help: "The role.") var role: String

    func run() throws {
        try perform { () throws(ToolError) in try showRoleFile(kind.rawValue, homePath: home.homePath, role: role) }
    }
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a role's last runs: when, for how long, how it ended.", discussion: "Example: ansar history sub")
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
                print("[\(index)] \(String(format1: now - started))s ago ... \(String(format1: ended - started))s (\(outcome))")
            }
        }
    }
}
