import ArgumentParser
import Platform
import ProcessShim

#if canImport(Glibc)
    import Glibc
#endif

struct StartGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start the group in the background; returns once it is up.",
        discussion:
            """
            Logs go to HOME/logs (the runner's to group.log; with --debug-level every role's too). Example: ansar \
            start, then ansar status, ansar stop; ansar start pub (that role only)
            """
    )
    @OptionGroup var home: HomeOption
    @Argument(help: "The roles to start (none: every role).") var roles: [String] = []
    @OptionGroup var host: HostOption
    @OptionGroup(title: "Logs") var logs: RoleLogOptions
    @OptionGroup(title: "Restarts") var restarts: RestartOptions
    @OptionGroup(title: "Links and loop (the group directory's and, through the environment, every role's)") var tuning:
        TuningOptions

    func run() throws {
        var failedAtStart = false
        try perform { () throws(ToolError) in
            _ = try host.named()
            _ = try tuning.tuning()
            _ = try logs.level()
            _ = try logs.limit()
            _ = try restarts.healthyAfterSeconds()
            let (home, _) = try checkedGroup(home.homePath, mainRole: nil, only: roles)
            if home.runningGroup() != nil {
                // Roles named into a running group are started in it (stopped ones, or new ones).
                guard !roles.isEmpty else {
                    throw ToolError("a group is already running in \(home.path): `ansar stop` it first")
                }
                for role in roles { print(try RunnerRequest.send(.start, role: role, to: home)) }
                return
            }
            guard let ansar = ChildProcess.currentExecutable() else {
                throw ToolError("cannot find the ansar executable to start the runner")
            }
            ChildProcess.remove(home.state)
            ChildProcess.remove(home.launchReport)
            // The group's log carries on from the last run (bounded like a role's): its output and
            // its errors both append, so neither overwrites the other.
            home.rotate(home.groupLog, limit: try logs.limit())
            let readiness: Readiness
            do {
                readiness = try Readiness()
                _ = try ChildProcess.spawn(
                    ansar,
                    arguments: ["run", "--home-path=\(home.path)", "--own-log=\(home.groupLog)"] + roles
                        + host.arguments + logs.arguments + restarts.arguments + tuning.arguments,
                    environment: ChildProcess.currentEnvironment(), stdout: home.groupLog,
                    stderr: home.groupLog, appendingOutput: true, detached: true, readiness: readiness)
            } catch {
                throw ToolError("cannot start the runner: \(error)")
            }
            // Up means: every role has said it is up, or run for a moment without ending, or ended
            // (the runner says so through the readiness pipe). One that ended badly fails `start`.
            switch readiness.wait(upTo: .seconds(10)) {
            case .ready:
                let failed = launchFailures(home)
                for (role, exit) in failed {
                    reportFailure(role: role, how: exit, when: " at start", lastLine: home.lastLine(of: home.log(role)))
                }
                failedAtStart = !failed.isEmpty
            case .failed(let reason): throw ToolError("the group did not start: \(reason)")
            case .ended:
                // It ended without a word (a crash): the log keeps earlier runs, its last line is this one's.
                let reason = home.lastLine(of: home.groupLog).map { $0.trimmingPrefix("ansar: ") } ?? "the runner ended"
                throw ToolError("the group did not start: \(reason)")
            case .timedOut: throw ToolError("the group did not come up within 10 s: see \(home.groupLog)")
            }
        }
        if failedAtStart { throw ExitCode(1) }
    }
}

/// The roles of a just launched group that ended badly (or wait to restart after doing so), as
/// its runner wrote them once the launch settled: the group may have ended since.
func launchFailures(_ home: Home) -> [(role: String, exit: String)] {
    guard let (bytes, _) = try? SystemAccess.readSmallFile(home.launchReport, limit: 1 << 20),
        let report = try? JSON(parsing: String(decoding: bytes, as: UTF8.self)),
        case .array(let failed)? = report["failed"]
    else { return [] }
    return failed.compactMap { entry in
        guard case .string(let role)? = entry["role"], case .string(let exit)? = entry["exit"] else { return nil }
        return (role, exit)
    }
}

struct StopGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop the running group, or some of its roles: SIGTERM, SIGKILL for those that do not stop in time.",
        discussion: """
            A role stopped alone stays stopped (not restarted) until `ansar start ROLE`; stopping the main role, or \
            the last role, ends the group. Examples: ansar stop; ansar stop pub
            """)
    @OptionGroup var home: HomeOption
    @Argument(help: "The roles to stop (none: the whole group).") var roles: [String] = []

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            if !roles.isEmpty {
                for role in roles { _ = try home.role(role) }
                for role in roles { print(try RunnerRequest.send(.stop, role: role, to: home)) }
                return
            }
            guard let state = home.runningGroup(), case .integer(let pid)? = state["pid"] else {
                throw ToolError("no group is running in \(home.path)")
            }
            ChildProcess.signal(Int32(pid), SIGTERM)
            // The runner's end releases its lock; a pid reused since is caught by the lock check.
            guard ChildProcess.waitForEnd(of: Int32(pid), upTo: .seconds(15)) || !ChildProcess.isLockHeld(home.lock)
            else {
                throw ToolError("the runner (pid \(pid)) did not stop within 15 s")
            }
            if let (bytes, _) = try? SystemAccess.readSmallFile(home.stopReport),
                let report = try? JSON(parsing: String(decoding: bytes, as: UTF8.self)),
                case .array(let killed)? = report["killed"]
            {
                for case .string(let role) in killed { print("role \(role) did not stop in time: killed") }
            }
        }
    }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restart roles of the running group (none: every role), one after another.",
        discussion: """
            Each is stopped like `ansar stop ROLE` (SIGTERM, SIGKILL after 3 s) and started again at once; the \
            others keep running, and their sessions with it come back. Example: ansar restart pub
            """)
    @OptionGroup var home: HomeOption
    @Argument(help: "The roles to restart (none: every role of the group).") var roles: [String] = []

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            for role in roles { _ = try home.role(role) }
            var names = roles
            if names.isEmpty {
                guard let state = home.runningGroup(), case .array(let entries)? = state["roles"] else {
                    throw ToolError("no group is running in \(home.path)")
                }
                names = entries.compactMap { if case .string(let name)? = $0["role"] { name } else { nil } }
            }
            for role in names { print(try RunnerRequest.send(.restart, role: role, to: home)) }
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every role of the running group: state, pid, uptime, restarts, last exit.",
        discussion:
            "States: running, paused, restarting, stopped (by the runner), exit N, killed by signal N. Example: ansar status --json"
    )
    @OptionGroup var home: HomeOption
    @Flag(help: "Print the state as JSON.") var json = false

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            guard let state = home.runningGroup() else { throw ToolError("no group is running in \(home.path)") }
            if json {
                print(state.description)
                return
            }
            guard case .array(let roles)? = state["roles"] else { return }
            let now = SystemAccess.wallClock()
            var rows = [["ROLE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT"]]
            for role in roles {
                guard case .string(let name)? = role["role"] else { continue }
                func text(_ key: String) -> String? { if case .string(let value)? = role[key] { value } else { nil } }
                func number(_ key: String) -> Int64? { if case .integer(let value)? = role[key] { value } else { nil } }
                let pid = number("pid").map { Int32($0) }
                var state = text("state") ?? "running"
                if let pid, state == "running", ChildProcess.isStopped(pid) { state = "paused" }
                let uptime: String
                if case .double(let started)? = role["started"] {
                    uptime = Duration.seconds(max(0, now - started)).humanUptime
                } else {
                    uptime = "-"
                }
                rows.append([
                    name, state, pid.map(String.init) ?? "-", uptime, "\(number("restarts") ?? 0)",
                    text("exit") ?? "-",
                ])
            }
            let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                print(
                    zip(row, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  ")
                        .trimmingTrailingSpaces)
            }
        }
    }
}

extension Duration {
    /// "42s", "3m 05s", "2h 10m", "4d 3h": how long a role has run.
    var humanUptime: String {
        let seconds = Int(components.seconds)
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3_600 { return "\(seconds / 60)m \(String(format2: seconds % 60))s" }
        if seconds < 86_400 { return "\(seconds / 3_600)h \(String(format2: seconds % 3_600 / 60))m" }
        return "\(seconds / 86_400)d \(seconds % 86_400 / 3_600)h"
    }
}

extension String {
    /// Two digits, zero first.
    init(format2 value: Int) { self = value < 10 ? "0\(value)" : "\(value)" }

    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

struct Folder: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the path of a home folder: home, bin, roles, settings, input, logs or tmp.",
        discussion: "Example: ansar folder logs")
    @OptionGroup var home: HomeOption
    @Argument(help: "Which folder.") var kind: String

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            guard kind == "home" || Home.folders.contains(kind) else {
                throw ToolError("unknown folder \(kind): one of home, \(Home.folders.joined(separator: ", "))")
            }
            print(kind == "home" ? home.path : "\(home.path)/\(kind)")
        }
    }
}

/// `ansar settings ROLE` and `ansar input ROLE`: the role's file as JSON (`{}` if none).
func showRoleFile(_ kind: RoleFile, homePath: String, role: String) throws(ToolError) {
    let home = try Home.open(homePath)
    _ = try home.role(role)
    print(try home.stored(kind, of: role).pretty)
}

struct Settings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a role's stored settings.", discussion: "Example: ansar settings sub")
    @OptionGroup var home: HomeOption
    @Argument(help: "The role.") var role: String

    func run() throws {
        try perform { () throws(ToolError) in try showRoleFile(.settings, homePath: home.homePath, role: role) }
    }
}

struct Input: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a role's stored input.", discussion: "Example: ansar input sub")
    @OptionGroup var home: HomeOption
    @Argument(help: "The role.") var role: String

    func run() throws {
        try perform { () throws(ToolError) in try showRoleFile(.input, homePath: home.homePath, role: role) }
    }
}

struct Returned: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the value a role returned in its last run.", discussion: "Example: ansar returned sub --json")
    @OptionGroup var home: HomeOption
    @Argument(help: "The role.") var role: String
    @Flag(help: "Print it as JSON.") var json = false

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            _ = try home.role(role)
            guard let (bytes, _) = try? SystemAccess.readSmallFile(home.result(role), limit: 16 << 20),
                let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first
            else { throw ToolError("role \(role) has not returned a value yet: `ansar run` the group") }
            guard let value = try? JSON(parsing: String(line)), case .string(let type)? = value["type"],
                let fields = value["value"]
            else {
                throw ToolError("role \(role)'s last output is not a value: \(line.prefix(80))")
            }
            print(json ? value.description : Printing.human(Incognito(typeName: type, fields: fields)))
        }
    }
}

extension String {
    /// One decimal place.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}

/// The pids of the running group's roles.
func runningRoles(_ home: Home) throws(ToolError) -> [(role: String, processGroup: Int32)] {
    guard let state = home.runningGroup(), case .array(let roles)? = state["roles"] else {
        throw ToolError("no group is running in \(home.path)")
    }
    return roles.compactMap { role in
        guard case .string(let name)? = role["role"], case .integer(let group)? = role["processGroup"] else {
            return nil
        }
        return (name, Int32(group))
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pause the running group's roles (SIGSTOP); peers see them fall silent.",
        discussion: "Example: ansar pause, then ansar resume")
    @OptionGroup var home: HomeOption

    func run() throws {
        try perform { () throws(ToolError) in
            for (_, group) in try runningRoles(try Home.open(home.homePath)) {
                ChildProcess.signalGroup(group, SIGSTOP)
            }
        }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume paused roles (SIGCONT).", discussion: "Example: ansar resume")
    @OptionGroup var home: HomeOption

    func run() throws {
        try perform { () throws(ToolError) in
            for (_, group) in try runningRoles(try Home.open(home.homePath)) {
                ChildProcess.signalGroup(group, SIGCONT)
            }
        }
    }
}

struct Update: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change a role's executable or retry policy.", discussion: "Example: ansar update sub --retries=5")
    @OptionGroup var home: HomeOption
    @Argument(help: "The role.") var role: String
    @Option(help: "A deployed executable to play it.") var executable: String?
    @Option(help: "Restarts when it fails.") var retries: Int?

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            let current = try home.role(role)
            if let retries, retries < 0 { throw ToolError("--retries must be 0 or more") }
            let updated = Role(
                name: role, executable: executable ?? current.executable, retries: retries ?? current.retries)
            try home.replace(updated)
            print("updated role \(role): played by \(updated.executable), \(updated.retries) retries")
            if home.runningRole(role) { print("role \(role) is running: `ansar restart \(role)` to apply it now") }
        }
    }
}

struct Destroy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove the home and everything in it (refused while its group runs).",
        discussion: """
            Asks first on a terminal; elsewhere (a script) it needs --yes. Example: ansar destroy \
            --home-path=/tmp/demo/.ansar-home --yes
            """)
    @OptionGroup var home: HomeOption
    @Flag(help: "Do not ask.") var yes = false

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            if home.runningGroup() != nil {
                throw ToolError("a group is running in \(home.path): `ansar stop` it first")
            }
            if !yes {
                guard isatty(0) == 1 else {
                    throw ToolError("destroy removes \(home.path) and everything in it: give --yes to confirm")
                }
                SystemAccess.writeStandardError("remove \(home.path) and everything in it? [y/N] ")
                guard (readLine() ?? "").lowercased().hasPrefix("y") else {
                    throw ToolError("nothing was removed")
                }
            }
            do {
                try ChildProcess.removeTree(home.path)
            } catch {
                throw ToolError("cannot remove \(home.path): \(error)")
            }
            print("removed \(home.path)")
        }
    }
}
