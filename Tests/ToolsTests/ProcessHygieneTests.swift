import Actors
import AnsarTestKit
import Platform
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("The ansar command keeps its processes: a role's tree stops with it, nothing outlives the runner")
struct ProcessHygieneTests {
    /// The pids in `ansar status --json`: the runner's, and each role's by name.
    static func pids(_ scratch: Scratch) throws -> (runner: Int32, roles: [String: Int32]) {
        let (code, text, errors) = try scratch.ansar(["status", "--json"])
        #expect(code == 0, "\(errors)")
        let json = try JSON(parsing: text)
        guard case .integer(let runner)? = json["pid"], case .array(let roles)? = json["roles"] else {
            Issue.record("status --json without pids: \(text)")
            return (0, [:])
        }
        var found: [String: Int32] = [:]
        for role in roles {
            if case .string(let name)? = role["role"], case .integer(let pid)? = role["pid"] {
                found[name] = Int32(pid)
            }
        }
        return (Int32(runner), found)
    }

    @Test("stop ends a role and the process it started, as one tree")
    func stopEndsTheTree() throws {
        let scratch = try Scratch()
        // A shell that starts a child and waits for it: SIGTERM to the shell alone leaves the child.
        try scratch.script("forker", "sleep 300 &\necho $! > \(scratch.path)/child.pid\nwait")
        try scratch.seedHome()
        #expect(try scratch.ansar(["add", "forker", "tree"]).0 == 0)
        #expect(try scratch.ansar(["start"]).0 == 0)
        let childFile = "\(scratch.path)/child.pid"
        #expect(within(10) { !Subprocess.read(childFile).isEmpty }, "the role never started its child")
        let child = Int32(Subprocess.read(childFile).split(separator: "\n").first ?? "") ?? 0
        #expect(child > 0 && ChildProcess.isAlive(child))
        let (stopped, _, errors) = try scratch.ansar(["stop"])
        #expect(stopped == 0, "\(errors)")
        #expect(ChildProcess.waitForEnd(of: child, upTo: .seconds(5)), "the role's child outlived the stop")
    }

    /// A role that starts two children, one in its process group and one that leaves it (setsid),
    /// so a signal to the role's group alone would miss it, then goes on with `ending`. Each child
    /// writes its own pid to the file once it is where it will stay, and the role waits for both
    /// lines: a child caught still in the group on its way out would make the check pass unearned.
    static func forker(_ scratch: Scratch, _ name: String, then ending: String = "wait") throws -> String {
        let file = "\(scratch.path)/\(name).pids"
        let child = "sh -c 'echo $$ >> \(file); exec sleep 300'"
        try scratch.script(
            name,
            """
            \(child) &
            setsid \(child) &
            tries=0
            while [ "$(cat \(file) 2>/dev/null | wc -l)" -lt 2 ] && [ $tries -lt 1000 ]; do
                sleep 0.01; tries=$((tries + 1))
            done
            \(ending)
            """)
        return file
    }

    /// The pids a ``forker(_:_:then:)`` wrote, once it has written both.
    static func children(in file: String) -> [Int32] {
        var pids: [Int32] = []
        _ = within(10) {
            pids = Subprocess.read(file).split(separator: "\n").compactMap { Int32($0) }
            return pids.count == 2
        }
        #expect(pids.count == 2 && pids.allSatisfy(ChildProcess.isAlive), "the role never started its children")
        return pids
    }

    @Test(
        "the runner killed with SIGKILL takes every role with it within 5 s, and what they started, even outside their group; the next start is clean"
    )
    func runnerKilled() throws {
        let scratch = try Scratch()
        // Roles that run until stopped (sub would end with its Welcome): pub, a program that is
        // not ours, and one that starts children of its own.
        try scratch.script("sleeper", "exec sleep 300")
        let pidFile = try Self.forker(scratch, "forker")
        try scratch.seedHome()
        #expect(try scratch.ansar(["delete", "sub"]).0 == 0)
        #expect(try scratch.ansar(["add", "sleeper", "nap"]).0 == 0)
        #expect(try scratch.ansar(["add", "forker", "tree"]).0 == 0)
        #expect(try scratch.ansar(["start"]).0 == 0)
        let (runner, roles) = try Self.pids(scratch)
        #expect(Set(roles.keys) == ["pub", "nap", "tree"], "\(roles)")
        let descendants = Self.children(in: pidFile)
        kill(runner, SIGKILL)
        for (role, pid) in roles {
            #expect(
                ChildProcess.waitForEnd(of: pid, upTo: .seconds(5)), "role \(role) (pid \(pid)) outlived its runner")
        }
        for pid in descendants {
            #expect(
                ChildProcess.waitForEnd(of: pid, upTo: .seconds(5)), "process \(pid) of role tree outlived the runner")
        }
        ChildProcess.remove(pidFile)
        let (again, _, againErrors) = try scratch.ansar(["start"])
        #expect(again == 0, "\(againErrors)")
        let (_, rolesAgain) = try Self.pids(scratch)
        #expect(Set(rolesAgain.keys) == ["pub", "nap", "tree"], "every role runs again: \(rolesAgain)")
        let (stopped, report, _) = try scratch.ansar(["stop"])
        #expect(stopped == 0 && report == "", "\(report)")
    }

    @Test("a role that ends leaves nothing behind, even outside its group; its own exit is what the runner sees")
    func endedRoleLeavesNothing() throws {
        let scratch = try Scratch()
        let pidFile = try Self.forker(scratch, "quitter", then: "exit 3")
        try scratch.seedHome()
        #expect(try scratch.ansar(["add", "quitter", "brief"]).0 == 0)
        let (code, _, errors) = try scratch.ansar(["run", "--main-role=brief"])
        #expect(code == 3, "the role's own exit: \(errors)")
        let descendants = Subprocess.read(pidFile).split(separator: "\n").compactMap { Int32($0) }
        #expect(descendants.count == 2, "the role never started its children")
        for pid in descendants {
            #expect(ChildProcess.waitForEnd(of: pid, upTo: .seconds(5)), "process \(pid) outlived its role")
        }
    }

    @Test("a role killed for not stopping in time leaves nothing behind, even outside its group")
    func killedRoleLeavesNothing() throws {
        let scratch = try Scratch()
        let pidFile = try Self.forker(scratch, "stubborn", then: "trap '' TERM\nwhile true; do sleep 1; done")
        try scratch.seedHome()
        #expect(try scratch.ansar(["delete", "sub"]).0 == 0)
        #expect(try scratch.ansar(["add", "stubborn", "mule"]).0 == 0)
        #expect(try scratch.ansar(["start"]).0 == 0)
        let descendants = Self.children(in: pidFile)
        let (stopped, report, errors) = try scratch.ansar(["stop"])
        #expect(stopped == 0 && report == "role mule did not stop in time: killed\n", "\(report) \(errors)")
        for pid in descendants {
            #expect(ChildProcess.waitForEnd(of: pid, upTo: .seconds(5)), "process \(pid) outlived its role")
        }
    }

    @Test(
        "a home is its owner's only: folders 0700, the secret, settings and the group's state 0600; roles write no core"
    )
    func homeModes() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        #expect(try scratch.ansar(["set", "settings", "sub", "clientName=Ann"]).0 == 0)
        // Started where cores are allowed: only the processes themselves can turn them off.
        let started = try Subprocess.run(
            "/usr/bin/prlimit",
            ["--core=unlimited", "\(Subprocess.buildDirectory())/ansar", "start", "--home-path=\(scratch.home)"])
        #expect(started.0 == 0, "\(started.2)")
        defer { _ = try? scratch.ansar(["stop"]) }
        let home = scratch.home
        for folder in [home, "\(home)/settings", "\(home)/tmp", "\(home)/logs", "\(home)/bin"] {
            #expect(FileSafety.mode(folder) == 0o700, "\(folder)")
        }
        for file in ["\(home)/secret", "\(home)/settings/sub.json", "\(home)/tmp/group.json"] {
            #expect(FileSafety.mode(file) == 0o600, "\(file)")
        }
        // A role holds the secret and its keys: the kernel writes no core file of it.
        let state = try JSON(parsing: Subprocess.read("\(home)/tmp/group.json"))
        guard case .array(let roles)? = state["roles"],
            let pub = roles.first(where: { $0["role"] == .string("pub") }), case .integer(let pid)? = pub["pid"]
        else {
            Issue.record("no running pub in \(state)")
            return
        }
        let limits = try Subprocess.run("/bin/cat", ["/proc/\(pid)/limits"]).1
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") } ?? ""
        #expect(core.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).first == "0", "\(core)")
    }

    @Test("a role's environment holds no realm secret, even when the runner's did; the roles still find each other")
    func noSecretInEnvironment() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        #expect(try scratch.ansar(["delete", "sub"]).0 == 0)
        let secret = Subprocess.read("\(scratch.home)/secret").split(separator: "\n").first.map(String.init) ?? ""
        #expect(secret.count == 64)
        let (started, _, errors) = try Subprocess.run(
            "ansar", ["start", "--home-path=\(scratch.home)"], environment: ["ANSAR_REALM_SECRET": secret])
        #expect(started == 0, "\(errors)")
        let (_, roles) = try Self.pids(scratch)
        let pub = try #require(roles["pub"])
        let (_, environ, _) = try Subprocess.run("/bin/cat", ["/proc/\(pub)/environ"]) // /proc files have no size
        #expect(environ.contains("PATH="), "environ is readable")
        #expect(
            !environ.contains("ANSAR_REALM_SECRET") && !environ.contains(secret),
            "the secret is in the role's environment")
        // The role took the secret from the home: its listing reached the group's directory.
        let (found, _, pingErrors) = try scratch.ansar(["ping", "hello-welcome"])
        #expect(found == 0, "\(pingErrors)")
        #expect(try scratch.ansar(["stop"]).0 == 0)
    }

    @Test("1,000 rounds of start && stop: every start succeeds, no role ever finds its last run still there")
    func thousandRounds() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        var failures: [String] = []
        for round in 0..<1_000 where failures.count < 3 {
            let (started, _, startErrors) = try scratch.ansar(["start"])
            if started != 0 { failures.append("round \(round): start \(started): \(startErrors)") }
            let (stopped, _, stopErrors) = try scratch.ansar(["stop"])
            if stopped != 0 { failures.append("round \(round): stop \(stopped): \(stopErrors)") }
        }
        #expect(failures.isEmpty, "\(failures)")
        for role in ["pub", "sub"] {
            let log = Subprocess.read("\(scratch.home)/logs/\(role).log")
            #expect(!log.contains("already running"), "role \(role) found its last run still there")
        }
    }

    @Test("stop of a paused group wakes its roles to hear SIGTERM: none has to be killed")
    func stopPausedGroup() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        #expect(try scratch.ansar(["start"]).0 == 0)
        #expect(try scratch.ansar(["pause"]).0 == 0)
        let (stopped, report, errors) = try scratch.ansar(["stop"])
        #expect(stopped == 0, "\(errors)")
        #expect(report == "", "a paused role had to be killed: \(report)")
    }

    @Test(
        "exit statuses: a main role killed by signal n gives 128+n, a failing other role is named with its last log line, Ctrl-C gives 130"
    )
    func exitStatuses() throws {
        let scratch = try Scratch()
        try scratch.script("crash", "echo 'cannot open the frobnicator' >&2\nexit 5")
        try scratch.script("suicide", "kill -9 $$")
        try scratch.script("sleeper", "exec sleep 300")
        try scratch.seedHome()
        // Another role fails while the main one succeeds: the group's status is the main role's,
        // and the failure is said where the user looks.
        #expect(try scratch.ansar(["add", "crash", "crasher"]).0 == 0)
        let (code, output, errors) = try scratch.ansar(["run", "--main-role=sub"])
        #expect(code == 0 && output == welcome, "\(errors)")
        #expect(
            errors.contains(
                "ansar: role crasher failed (exit 5): cannot open the frobnicator — see `ansar log crasher`\n"),
            "\(errors)")
        #expect(try scratch.ansar(["delete", "crasher"]).0 == 0)
        // The main role killed by SIGKILL: 137.
        #expect(try scratch.ansar(["add", "suicide", "doomed"]).0 == 0)
        let (killed, _, killedErrors) = try scratch.ansar(["run", "--main-role=doomed"])
        #expect(killed == 128 + SIGKILL, "\(killedErrors)")
        #expect(killedErrors.contains("ansar: role doomed failed (killed by signal 9)"), "\(killedErrors)")
        #expect(try scratch.ansar(["delete", "doomed"]).0 == 0)
        // Ctrl-C on `ansar run`: 130, and the roles stopped are not failures.
        #expect(try scratch.ansar(["add", "sleeper", "nap"]).0 == 0)
        let run = try Subprocess("ansar", ["run", "--main-role=nap", "--home-path=\(scratch.home)"])
        let up = try within(10) { try Self.pidsIfRunning(scratch)?.roles["nap"] != nil }
        #expect(up, "the group never came up")
        run.signal(SIGINT)
        #expect(run.wait() == 128 + SIGINT, "\(run.errors)")
        #expect(!run.errors.contains("failed"), "\(run.errors)")
    }

    @Test("group.log keeps every run, its output and its errors both; roles log at INFO to their own files")
    func logsKeepEveryRun() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        for _ in 0..<2 {
            #expect(try scratch.ansar(["start"]).0 == 0)
            // The runner prints the values at the end: wait for sub's before stopping.
            #expect(try within(10) { try scratch.ansar(["returned", "sub"]).1 == welcome })
            let (stopped, _, errors) = try scratch.ansar(["stop"])
            #expect(stopped == 0, "\(errors)")
        }
        let log = Subprocess.read("\(scratch.home)/logs/group.log")
        #expect(log.components(separatedBy: "sub: hello_welcome.Welcome").count == 3, "\(log)")
        let (_, pubLog, _) = try scratch.ansar(["log", "pub"])
        #expect(pubLog.contains(" info ") && pubLog.contains("subscriber arrived"), "\(pubLog)")
    }

    @Test("status lists every role: running, paused, ended with its exit, with restarts and uptime")
    func statusListsEveryRole() throws {
        let scratch = try Scratch()
        try scratch.script("crash", "echo 'no frobnicator' >&2\nexit 5")
        try scratch.seedHome()
        #expect(try scratch.ansar(["delete", "sub"]).0 == 0)
        #expect(try scratch.ansar(["add", "crash", "crasher"]).0 == 0)
        // Dead at launch: start says so.
        let (started, _, startErrors) = try scratch.ansar(["start"])
        #expect(started == 1)
        #expect(
            startErrors
                == "ansar: role crasher failed at start (exit 5): no frobnicator — see `ansar log crasher`\n")
        func row(_ role: String) throws -> [String] {
            let (_, table, _) = try scratch.ansar(["status"])
            let line = table.split(separator: "\n").first { $0.hasPrefix(role + " ") } ?? ""
            return line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        }
        #expect(try within(10) { try row("crasher").contains("5") }, "crasher never shown as ended")
        let crasher = try row("crasher")
        #expect(crasher.starts(with: ["crasher", "exit", "5", "-", "-", "0", "exit", "5"]), "\(crasher)")
        let pub = try row("pub")
        #expect(pub.count == 6 && pub[1] == "running" && pub[3].hasSuffix("s") && pub[4] == "0", "\(pub)")
        #expect(try scratch.ansar(["status"]).1.hasPrefix("ROLE "))
        #expect(try scratch.ansar(["pause"]).0 == 0)
        let paused = try within(5) { try row("pub").dropFirst().first == "paused" }
        #expect(paused, "pub never shown as paused")
        #expect(try scratch.ansar(["resume"]).0 == 0)
        #expect(try scratch.ansar(["stop"]).0 == 0)
    }

    @Test("run and start take the roles to run; none means every role")
    func someRoles() throws {
        let scratch = try Scratch()
        try scratch.script("crash", "exit 5")
        try scratch.seedHome()
        #expect(try scratch.ansar(["add", "crash", "crasher"]).0 == 0)
        let (code, output, errors) = try scratch.ansar(["run", "pub", "sub", "--main-role=sub"])
        #expect(code == 0 && output == welcome && errors.isEmpty, "\(errors)")
        let unknown = try scratch.ansar(["run", "nosuch"])
        #expect(unknown.0 == 1 && unknown.2 == "ansar: unknown role nosuch: see `ansar list`\n", "\(unknown.2)")
        let outside = try scratch.ansar(["run", "pub", "--main-role=sub"])
        #expect(
            outside.0 == 1 && outside.2 == "ansar: main role sub is not among the roles to run: pub\n", "\(outside.2)")
        #expect(try scratch.ansar(["start", "pub"]).0 == 0)
        let (_, roles) = try Self.pids(scratch)
        #expect(Set(roles.keys) == ["pub"], "\(roles)")
        #expect(try scratch.ansar(["stop"]).0 == 0)
        let version = try Subprocess.run("ansar", ["--version"])
        #expect(version.0 == 0 && version.1.hasPrefix("ansar 0."), "\(version)")
    }

    @Test("a second `directory --background` is refused at once; the first keeps running and --stop stops it")
    func secondDirectoryRefused() throws {
        let scratch = try Scratch()
        #expect(try scratch.ansar(["create"]).0 == 0)
        let address = "--address=@ansar-test-directory-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let (first, _, firstErrors) = try scratch.ansar(["directory", "--background", address])
        #expect(first == 0, "\(firstErrors)")
        let state = "\(scratch.home)/tmp/directory.json"
        let pid = try JSON(parsing: Subprocess.read(state))["pid"]
        let (second, _, secondErrors) = try scratch.ansar(["directory", "--background", address])
        #expect(second == 1, "\(secondErrors)")
        #expect(secondErrors.hasPrefix("ansar: a host directory is already running from "), "\(secondErrors)")
        #expect(try JSON(parsing: Subprocess.read(state))["pid"] == pid, "the first one's state is kept")
        #expect(try scratch.ansar(["directory", "--stop"]).0 == 0)
        guard case .integer(let number)? = pid else { return }
        #expect(ChildProcess.waitForEnd(of: Int32(number), upTo: .seconds(5)), "--stop stopped the first one")
    }

    /// ``pids(_:)`` once a group runs, else nil.
    static func pidsIfRunning(_ scratch: Scratch) throws -> (runner: Int32, roles: [String: Int32])? {
        guard try scratch.ansar(["status"]).0 == 0 else { return nil }
        return try pids(scratch)
    }
}

/// File permission bits, for the tests that check them.
enum FileSafety {
    static func mode(_ path: String) -> UInt32 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt32(info.st_mode) & 0o7777 : 0
    }
}
