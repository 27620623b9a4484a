import Logging
import Platform
import ProcessShim

#if canImport(Glibc)
    import Glibc
#endif

/// What a role's process left: how it ended and what it printed.
struct RoleOutcome {
    let role: String
    let exit: ChildProcess.Exit
    /// The result, if stdout held one (`{"type": …, "value": …}`).
    let value: (any Message)?
    /// Set when stdout held something else.
    let garbage: String?
    /// It ended after the runner asked it to stop (the group was ending): not a failure.
    var stoppedByRunner = false
    /// The last line it wrote to its log, for the one line that says why it failed.
    var lastLogLine: String? = nil

    /// Whether it ended badly on its own: a non-zero exit or a signal nobody sent it.
    var failed: Bool { exit != .code(0) && !stoppedByRunner }
}

/// When the runner next looks at its children without a SIGCHLD: a restart or a SIGKILL is due.
struct CheckChildren: LocalOnlyMessage {}

/// The group runner of `ansar run`: the group's directory, one process per role started with the
/// framework flags, their results read from stdout; the group ends when the main role ends (the
/// others are stopped: SIGTERM, then SIGKILL after a grace period), or when every role has ended.
final class GroupRunner: Object {
    struct Child {
        let role: Role
        /// The process to wait for and the group to signal (see ``ChildProcess/TiedChild``).
        let keeper: Int32
        /// The program's own pid, for people (`status`, answers, logs).
        let pid: Int32
        let started: Double
        var stopSent: Deadline?
        /// Its stderr, on its way to its log.
        let output: LineCapture.Stream
        /// Its word that it is up, while the group's launch waits for it (first attempts only).
        var launch: Readiness?
        let launchedAt = Deadline.now()
    }

    /// A failed role waiting for its next attempt.
    struct Pending {
        let role: Role
        let due: Deadline
        /// How the failed attempt ended.
        let exit: ChildProcess.Exit
    }

    let home: Home
    /// The group's roles: those it started with, and any started into it since.
    private(set) var roles: [Role]
    let mainRole: String?
    let groupAddress: SocketAddress
    let hostAddress: SocketAddress?
    let debugLevel: String?
    /// Every role's stderr, line by line into its log (or, with a debug level, the runner's stderr).
    let capture: LineCapture
    /// The state files, written off the loop: the group directory's links never wait for the disk.
    let writer = BackgroundFileWriter()
    /// Each role's history as last written.
    var histories: [String: [JSON]] = [:]
    let environment: [String: String]
    /// Who may publish and subscribe what, for the group directory (the home's `permissions.json`).
    let permissions: NamePermissions
    var groupDirectory: Address?
    /// In the background: the runner's own log, kept bounded while it runs.
    let ownLog: OwnLog?
    /// Whom to tell once every role is launched (`ansar start`, waiting for a runner it detached).
    let ready: Readiness.Announcement?
    static let grace = Duration.seconds(3)
    /// A role that does not say it is up (not an ansar node) counts as up once it has run this long.
    static let launchWindow = Duration.milliseconds(500)
    /// How often a launch that is not settled yet is looked at: a word through a pipe raises no signal.
    static let launchPoll = Duration.milliseconds(5)
    /// Failures another attempt cannot mend: a bad command line, a settings or input file that
    /// does not fit. The role fails at once, whatever its retries.
    static let unmendable: Set<ChildProcess.Exit> = [
        .code(ExitStatus.usage.rawValue), .code(ExitStatus.badFile.rawValue),
    ]

    var children: [Child] = []
    var outcomes: [RoleOutcome] = []
    var stopping = false
    var failure: String?
    /// Roles that had to be killed after the grace period.
    var killed: [String] = []
    var launched = 0
    /// Whether every role's first attempt has said it is up or ended: the group is launched.
    var launchSettled = false
    /// The roles that ended badly before it settled, and how (what `ansar start` reports).
    var failedAtLaunch: [(String, String)] = []
    var pending: [Pending] = []
    /// Every restart after a failure, for `status`.
    var restarts: [String: Int] = [:]
    /// The retries used since the role last ran well (for ``healthyAfter``): its policy's budget.
    var retriesUsed: [String: Int] = [:]
    /// A role that ran this many seconds before failing has its retries back.
    let healthyAfter: Double
    /// Roles stopped on request (`ansar stop ROLE`): not restarted until started again.
    var held: Set<String> = []
    /// Roles to start again once they have ended (`ansar restart ROLE`).
    var relaunching: Set<String> = []
    /// Requests answered once their role has ended or started again.
    var waiting: [String: [RunnerRequest]] = [:]
    var backoffs: [String: Backoff] = [:]
    let started = SystemAccess.wallClock()

    init(
        home: Home, roles: [Role], mainRole: String?, groupAddress: SocketAddress, hostAddress: SocketAddress?,
        debugLevel: String?, logLimit: Int, healthyAfter: Double = 60, tuning: Tuning,
        permissions: NamePermissions = .open, ownLog: String? = nil, ready: Readiness.Announcement? = nil
    ) throws(SystemError) {
        self.healthyAfter = healthyAfter
        self.ownLog = ownLog.map { OwnLog(path: $0, limit: logLimit) }
        self.permissions = permissions
        capture = try LineCapture(limit: logLimit)
        self.home = home
        self.ready = ready
        self.roles = roles
        self.mainRole = mainRole
        self.groupAddress = groupAddress
        self.hostAddress = hostAddress
        self.debugLevel = debugLevel
        var environment = ChildProcess.currentEnvironment()
        // Not in the environment, which the role's own children inherit and /proc shows: a node
        // reads the home's secret file (0600), named by --home-path.
        environment[RealmSecret.environmentVariable] = nil
        environment[Node.groupAddressVariable] = nil
        environment.merge(tuning.environment) { _, flag in flag } // the runner's flags tune every role
        self.environment = environment
    }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start:
            groupDirectory = context.create(
                ScopeDirectory(listening: groupAddress, scope: .group, parent: hostAddress, permissions: permissions))
            if let ownLog { context.create(ownLog) }
            // A role that cannot be started ends the group: none after it is started.
            for role in roles where failure == nil { launchOrEnd(role, context, first: true) }
            writeState()
            check(context) // a child that could not start, or ended already
        case let signalled as Signalled where signalled.signal == SIGCHLD:
            check(context)
        case is CheckChildren:
            check(context)
        case let signalled as Signalled where signalled.signal == RunnerRequest.signal:
            for request in RunnerRequest.take(home) { handle(request, context) }
            writeState()
            check(context)
        case is Stop:
            stopAll()
            check(context)
        default:
            break
        }
    }

    /// Launches `role`; if it cannot be started, the group ends with that as its failure.
    private func launchOrEnd(_ role: Role, _ context: Context, first: Bool = false) {
        do throws(ToolError) {
            try launch(role, context, first: first)
        } catch {
            failure = error.description
            stopAll()
        }
    }

    /// Starts `role`'s program; its pid.
    @discardableResult
    private func launch(_ role: Role, _ context: Context, first: Bool = false) throws(ToolError) -> Int32 {
        // Roles log at INFO to their own files unless told otherwise: `ansar log ROLE` has
        // something to say about a role that ran well, not only about one that failed.
        let arguments = LaunchFlags.forRole(
            role.name, home: home.layout, groupAddress: groupAddress, debugLevel: debugLevel ?? "INFO")
        _ = try home.identity(of: role.name) // issued once, the first time the role runs
        do {
            let launch = first ? try Readiness() : nil
            let output = try capture.open(name: role.name, file: debugLevel == nil ? home.log(role.name) : nil)
            // Its own process group, ended with whatever it started if the runner dies.
            let child = try ChildProcess.spawnTied(
                "\(home.bin)/\(role.executable)", arguments: arguments, environment: environment,
                stdout: home.result(role.name), readiness: launch, capturing: output)
            children.append(
                Child(
                    role: role, keeper: child.keeper, pid: child.program, started: SystemAccess.wallClock(),
                    output: output, launch: launch))
            launched += 1
            context.runtime.logger.info(
                "role started", metadata: ["role": "\(role.name)", "pid": "\(child.program)"])
            return child.program
        } catch {
            throw ToolError("cannot start role \(role.name) (\(home.bin)/\(role.executable)): \(error)")
        }
    }

    /// A command's request: stop, restart or start one role of the running group.
    private func handle(_ request: RunnerRequest, _ context: Context) {
        let name = request.role
        guard !stopping else { return answer(request, .failure(ToolError("the group is stopping"))) }
        switch request.command {
        case .stop, .restart:
            if let index = children.firstIndex(where: { $0.role.name == name }) {
                // The latest request wins: a stop after a restart leaves it stopped, and so on.
                if request.command == .stop {
                    held.insert(name)
                    relaunching.remove(name)
                } else {
                    relaunching.insert(name)
                    held.remove(name)
                }
                if children[index].stopSent == nil {
                    ChildProcess.signalGroup(children[index].keeper, SIGTERM)
                    ChildProcess.signalGroup(children[index].keeper, SIGCONT)
                    children[index].stopSent = .now()
                }
                waiting[name, default: []].append(request) // answered when it has ended
                return
            }
            if pending.contains(where: { $0.role.name == name }) {
                pending.removeAll { $0.role.name == name }
                if request.command == .stop {
                    held.insert(name)
                    return answer(request, .success("stopped role \(name) (it was waiting to restart)"))
                }
            } else if request.command == .stop {
                return answer(request, .failure(ToolError("role \(name) is not running")))
            }
            start(request, context) // restart of a role that is not running: a start
        case .start:
            guard !children.contains(where: { $0.role.name == name }),
                !pending.contains(where: { $0.role.name == name })
            else { return answer(request, .failure(ToolError("role \(name) is already running"))) }
            start(request, context)
        case .permissions:
            do throws(ToolError) {
                let rules = try home.permissions()
                guard let groupDirectory else { throw ToolError("the group directory is not running") }
                do throws(SendRefused) {
                    try context.send(PermissionsChanged(rules), to: groupDirectory)
                } catch {
                    throw ToolError("the group directory did not take the rules: \(error)")
                }
                answer(request, .success("the running group's directory judges by them now"))
            } catch {
                answer(request, .failure(error))
            }
        }
    }

    /// One run more in the role's history: kept here (the file may not be written yet), written off
    /// the loop.
    private func record(_ role: String, started: Double, ended: Double, outcome: String) {
        let run = JSON.object([("started", .double(started)), ("ended", .double(ended)), ("outcome", .string(outcome))])
        let (runs, bytes) = Home.adding(run, to: histories[role] ?? home.history(role))
        histories[role] = runs
        writer.write(home.historyFile(role), bytes)
    }

    private func answer(_ request: RunnerRequest, _ outcome: Result<String, ToolError>) {
        request.answer(outcome, through: writer)
    }

    /// Starts the request's role (from its entry in the home, which may be new), and answers.
    private func start(_ request: RunnerRequest, _ context: Context) {
        let verb = request.command == .restart ? "restarted" : "started"
        if let running = children.first(where: { $0.role.name == request.role }) {
            // Started by an earlier request (two restarts of one role, say).
            return answer(request, .success("\(verb) role \(request.role) (pid \(running.pid))"))
        }
        let role: Role
        do throws(ToolError) {
            role = try home.role(request.role)
            guard ChildProcess.isExecutable("\(home.bin)/\(role.executable)") else {
                throw ToolError("role \(role.name): \(home.bin)/\(role.executable) is missing or not executable")
            }
        } catch {
            return answer(request, .failure(error))
        }
        held.remove(role.name)
        outcomes.removeAll { $0.role == role.name } // this run's outcome is the one to come
        if let index = roles.firstIndex(where: { $0.name == role.name }) {
            roles[index] = role
        } else {
            roles.append(role)
        }
        // One role that cannot be started, on request, is that request's failure; the group runs on.
        do throws(ToolError) {
            let pid = try launch(role, context)
            answer(request, .success("\(verb) role \(role.name) (pid \(pid))"))
        } catch {
            answer(request, .failure(error))
        }
    }

    private func check(_ context: Context) {
        var index = 0
        while index < children.count {
            let child = children[index]
            if let launch = child.launch,
                launch.wait(upTo: .zero) == .ready || Deadline.now() >= child.launchedAt + Self.launchWindow
            {
                children[index].launch = nil
            }
            guard let exit = ChildProcess.poll(child.keeper) else {
                if let sent = child.stopSent, Deadline.now() >= sent + Self.grace {
                    context.runtime.logger.warning(
                        "role did not stop: killing it",
                        metadata: ["role": "\(child.role.name)", "pid": "\(child.pid)"])
                    ChildProcess.killTied(child.keeper)
                    children[index].stopSent = .distantFuture
                    killed.append(child.role.name)
                }
                index += 1
                continue
            }
            children.remove(at: index)
            capture.flush(child.output) // its last lines are in its log before anyone reads them
            let name = child.role.name
            if relaunching.remove(name) != nil {
                if !stopping {
                    record(
                        name, started: child.started, ended: SystemAccess.wallClock(),
                        outcome: "\(exit) (restarted on request)")
                }
                for request in waiting.removeValue(forKey: name) ?? [] {
                    if stopping {
                        answer(request, .failure(ToolError("the group is stopping")))
                    } else {
                        start(request, context)
                    }
                }
                if !stopping {
                    writeState() // its new pid
                    continue
                }
            }
            if SystemAccess.wallClock() - child.started >= healthyAfter {
                // It ran well for a while before this: its retries start afresh, as its backoff.
                retriesUsed[name] = 0
                backoffs[name] = nil
            }
            // Only a failure of its own is retried: not an end the runner asked for.
            let restarting =
                exit != .code(0) && !Self.unmendable.contains(exit) && !stopping && child.stopSent == nil
                && retriesUsed[name, default: 0] < child.role.retries
            if !launchSettled, exit != .code(0), child.stopSent == nil {
                failedAtLaunch.append((child.role.name, "\(exit)\(restarting ? ", restarting" : "")"))
            }
            if restarting {
                // Failed, and its policy allows another attempt: after a backoff with jitter. The
                // failed attempt is history too.
                record(
                    child.role.name, started: child.started, ended: SystemAccess.wallClock(),
                    outcome: "\(exit) (restarted)")
                restarts[child.role.name, default: 0] += 1
                retriesUsed[child.role.name, default: 0] += 1
                var backoff = backoffs[child.role.name] ?? Backoff(initial: .milliseconds(50), maximum: .seconds(2))
                let delay = backoff.next()
                backoffs[child.role.name] = backoff
                context.runtime.logger.notice(
                    "role failed: restarting",
                    metadata: ["role": "\(child.role.name)", "exit": "\(exit)", "in": "\(delay)"])
                pending.append(Pending(role: child.role, due: .after(delay), exit: exit))
                writeState()
                continue
            }
            var outcome = read(child.role, exit)
            outcome.stoppedByRunner = child.stopSent != nil
            if outcome.failed { outcome.lastLogLine = home.lastLine(of: home.log(child.role.name)) }
            outcomes.append(outcome)
            record(
                child.role.name, started: child.started, ended: SystemAccess.wallClock(),
                outcome: outcome.value.map { AnyMessage($0).typeName } ?? "\(exit)")
            for request in waiting.removeValue(forKey: name) ?? [] {
                answer(request, .success("stopped role \(name) (\(exit))"))
            }
            writeState()
            if child.role.name == mainRole { stopAll() }
        }
        let now = Deadline.now()
        if !stopping {
            for restart in pending where restart.due <= now && failure == nil { launchOrEnd(restart.role, context) }
        }
        pending.removeAll { $0.due <= now || stopping }
        if !launchSettled, !children.contains(where: { $0.launch != nil }) {
            // Every first attempt is up or has ended: `ansar start` may report now.
            launchSettled = true
            let failed = failedAtLaunch
            let report = JSON.object([
                (
                    "failed",
                    .array(failed.map { .object([("role", .string($0.0)), ("exit", .string($0.1))]) })
                )
            ])
            writer.write(home.launchReport, Array(report.description.utf8))
            writeState()
        }
        scheduleCheck(context)
        if children.isEmpty && pending.isEmpty
            && (stopping || mainRole == nil || outcomes.contains { $0.role == mainRole })
        {
            context.cancelTimer(CheckChildren.self)
            let report = JSON.object([("killed", .array(killed.map(JSON.string)))])
            writer.write(home.stopReport, Array(report.description.utf8))
            writer.remove(home.state)
            context.complete(Ack())
        }
    }

    /// Children's exits arrive as SIGCHLD; a timer is needed only for what is due without one:
    /// a restart after its backoff, a SIGKILL after the grace period, a launch to look at.
    private func scheduleCheck(_ context: Context) {
        let launching = children.contains { $0.launch != nil } ? [Deadline.after(Self.launchPoll)] : []
        let dues =
            pending.map(\.due) + children.compactMap { child in child.stopSent.map { $0 + Self.grace } } + launching
        guard let next = dues.filter({ $0 != .distantFuture }).min() else {
            context.cancelTimer(CheckChildren.self)
            return
        }
        context.startTimer(CheckChildren(), after: .nanoseconds(Int64(Deadline.now().nanoseconds(until: next))))
    }

    /// What `ansar status` reads while the group runs: every role — running (with its pid),
    /// waiting to restart, ended (how, and whether the runner had asked it to stop), or not
    /// started (it could not be).
    private func writeState() {
        func entry(_ role: String, _ fields: [(String, JSON)]) -> JSON {
            .object(
                [("role", .string(role)), ("restarts", .integer(Int64(restarts[role, default: 0])))] + fields)
        }
        var entries: [String: JSON] = [:]
        for role in roles {
            entries[role.name] = entry(role.name, [("state", .string("not started"))]) // what follows may say more
        }
        for outcome in outcomes {
            entries[outcome.role] = entry(
                outcome.role,
                [
                    ("state", .string(outcome.stoppedByRunner ? "stopped" : "\(outcome.exit)")),
                    ("exit", .string("\(outcome.exit)")),
                ])
        }
        for restart in pending {
            entries[restart.role.name] = entry(
                restart.role.name, [("state", .string("restarting")), ("exit", .string("\(restart.exit)"))])
        }
        for child in children {
            entries[child.role.name] = entry(
                child.role.name,
                [
                    ("state", .string("running")), ("pid", .integer(Int64(child.pid))),
                    ("processGroup", .integer(Int64(child.keeper))), ("started", .double(child.started)),
                ])
        }
        let state = JSON.object([
            ("pid", .integer(Int64(ChildProcess.currentProcessID()))), ("group", .string(groupAddress.description)),
            ("started", .double(started)),
            ("launched", .integer(Int64(launched))),
            ("roles", .array(roles.compactMap { entries[$0.name] })),
        ])
        // `ansar start` is told once the state it will read is on disk; a runner that failed says
        // nothing, and its end (the pipe closed) sends `start` to the group's log for the reason.
        let ready = launchSettled && failure == nil ? self.ready : nil
        writer.write(home.state, Array((state.pretty + "\n").utf8)) { ready?.announce() }
    }

    private func read(_ role: Role, _ exit: ChildProcess.Exit) -> RoleOutcome {
        let text =
            (try? SystemAccess.readSmallFile(home.result(role.name), limit: 16 << 20)).map {
                String(decoding: $0.bytes, as: UTF8.self)
            } ?? ""
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        guard !line.isEmpty else { return RoleOutcome(role: role.name, exit: exit, value: nil, garbage: nil) }
        guard let json = try? JSON(parsing: line), case .string(let type)? = json["type"], let value = json["value"]
        else {
            return RoleOutcome(role: role.name, exit: exit, value: nil, garbage: String(line.prefix(80)))
        }
        return RoleOutcome(role: role.name, exit: exit, value: Incognito(typeName: type, fields: value), garbage: nil)
    }

    /// SIGTERM to every role still running, each with whatever it started (its process group),
    /// and SIGCONT so that a paused one wakes to hear it; SIGKILL for those still there after the
    /// grace period.
    private func stopAll() {
        stopping = true
        for index in children.indices where children[index].stopSent == nil {
            ChildProcess.signalGroup(children[index].keeper, SIGTERM)
            ChildProcess.signalGroup(children[index].keeper, SIGCONT)
            children[index].stopSent = .now()
        }
    }
}
