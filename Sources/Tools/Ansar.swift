import ArgumentParser
import Logging
import Platform
import ProcessShim

#if canImport(Glibc)
    import Glibc
#endif

@main
struct Ansar: ParsableCommand {
    /// This build's version, and the version of the frames it speaks (peers must match it).
    static let version = "ansar 0.15.0, wire frames v1"

    static let configuration = CommandConfiguration(
        commandName: "ansar",
        abstract: "Runs groups of processes that find each other by name.",
        discussion: """
            A home (default ./.ansar-home) holds executables, roles and their settings. The seed's demo:

              ansar create
              ansar deploy dist
              ansar add publish-a-service pub
              ansar add subscribe-to-service sub
              ansar run --main-role=sub
            """,
        version: Self.version,
        subcommands: [
            Create.self, Deploy.self, Add.self, List.self, Delete.self, Run.self, StartGroup.self, StopGroup.self,
            Restart.self,
            Status.self, Log.self,
            Folder.self, Settings.self, Input.self, Returned.self, Network.self, Ping.self, DirectoryCommand.self,
            RelayCommand.self, Pause.self, Resume.self, IdentityCommand.self, Grant.self, Revoke.self,
            Permissions.self,
            Update.self, Destroy.self, SetFile.self, GetFile.self, Edit.self, History.self, Snapshot.self,
        ])
}

extension Ansar {
    /// Parses and runs the command line; a first word that is no command is refused with the
    /// nearest one, as git does ("did you mean").
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let first = arguments.first, !first.hasPrefix("-"), first != "help" {
            let names = configuration.subcommands.map { $0._commandName }
            if !names.contains(first) {
                let near = names.map { ($0, editDistance($0, first)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }
                let hint = near.map { "did you mean `ansar \($0.0)`?" } ?? "see `ansar --help`"
                SystemAccess.writeStandardError("ansar: unknown command \(first): \(hint)\n")
                SystemAccess.exit(ExitCode.validationFailure.rawValue)
            }
        }
        main(arguments)
    }

    /// Levenshtein distance: insertions, deletions and substitutions from `a` to `b`.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let (a, b) = (Array(a), Array(b))
        var row = Array(0...b.count) // distances from a's first i characters to each prefix of b
        for (i, character) in a.enumerated() {
            var diagonal = row[0]
            row[0] = i + 1
            for j in b.indices {
                let above = row[j + 1]
                row[j + 1] = min(above + 1, row[j] + 1, diagonal + (character == b[j] ? 0 : 1))
                diagonal = above
            }
        }
        return row[b.count]
    }
}

/// The option every command takes: which home.
struct HomeOption: ParsableArguments {
    static let variable = "ANSAR_HOME"

    @Option(
        name: .customLong("home-path"),
        help: "The home folder (else $ANSAR_HOME, else the nearest .ansar-home here or in a folder above).")
    var given: String?

    /// `--home-path`, else `ANSAR_HOME`, else the nearest `.ansar-home` in this folder or one
    /// above it, as git finds its repository; else `./.ansar-home` (for the refusal to name).
    var homePath: String {
        if let path = given ?? SystemAccess.environment(Self.variable) { return path }
        guard var folder = SystemAccess.currentDirectory() else { return Home.defaultPath }
        while true {
            let candidate = "\(folder)/\(Home.defaultPath)"
            if SystemAccess.exists("\(candidate)/secret") {
                return folder == SystemAccess.currentDirectory() ? Home.defaultPath : candidate
            }
            guard let slash = folder.lastIndex(of: "/"), folder != "/" else { return Home.defaultPath }
            folder = slash == folder.startIndex ? "/" : String(folder[..<slash])
        }
    }

    /// Where `create` makes a home: never a folder above.
    var pathToCreate: String { given ?? SystemAccess.environment(Self.variable) ?? Home.defaultPath }
}

/// Runs a command body: a ToolError becomes one line on stderr and exit status 1.
func perform(telling parent: Readiness.Announcement? = nil, _ body: () throws(ToolError) -> Void) throws {
    do {
        try body()
    } catch {
        parent?.fail(error.description)
        SystemAccess.writeStandardError("ansar: \(error)\n")
        throw ExitCode(1)
    }
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a home: its folders and a fresh realm secret (or another home's, to join its realm).",
        discussion:
            """
            Homes on several hosts that should see each other at LAN or WAN scope share one realm: create the first, \
            then the others with --realm-of FIRST/secret (copied over). Example: ansar create --home-path=/srv/demo
            """
    )
    @OptionGroup var home: HomeOption
    @Option(help: "A realm secret file (another home's HOME/secret) to use instead of a fresh one.") var realmOf:
        String?

    func run() throws {
        try perform { () throws(ToolError) in
            var secret: RealmSecret? = nil
            if let realmOf {
                do {
                    secret = try RealmSecret(contentsOfFile: realmOf)
                } catch {
                    throw ToolError("realm secret \(error); no home was created")
                }
            }
            let made = try Home.create(at: home.pathToCreate, secret: secret)
            print(
                "created the home \(made.path)\(realmOf == nil ? " with a fresh realm secret" : " in the realm of \(realmOf!)")"
            )
        }
    }
}

struct Deploy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy executables into the home: every executable of a folder, or one file.",
        discussion: "Examples: ansar deploy .build/release; ansar deploy .build/release/publish-a-service")
    @OptionGroup var home: HomeOption
    @Argument(help: "A folder of executables, or one executable.") var source: String

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            var executables: [(path: String, name: String)] = []
            var skipped: [String] = []
            if let names = ChildProcess.files(in: source) {
                for name in names.sorted() {
                    if ChildProcess.isExecutable("\(source)/\(name)") {
                        executables.append(("\(source)/\(name)", name))
                    } else {
                        skipped.append(name)
                    }
                }
                guard !executables.isEmpty else { throw ToolError("no executables in \(source)") }
            } else if ChildProcess.isExecutable(source) {
                executables = [(source, String(source.split(separator: "/").last ?? Substring(source)))]
            } else {
                throw ToolError(
                    SystemAccess.exists(source)
                        ? "\(source) is not executable: `chmod +x` it, or give a folder of executables"
                        : "cannot read \(source): give a folder of executables, or one executable")
            }
            for (path, name) in executables {
                do {
                    try ChildProcess.copy(path, to: "\(home.bin)/\(name)")
                } catch {
                    throw ToolError("cannot copy \(path) into \(home.bin): \(error)")
                }
            }
            print("deployed \(executables.map(\.name).joined(separator: ", ")) into \(home.bin)")
            if !skipped.isEmpty { print("skipped (not executable): \(skipped.joined(separator: ", "))") }
        }
    }
}

struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add a role played by a deployed executable.",
        discussion: "Example: ansar add publish-a-service pub --retries=3")
    @OptionGroup var home: HomeOption
    @Argument(help: "A deployed executable.") var executable: String
    @Argument(help: "The role's name.") var role: String
    @Option(help: "Restart the role this many times when it fails (backoff with jitter between attempts).")
    var retries = 0

    func run() throws {
        try perform { () throws(ToolError) in
            guard retries >= 0 else { throw ToolError("--retries must be 0 or more") }
            let home = try Home.open(home.homePath)
            try home.add(Role(name: role, executable: executable, retries: retries))
            print("added role \(role), played by \(executable)")
            if home.runningGroup() != nil {
                print("the group is running: `ansar start \(role)` starts it in the group")
            }
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the roles of the home.", discussion: "Example: ansar list --long")
    @OptionGroup var home: HomeOption
    @Flag(name: .long, help: "Show each role's executable.") var long = false
    @Flag(help: "Print the roles as JSON.") var json = false

    func run() throws {
        try perform { () throws(ToolError) in
            let roles = try Home.open(home.homePath).roles()
            if json {
                let entries = roles.map {
                    JSON.object([
                        ("role", .string($0.name)), ("executable", .string($0.executable)),
                        ("retries", .integer(Int64($0.retries))),
                    ])
                }
                print(JSON.array(entries).description)
                return
            }
            for role in roles {
                print(
                    long
                        ? "\(role.name)\(String(repeating: " ", count: max(1, 24 - role.name.count)))\(role.executable)"
                        : role.name)
            }
        }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a role (its settings and input stay).", discussion: "Example: ansar delete sub")
    @OptionGroup var home: HomeOption
    @Argument(help: "The role.") var role: String

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            try Home.validate(role: role)
            guard SystemAccess.exists(home.entry(role)) else {
                throw ToolError("unknown role \(role): see `ansar list`")
            }
            if home.runningRole(role) {
                throw ToolError("role \(role) is running: `ansar stop \(role)` it first")
            }
            ChildProcess.remove(home.entry(role))
            print("deleted role \(role) (its settings and input stay)")
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the group in the foreground: every role, with the group's directory.",
        discussion: """
            With --main-role the group ends when that role ends, and its value is printed; otherwise it ends when \
            every role has ended, and each role's value is printed. Ctrl-C stops it. Exit status: that of the \
            main role (or of the last failing role), 128+n for a role killed by signal n, 130 after Ctrl-C \
            (143 after SIGTERM).

            Examples: ansar run --main-role=sub; ansar run pub sub --main-role=sub (only those two roles)
            """)
    @OptionGroup var home: HomeOption
    @Argument(help: "The roles to run (none: every role).") var roles: [String] = []
    @Option(help: "End the group when this role ends, and print its value.") var mainRole: String?
    @OptionGroup(title: "Logs") var logs: RoleLogOptions
    @OptionGroup(title: "Restarts") var restarts: RestartOptions
    @OptionGroup var host: HostOption
    @OptionGroup(title: "Links and loop (the group directory's and, through the environment, every role's)") var tuning:
        TuningOptions
    /// Set by `ansar start` for the runner it starts: the log (group.log) it keeps bounded.
    @Option(help: .hidden) var ownLog: String?

    func run() throws {
        var code: Int32 = 0
        // First, before the runner copies the environment for its roles. `ansar start` hears
        // the runner's failure through the pipe: the pipe closes before the log line is written.
        let ready = Readiness.inherited()
        try perform(telling: ready) { () throws(ToolError) in
            code = try runGroup(announcingTo: ready)
        }
        if code != 0 { throw ExitCode(code) }
    }

    private func runGroup(announcingTo ready: Readiness.Announcement?) throws(ToolError) -> Int32 {
        let (home, roles) = try checkedGroup(home.homePath, mainRole: mainRole, only: self.roles)
        guard ChildProcess.holdLock(home.lock) else {
            let pid = home.runningGroup().flatMap { json -> Int64? in
                if case .integer(let pid)? = json["pid"] { pid } else { nil }
            }
            throw ToolError(
                "a group is already running in \(home.path)\(pid.map { " (pid \($0))" } ?? ""): `ansar stop` it first")
        }
        let secret = try home.secret()
        let permissions = try home.permissions()
        let tuning = try self.tuning.tuning()
        let level = try logs.level()
        let logLimit = try logs.limit()
        let healthyAfter = try restarts.healthyAfterSeconds()
        Logs.bootstrap(process: "ansar run", level: level ?? .warning)
        let group = SocketAddress.unixAbstract(
            name: "ansar-group-\(ChildProcess.currentProcessID())-\(UInt32.random(in: 0...UInt32.max))")
        let runner: GroupRunner
        do {
            runner = try GroupRunner(
                home: home, roles: roles, mainRole: mainRole, groupAddress: group,
                hostAddress: try host.address(realm: secret),
                debugLevel: logs.debugLevel, logLimit: logLimit, healthyAfter: healthyAfter,
                tuning: tuning, permissions: permissions, ownLog: ownLog, ready: ready)
        } catch {
            throw ToolError("cannot capture the roles' logs: \(error)")
        }
        defer {
            runner.capture.finish() // every line the roles wrote is in their logs
            runner.writer.finish() // and the state and reports are on disk, before `stop` reads them
        }
        let stopSignal: Int32?
        do {
            let runtime = try tuning.makeRuntime(secret: secret)
            runtime.extraSignals = [SIGCHLD, RunnerRequest.signal] // its roles' ends; commands' requests
            _ = try runtime.run(runner)
            stopSignal = runtime.stopSignal
        } catch {
            throw ToolError("cannot run the group: \(error)")
        }
        if let failure = runner.failure { throw ToolError(failure) }
        let status = report(runner.outcomes)
        // Stopped by Ctrl-C or SIGTERM: the shell's convention, whatever the roles did.
        return stopSignal.map { 128 + $0 } ?? status
    }

    /// Prints the main role's value (or every role's), and returns the exit status. Every role
    /// that ended badly on its own is named on stderr, with why and its last log line.
    private func report(_ outcomes: [RoleOutcome]) -> Int32 {
        for outcome in outcomes where outcome.failed {
            reportFailure(role: outcome.role, how: "\(outcome.exit)", lastLine: outcome.lastLogLine)
        }
        let shown = mainRole.map { main in outcomes.filter { $0.role == main } } ?? outcomes
        var status: Int32 = 0
        for outcome in shown {
            if let garbage = outcome.garbage {
                SystemAccess.writeStandardError(
                    "ansar: role \(outcome.role) printed something that is not a result: \(garbage)\n")
                status = 1
                continue
            }
            let text = outcome.value.map(Printing.human) ?? "(no value: \(outcome.exit))"
            print(
                mainRole == nil
                    ? "\(outcome.role): "
                        + text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n  ") : text
            )
            guard !outcome.stoppedByRunner || outcome.role == mainRole else { continue }
            if case .code(let code) = outcome.exit, code != 0 { status = code }
            if case .signal(let signal) = outcome.exit { status = 128 + signal }
        }
        return status
    }
}

/// One line on stderr for a role that ended badly: its name, how it ended (`when`: " at start"
/// for `ansar start`'s launch), its last log line, and where to look next.
func reportFailure(role: String, how: String, when: String = "", lastLine: String?) {
    let last = lastLine.map { ": \($0)" } ?? ""
    SystemAccess.writeStandardError("ansar: role \(role) failed\(when) (\(how))\(last) — see `ansar log \(role)`\n")
}

/// The home and its roles, checked before a group starts: at least one role, a known main role,
/// every executable in place.
/// `only`: the roles to run (empty: all of them); each must exist, and so must the main role among them.
func checkedGroup(_ path: String, mainRole: String?, only: [String] = []) throws(ToolError) -> (Home, [Role]) {
    let home = try Home.open(path)
    let all = try home.roles()
    var roles = all
    guard !roles.isEmpty else { throw ToolError("no roles in \(home.path): add one with `ansar add EXECUTABLE ROLE`") }
    if !only.isEmpty {
        for name in only where !roles.contains(where: { $0.name == name }) {
            throw ToolError("unknown role \(name): see `ansar list`")
        }
        roles = roles.filter { only.contains($0.name) }
    }
    if let mainRole, !roles.contains(where: { $0.name == mainRole }) {
        throw ToolError(
            !all.contains(where: { $0.name == mainRole })
                ? "unknown main role \(mainRole): see `ansar list`"
                : "main role \(mainRole) is not among the roles to run: \(only.joined(separator: " "))")
    }
    for role in roles where !ChildProcess.isExecutable("\(home.bin)/\(role.executable)") {
        throw ToolError(
            "role \(role.name): \(home.bin)/\(role.executable) is missing or not executable; deploy it again")
    }
    for role in roles { try home.checkFiles(of: role.name) }
    return (home, roles)
}

/// Linking a group to the machine's HOST directory.
struct HostOption: ParsableArguments {
    @Flag(
        help:
            """
            Link the group to the HOST directory (`ansar directory`), so other groups of this machine see its \
            HOST-scope services.
            """
    )
    var host = false
    @Option(help: "The HOST directory's address, if not the usual one (implies --host).") var hostAddress: String?

    /// The HOST directory to link to, if any: the one named, or `realm`'s.
    func address(realm: RealmSecret) throws(ToolError) -> SocketAddress? {
        if let named = try named() { return named }
        return host ? ScopeDirectory.hostAddress(of: realm) : nil
    }

    /// `--host-address`, checked.
    func named() throws(ToolError) -> SocketAddress? {
        guard let hostAddress else { return nil }
        guard let address = try? SocketAddress(parsing: hostAddress) else {
            throw ToolError("invalid --host-address \(hostAddress): use host:port, /path or @name")
        }
        return address
    }

    /// The same options, for a runner started in the background.
    var arguments: [String] { (host ? ["--host"] : []) + (hostAddress.map { ["--host-address=\($0)"] } ?? []) }
}
