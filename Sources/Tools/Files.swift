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
        abstract: "Store a role's settings or input: a JSON file, KEY=VALUE changes, or both (checked first).",
        discussion: """
            The role's executable checks them (`--check`: types, unknown keys) before anything is replaced. \
            A VALUE that reads as JSON (5, true, [1,2], {"a":1}, "quoted") is taken as that, anything else as \
            text — and if the role refuses the JSON reading but takes the text (clientName=5 for a text \
            field), text it is; KEY may be a dotted path. Examples: ansar set settings sub --file sub.json; ansar set settings \
            sub clientName=Ann; some-tool | ansar set input sub --file -
            """)
    @OptionGroup var home: HomeOption
    @Argument(help: "settings or input") var kind: RoleFile
    @Argument(help: "The role.") var role: String
    @Argument(help: "KEY=VALUE changes, applied over the file (or over what is stored).") var changes: [String] = []
    @Option(help: "The JSON file to store (- for standard input).") var file: String?

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            let role = try home.role(self.role)
            guard file != nil || !changes.isEmpty else {
                throw ToolError("nothing to set: give --file FILE, --file - or KEY=VALUE")
            }
            var json: JSON
            if let file { json = try Self.read(file) } else { json = try home.stored(kind, of: role.name) }
            let base = json
            for change in changes { json = try Self.apply(change, to: json) }
            let outcome: Home.CheckOutcome
            do throws(ToolError) {
                outcome = try home.check(json, kind, for: role)
            } catch {
                json = try Self.textWhereRefused(changes, over: base, refusal: error) { candidate throws(ToolError) in
                    try home.check(candidate, kind, for: role)
                }
                outcome = .fits
            }
            try home.store(json, kind, for: role.name)
            switch outcome {
            case .fits: print("stored \(kind.rawValue) for \(role.name)")
            case .unchecked(let why): print("stored \(kind.rawValue) for \(role.name), unchecked: \(why)")
            }
        }
    }

    static func read(_ file: String) throws(ToolError) -> JSON {
        let source = file == "-" ? "standard input" : file
        do {
            if file == "-" {
                var text = ""
                while let line = readLine(strippingNewline: false) {
                    text += line
                    guard text.utf8.count <= 16 << 20 else { throw ToolError("more than 16 MiB") }
                }
                let json = try JSON(parsing: text)
                guard case .object = json else { throw ToolError("expected a JSON object") }
                return json
            }
            return try JSON(objectAt: file)
        } catch {
            throw ToolError("\(source): \(error); nothing was stored")
        }
    }

    /// `clientName=5` means the text "5" to a role whose clientName is text: the `changes` whose
    /// VALUE reads as JSON other than text are taken as text one by one, each kept if the role's
    /// refusal moved on (that field fits now), until the role takes the whole; otherwise the
    /// refusal of the reading that got furthest stands.
    static func textWhereRefused(
        _ changes: [String], over base: JSON, refusal: ToolError, check: (JSON) throws(ToolError) -> Home.CheckOutcome
    ) throws(ToolError) -> JSON {
        var asText = changes.map { _ in false }
        var latest = refusal
        for index in changes.indices where readsAsOtherThanText(changes[index]) {
            asText[index] = true
            var candidate = base
            for (change, text) in zip(changes, asText) { candidate = try apply(change, to: candidate, asText: text) }
            do {
                _ = try check(candidate)
                return candidate
            } catch {
                if error.description == latest.description { asText[index] = false } else { latest = error }
            }
        }
        throw latest
    }

    private static func readsAsOtherThanText(_ change: String) -> Bool {
        guard let equals = change.firstIndex(of: "="),
            let value = try? JSON(parsing: String(change[change.index(after: equals)...]))
        else {
            return false
        }
        if case .string = value { return false }
        return true
    }

    /// `KEY=VALUE`, `a.b=VALUE`: the member set (made if absent), the value JSON if it reads as
    /// JSON (unless `asText`), else text.
    static func apply(_ change: String, to json: JSON, asText: Bool = false) throws(ToolError) -> JSON {
        guard let equals = change.firstIndex(of: "="), equals != change.startIndex else {
            throw ToolError("\(change): expected KEY=VALUE; nothing was stored")
        }
        let keys = change[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !keys.contains(where: \.isEmpty) else {
            throw ToolError("\(change): a key part is empty; nothing was stored")
        }
        let text = String(change[change.index(after: equals)...])
        let value = asText ? .string(text) : (try? JSON(parsing: text)) ?? .string(text)
        return json.setting(keys[...], to: value)
    }
}

extension JSON {
    /// This object with the member at `keys` set to `value`, objects made on the way as needed.
    func setting(_ keys: ArraySlice<String>, to value: JSON) -> JSON {
        guard let first = keys.first else { return value }
        var members: [(String, JSON)] = []
        if case .object(let existing) = self { members = existing }
        if let index = members.firstIndex(where: { $0.0 == first }) {
            members[index].1 = members[index].1.setting(keys.dropFirst(), to: value)
        } else {
            members.append((first, JSON.object([]).setting(keys.dropFirst(), to: value)))
        }
        return .object(members)
    }
}

struct GetFile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Print a role's stored settings or input as JSON (`{}` if none).",
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
    @Flag(help: "Print the runs as JSON: started and ended (seconds since 1970), outcome.") var json = false

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            _ = try home.role(role)
            if json {
                print(JSON.array(home.history(role)).description)
                return
            }
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
        abstract:
            "Edit a role's settings or input with $EDITOR; stored only if it is valid JSON that the role accepts.",
        discussion: """
            An edit that does not fit is not thrown away: on a terminal the editor opens again on it; otherwise \
            it is kept in HOME/tmp and its path printed. Example: EDITOR=nano ansar edit settings sub
            """)
    @OptionGroup var home: HomeOption
    @Argument(help: "settings or input") var kind: RoleFile
    @Argument(help: "The role.") var role: String

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            let role = try home.role(self.role)
            let stored = home.file(kind, of: role.name)
            let draft = "\(home.path)/tmp/\(kind.rawValue)-\(role.name).edit.json"
            let current = (try? SystemAccess.readSmallFile(stored, limit: 16 << 20).bytes) ?? Array("{}\n".utf8)
            do {
                try SystemAccess.writeFileAtomically(draft, current, mode: 0o600)
            } catch {
                throw ToolError("cannot prepare \(draft): \(error)")
            }
            let environment = ChildProcess.currentEnvironment()
            let editor = environment["VISUAL"] ?? environment["EDITOR"] ?? "vi"
            while true {
                // Through the shell, so that EDITOR may carry arguments ("code -w"); on this terminal.
                guard
                    let pid = try? ChildProcess.spawn(
                        "/bin/sh", arguments: ["-c", "\(editor) \"$0\"", draft], environment: environment,
                        stdout: nil, stderr: nil)
                else {
                    ChildProcess.remove(draft)
                    throw ToolError("cannot start the editor \(editor): set EDITOR")
                }
                let exit = ChildProcess.wait(pid)
                guard exit == .code(0) else {
                    ChildProcess.remove(draft)
                    throw ToolError("the editor ended with \(exit): nothing was stored")
                }
                do throws(ToolError) {
                    let edited: JSON
                    do {
                        edited = try JSON(objectAt: draft)
                    } catch {
                        throw ToolError("the edited \(kind.rawValue) are not valid (\(error))")
                    }
                    _ = try home.check(edited, kind, for: role)
                    try home.store(edited, kind, for: role.name)
                    ChildProcess.remove(draft)
                    print("stored \(kind.rawValue) for \(role.name)")
                    return
                } catch {
                    // Not thrown away: edited again at a terminal, kept otherwise.
                    guard isatty(0) == 1 else {
                        throw ToolError("\(error); nothing was stored, the edit is in \(draft)")
                    }
                    SystemAccess.writeStandardError("ansar: \(error)\nedit again? [Y/n] ")
                    let answer = readLine()?.lowercased() ?? "n"
                    guard answer.isEmpty || answer.hasPrefix("y") else {
                        throw ToolError("nothing was stored, the edit is in \(draft)")
                    }
                }
            }
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
