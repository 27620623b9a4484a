import AnsarTestKit
import Platform
import Reactor
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A scratch folder with a `dist` of the example executables, removed at the end.
final class Scratch {
    let path: String
    var home: String { "\(path)/home" }

    init() throws {
        var template = Array("/tmp/ansar-cli-XXXXXX".utf8CString)
        path = String(cString: mkdtemp(&template)!)
        try SystemAccess.makeDirectories("\(path)/dist")
        for name in ["publish-a-service", "subscribe-to-service"] {
            try ChildProcess.copy("\(Subprocess.buildDirectory())/\(name)", to: "\(path)/dist/\(name)")
        }
    }

    deinit { _ = system("rm -rf \(path)") }

    /// Runs `ansar` with the home option; exit status, stdout, stderr.
    func ansar(_ arguments: [String]) throws -> (Int32, String, String) {
        try Subprocess.run("ansar", arguments + ["--home-path=\(home)"])
    }

    func script(_ name: String, _ body: String) throws {
        try SystemAccess.writeFileAtomically("\(path)/dist/\(name)", Array("#!/bin/sh\n\(body)\n".utf8), mode: 0o755)
    }

    /// create, deploy, add pub and sub.
    func seedHome() throws {
        for command in [
            ["create"], ["deploy", "\(path)/dist"], ["add", "publish-a-service", "pub"],
            ["add", "subscribe-to-service", "sub"],
        ] {
            let (code, _, errors) = try ansar(command)
            #expect(code == 0, "\(command): \(errors)")
        }
    }
}

let welcome = "hello_welcome.Welcome\n  my_name: \"Buster\"\n  your_name: \"Gladys\"\n"

@Suite("The ansar command, run as a real program")
struct AnsarTests {
    @Test("the seed's flow: create, deploy, add, run --main-role=sub prints the Welcome")
    func seedFlow() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        let (listed, roles, _) = try scratch.ansar(["list"])
        #expect(listed == 0 && roles == "pub\nsub\n")
        let (code, output, errors) = try scratch.ansar(["run", "--main-role=sub"])
        #expect(code == 0, "\(errors)")
        #expect(output == welcome)
        // Settings from the home apply: the client's name.
        try SystemAccess.writeFileAtomically("\(scratch.home)/settings/sub.json", Array(#"{"clientName": "Ann"}"#.utf8))
        let (_, renamed, _) = try scratch.ansar(["run", "--main-role=sub"])
        #expect(renamed == welcome.replacingAll("Gladys", with: "Ann"))
        // --debug-level: the roles log to the runner's own stderr.
        let (debugCode, debugOutput, debugErrors) = try scratch.ansar(["run", "--main-role=sub", "--debug-level=info"])
        #expect(debugCode == 0 && debugOutput == welcome.replacingAll("Gladys", with: "Ann"))
        #expect(debugErrors.contains("publish-a-service"), "\(debugErrors)")
    }

    @Test(
        "bad input: one line naming the thing and the fix, exit 1, the home left as it was",
        arguments: [
            "no home", "not a home", "unknown executable", "invalid role name", "role exists", "deploy from nowhere",
            "unknown main role", "corrupt role entry", "executable gone", "garbage on stdout", "corrupt settings",
            "realm of nothing", "WAN directory with a parent", "bad parent", "bad relay",
            "relay named for a LAN directory", "relay named without its key", "relay without a key",
            "bad keep-alive", "bad socket count", "destroy unconfirmed", "deploy a file that cannot run",
        ])
    func badInput(case name: String) throws {
        let scratch = try Scratch()
        let expected: String
        var command: [String]
        switch name {
        case "no home":
            command = ["list"]
            expected = "ansar: no home at \(scratch.home): create one with `ansar create`, or give --home-path"
        case "not a home":
            try SystemAccess.makeDirectories(scratch.home)
            command = ["run"]
            expected =
                "ansar: \(scratch.home) is not an ansar home (no secret or roles folder): give --home-path, or `ansar create` a new one"
        case "unknown executable":
            try scratch.seedHome()
            command = ["add", "nothing-like-it", "x"]
            expected =
                "ansar: no executable nothing-like-it in \(scratch.home)/bin: deploy it first (`ansar deploy FOLDER`)"
        case "invalid role name":
            try scratch.seedHome()
            command = ["add", "publish-a-service", "bad name"]
            expected =
                "ansar: invalid role name \"bad name\": use 1-64 letters, digits, - and _, starting with a letter or digit"
        case "role exists":
            try scratch.seedHome()
            command = ["add", "publish-a-service", "pub"]
            expected = "ansar: role pub exists: `ansar delete pub` first"
        case "deploy from nowhere":
            try scratch.seedHome()
            command = ["deploy", "\(scratch.path)/missing"]
            expected =
                "ansar: cannot read \(scratch.path)/missing: give a folder of executables, or one executable"
        case "deploy a file that cannot run":
            try scratch.seedHome()
            try SystemAccess.writeFileAtomically("\(scratch.path)/notes.txt", Array("hi".utf8))
            command = ["deploy", "\(scratch.path)/notes.txt"]
            expected =
                "ansar: \(scratch.path)/notes.txt is not executable: `chmod +x` it, or give a folder of executables"
        case "destroy unconfirmed":
            try scratch.seedHome()
            command = ["destroy"]
            expected = "ansar: destroy removes \(scratch.home) and everything in it: give --yes to confirm"
        case "unknown main role":
            try scratch.seedHome()
            command = ["run", "--main-role=nobody"]
            expected = "ansar: unknown main role nobody: see `ansar list`"
        case "corrupt role entry":
            try scratch.seedHome()
            try SystemAccess.writeFileAtomically("\(scratch.home)/roles/sub.json", Array("{not json".utf8))
            command = ["run", "--main-role=sub"]
            expected =
                "ansar: role entry \(scratch.home)/roles/sub.json is corrupt (expected a member name at line 1, column 2): `ansar delete sub` and add it again"
        case "executable gone":
            try scratch.seedHome()
            ChildProcess.remove("\(scratch.home)/bin/subscribe-to-service")
            command = ["run", "--main-role=sub"]
            expected =
                "ansar: role sub: \(scratch.home)/bin/subscribe-to-service is missing or not executable; deploy it again"
        case "corrupt settings":
            try scratch.seedHome()
            try SystemAccess.writeFileAtomically("\(scratch.home)/settings/pub.json", Array(#"{"serverName": "#.utf8))
            command = ["run", "--main-role=sub"]
            expected =
                "ansar: settings file \(scratch.home)/settings/pub.json is corrupt (unexpected end of text at line 1, column 16): fix it with `ansar edit settings pub`"
        case "realm of nothing":
            command = ["create", "--realm-of=\(scratch.path)/no-secret"]
            expected =
                "ansar: realm secret \(scratch.path)/no-secret: open: No such file or directory (errno 2); no home was created"
        case "WAN directory with a parent":
            try scratch.seedHome()
            command = ["directory", "--scope=wan", "--parent=198.18.0.1:32178"]
            expected = "ansar: a WAN directory has no parent"
        case "bad parent":
            try scratch.seedHome()
            command = ["directory", "--scope=lan", "--parent=nowhere"]
            expected = "ansar: invalid parent address nowhere: use host:port"
        case "bad relay":
            try scratch.seedHome()
            command = ["directory", "--scope=wan", "--relay=relay"]
            expected = "ansar: invalid relay address relay: use host:port or none"
        case "relay named for a LAN directory":
            try scratch.seedHome()
            command = ["directory", "--scope=lan", "--relay-at=198.18.0.9:32179"]
            expected = "ansar: --relay-at names a WAN directory's relay, instead of --relay"
        case "relay named without its key":
            try scratch.seedHome()
            command = ["directory", "--scope=wan", "--relay-at=198.18.0.9:32179"]
            expected =
                "ansar: --relay-at needs --relay-key-file: the file `ansar relay --write-key-file` made for that relay"
        case "relay without a key":
            try scratch.seedHome()
            command = ["relay", "--address=127.0.0.1:0"]
            expected =
                "ansar: ansar relay needs --key-file: make one with --write-key-file, and give it to the WAN directory"
        case "bad keep-alive":
            try scratch.seedHome()
            command = ["run", "--main-role=sub", "--network-keep-alive=4"]
            expected =
                "ansar: --network-keep-alive=4: expected PROBE/DEADLINE in seconds with 0 < PROBE < DEADLINE ≤ 3600, like 0.5/1.5"
        case "bad socket count":
            try scratch.seedHome()
            command = ["directory", "--sockets=-3"]
            expected = "ansar: --sockets=-3: expected a whole number above 0"
        default: // garbage on stdout
            try scratch.script("chatty", "echo hello there")
            try scratch.seedHome()
            #expect(try scratch.ansar(["add", "chatty", "talker"]).0 == 0)
            command = ["run", "--main-role=talker"]
            expected = "ansar: role talker printed something that is not a result: hello there"
        }
        let before = Subprocess.read("\(scratch.home)/roles/sub.json")
        let (code, output, errors) = try scratch.ansar(command)
        #expect(code == 1)
        #expect(output == "")
        #expect(errors == expected + "\n")
        #expect(Subprocess.read("\(scratch.home)/roles/sub.json") == before, "the home is left as it was")
        if name == "realm of nothing" { #expect(!SystemAccess.exists(scratch.home), "no home was made") }
    }

    @Test(
        "start returns once the group is up; status, log and returned look inside; a second start is refused; stop ends it"
    )
    func startStatusStop() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        let (started, _, startErrors) = try scratch.ansar(["start"])
        #expect(started == 0, "\(startErrors)")
        let (statusCode, status, _) = try scratch.ansar(["status"])
        #expect(statusCode == 0)
        #expect(status.contains("pub "), "\(status)")
        let (jsonCode, json, _) = try scratch.ansar(["status", "--json"])
        #expect(jsonCode == 0 && json.hasPrefix("{\"pid\":"))
        // A role runs once: a second process of it is refused, naming it.
        let (twice, _, twiceErrors) = try Subprocess.run(
            "publish-a-service", ["--home-path=\(scratch.home)", "--role-name=pub"], environment: [:])
        #expect(twice == 64 && twiceErrors == "publish-a-service: role pub is already running in \(scratch.home)\n")
        let (again, _, againErrors) = try scratch.ansar(["start"])
        #expect(again == 1)
        #expect(againErrors == "ansar: a group is already running in \(scratch.home): `ansar stop` it first\n")
        let (stopped, _, stopErrors) = try scratch.ansar(["stop"])
        #expect(stopped == 0, "\(stopErrors)")
        let (afterStop, _, afterErrors) = try scratch.ansar(["status"])
        #expect(afterStop == 1)
        #expect(afterErrors == "ansar: no group is running in \(scratch.home)\n")
        let (_, returned, _) = try scratch.ansar(["returned", "sub"])
        #expect(returned == welcome)
        let (_, settings, _) = try scratch.ansar(["settings", "sub"])
        #expect(settings == "{}\n")
        let (_, folder, _) = try scratch.ansar(["folder", "logs"])
        #expect(folder == "\(scratch.home)/logs\n")
        let (logCode, _, _) = try scratch.ansar(["log", "pub"])
        #expect(logCode == 0)
        let (_, roles, _) = try scratch.ansar(["list", "--json"])
        #expect(
            roles
                == #"[{"role":"pub","executable":"publish-a-service","retries":0},{"role":"sub","executable":"subscribe-to-service","retries":0}]"#
                + "\n")
        let (nothing, _, nothingErrors) = try scratch.ansar(["stop"])
        #expect(nothing == 1 && nothingErrors == "ansar: no group is running in \(scratch.home)\n")
    }

    @Test("network and ping look into a running group")
    func networkAndPing() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        #expect(try scratch.ansar(["delete", "sub"]).0 == 0)
        #expect(try scratch.ansar(["start"]).0 == 0)
        defer { _ = try? scratch.ansar(["stop"]) }
        let (found, ping, pingErrors) = try scratch.ansar(["ping", "hello-welcome"])
        #expect(found == 0, "\(pingErrors)")
        #expect(ping.hasPrefix("hello-welcome: found in "))
        let (missing, _, missingErrors) = try scratch.ansar(["ping", "nothing-here", "--seconds=0.2"])
        #expect(missing == 1 && missingErrors == "ansar: service nothing-here not found within 0.2 s\n")
        let (code, network, _) = try scratch.ansar(["network"])
        #expect(code == 0)
        #expect(network.hasPrefix("+ GROUP @ansar-group-"))
        #expect(network.contains("  listing hello-welcome (GROUP)\n"))
    }

    @Test("two groups of one machine see each other's HOST-scope services through `ansar directory`")
    func twoGroupsThroughTheHostDirectory() throws {
        let first = try Scratch()
        let second = try Scratch()
        try first.seedHome()
        try second.seedHome()
        // One realm: the second home takes the first one's secret.
        try ChildProcess.copy("\(first.home)/secret", to: "\(second.home)/secret")
        #expect(try first.ansar(["delete", "sub"]).0 == 0)
        #expect(try second.ansar(["delete", "pub"]).0 == 0)
        try SystemAccess.writeFileAtomically("\(first.home)/settings/pub.json", Array(#"{"scope": "host"}"#.utf8))
        try SystemAccess.writeFileAtomically("\(second.home)/settings/sub.json", Array(#"{"scope": "host"}"#.utf8))
        let host = "@ansar-test-host-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #expect(try first.ansar(["directory", "--background", "--address=\(host)"]).0 == 0)
        defer {
            #expect((try? first.ansar(["directory", "--stop"]).0) == 0)
        }
        #expect(try first.ansar(["start", "--host-address=\(host)"]).0 == 0)
        defer { _ = try? first.ansar(["stop"]) }
        let (code, output, errors) = try second.ansar(["run", "--main-role=sub", "--host-address=\(host)"])
        #expect(code == 0, "\(errors)")
        #expect(output == welcome)
        // The lineage: the first group's directory, then the host's, which holds the HOST-scope listing.
        let (networkCode, network, _) = try first.ansar(["network"])
        #expect(networkCode == 0)
        #expect(network.contains("\n  + HOST \(host)\n"), "\(network)")
        #expect(network.contains("\n    listing hello-welcome (HOST)\n"), "\(network)")
    }

    @Test("pause and resume a running group; update a role; destroy refuses a running home, then removes it")
    func pauseResumeUpdateDestroy() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        #expect(try scratch.ansar(["update", "sub", "--retries=2"]).0 == 0)
        #expect(Subprocess.read("\(scratch.home)/roles/sub.json").contains(#""retries": 2"#))
        #expect(try scratch.ansar(["delete", "sub"]).0 == 0)
        #expect(try scratch.ansar(["start"]).0 == 0)
        #expect(try scratch.ansar(["pause"]).0 == 0)
        let (paused, _, _) = try scratch.ansar(["ping", "hello-welcome", "--seconds=0.3"])
        #expect(paused == 1, "a paused publisher cannot answer")
        #expect(try scratch.ansar(["resume"]).0 == 0)
        let (resumed, _, errors) = try scratch.ansar(["ping", "hello-welcome", "--seconds=10"])
        #expect(resumed == 0, "\(errors)")
        let (refused, _, refusal) = try scratch.ansar(["destroy"])
        #expect(refused == 1 && refusal == "ansar: a group is running in \(scratch.home): `ansar stop` it first\n")
        #expect(try scratch.ansar(["stop"]).0 == 0)
        #expect(try scratch.ansar(["destroy", "--yes"]) == (0, "removed \(scratch.home)\n", ""))
        #expect(!SystemAccess.exists(scratch.home))
    }

    @Test("set checks and stores settings, get shows them, history lists the runs; stop names a role it had to kill")
    func setGetHistoryStop() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        try SystemAccess.writeFileAtomically("\(scratch.path)/bad.json", Array("{oops".utf8))
        let (bad, _, badErrors) = try scratch.ansar(["set", "settings", "sub", "--file=\(scratch.path)/bad.json"])
        #expect(
            bad == 1 && badErrors.hasPrefix("ansar: \(scratch.path)/bad.json: ")
                && badErrors.hasSuffix("; nothing was stored\n"))
        try SystemAccess.writeFileAtomically("\(scratch.path)/good.json", Array(#"{"clientName": "Ann"}"#.utf8))
        #expect(try scratch.ansar(["set", "settings", "sub", "--file=\(scratch.path)/good.json"]).0 == 0)
        let (_, stored, _) = try scratch.ansar(["get", "settings", "sub"])
        #expect(stored == "{\n  \"clientName\": \"Ann\"\n}\n")
        let (_, output, _) = try scratch.ansar(["run", "--main-role=sub"])
        #expect(output == welcome.replacingAll("Gladys", with: "Ann"))
        let (_, history, _) = try scratch.ansar(["history", "sub"])
        #expect(history.hasPrefix("[0] ") && history.hasSuffix("(hello_welcome.Welcome)\n"), "\(history)")
        // A role that ignores SIGTERM is killed by stop, and named.
        try scratch.script("stubborn", "trap '' TERM\nwhile true; do sleep 1; done")
        try ChildProcess.copy("\(scratch.path)/dist/stubborn", to: "\(scratch.home)/bin/stubborn")
        #expect(try scratch.ansar(["add", "stubborn", "mule"]).0 == 0)
        #expect(try scratch.ansar(["delete", "sub"]).0 == 0)
        #expect(try scratch.ansar(["start"]).0 == 0)
        let (stopped, report, _) = try scratch.ansar(["stop"])
        #expect(stopped == 0)
        #expect(report == "role mule did not stop in time: killed\n")
    }

    @Test("edit stores what the editor leaves only if it is valid; snapshot copies settings out; log takes time ranges")
    func editSnapshotLog() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        try scratch.script("good-editor", #"printf '{"clientName": "Edited"}' > "$1""#)
        try scratch.script("bad-editor", #"printf '{broken' > "$1""#)
        let edit = { (editor: String) throws -> (Int32, String, String) in
            let process = try Subprocess(
                "ansar", ["edit", "settings", "sub", "--home-path=\(scratch.home)"],
                environment: ["EDITOR": "\(scratch.path)/dist/\(editor)"])
            let code = process.wait()
            return (code, process.output, process.errors)
        }
        #expect(try edit("good-editor").0 == 0)
        #expect(Subprocess.read("\(scratch.home)/settings/sub.json") == "{\n  \"clientName\": \"Edited\"\n}\n")
        let (badCode, _, badErrors) = try edit("bad-editor")
        #expect(badCode == 1 && badErrors.hasPrefix("ansar: the edited settings are not valid ("))
        // Not thrown away: kept, and where is said.
        let draft = "\(scratch.home)/tmp/settings-sub.edit.json"
        #expect(badErrors.hasSuffix("; nothing was stored, the edit is in \(draft)\n"), "\(badErrors)")
        #expect(Subprocess.read(draft) == "{broken")
        // Valid JSON the role does not take is refused the same way.
        try scratch.script("typo-editor", #"printf '{"clientNmae": "Edited"}' > "$1""#)
        let (typoCode, _, typoErrors) = try edit("typo-editor")
        #expect(typoCode == 1 && typoErrors.hasPrefix("ansar: role sub: settings: unknown key clientNmae"))
        #expect(
            Subprocess.read("\(scratch.home)/settings/sub.json") == "{\n  \"clientName\": \"Edited\"\n}\n",
            "left as it was")
        #expect(try scratch.ansar(["snapshot", "\(scratch.path)/saved"]).0 == 0)
        #expect(Subprocess.read("\(scratch.path)/saved/settings/sub.json").contains("Edited"))
        try SystemAccess.writeFileAtomically(
            "\(scratch.home)/logs/pub.log",
            Array(
                """
                2020-01-01T00:00:00+0000 notice old line
                2020-01-01T00:00:01+0000 notice old line two
                \(SystemAccess.utcTimestamp(SystemAccess.wallClock() - 1))+0000 notice new line

                """.utf8))
        let (_, recent, _) = try scratch.ansar(["log", "pub", "--last", "5m"])
        #expect(recent.hasSuffix("notice new line\n") && !recent.contains("old line"))
        let (_, range, _) = try scratch.ansar(["log", "pub", "--from", "2020-01-01T00:00:01", "--to", "2021"])
        #expect(range == "2020-01-01T00:00:01+0000 notice old line two\n")
        let (bad, _, badSpan) = try scratch.ansar(["log", "pub", "--last", "soon"])
        #expect(bad == 1 && badSpan == "ansar: --last soon: use a number and s, m, h or d (30s, 5m, 2h, 1d)\n")
    }

    @Test("at a terminal, an edit that does not fit opens again on what was written, and the mended edit is stored")
    func editAgainAtTerminal() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        // First a typo; then the editor finds its own text again and mends it (not a fresh copy).
        let count = "\(scratch.path)/editor-runs"
        try scratch.script(
            "typo-then-fix",
            """
            runs=$(($(cat \(count) 2>/dev/null || echo 0) + 1)); echo $runs > \(count)
            if [ $runs = 1 ]; then printf '{"clientNmae": "Mended"}' > "$1"; else sed -i s/clientNmae/clientName/ "$1"; fi
            """)
        // `script` gives ansar a terminal; the answer to "edit again?" comes through it.
        let command = "\(Subprocess.buildDirectory())/ansar edit settings sub --home-path=\(scratch.home)"
        let process = try Subprocess(
            "/bin/sh", ["-c", "printf 'y\\n' | script -qec \"$0\" /dev/null", command],
            environment: ["EDITOR": "\(scratch.path)/dist/typo-then-fix"])
        #expect(process.wait() == 0, "\(process.output) \(process.errors)")
        #expect(process.output.contains("unknown key clientNmae") && process.output.contains("edit again?"))
        #expect(Subprocess.read(count) == "2\n", "the editor opened twice")
        #expect(Subprocess.read("\(scratch.home)/settings/sub.json") == "{\n  \"clientName\": \"Mended\"\n}\n")
    }

    @Test("roles start with no signal blocked: a plain program stops on SIGTERM, it is not killed")
    func rolesHearSigterm() throws {
        let scratch = try Scratch()
        // Not a shell: a shell resets its signal mask; Python keeps the one it was started with.
        try SystemAccess.writeFileAtomically(
            "\(scratch.path)/dist/napper", Array("#!/usr/bin/env python3\nimport time\ntime.sleep(30)\n".utf8),
            mode: 0o755)
        try scratch.seedHome()
        #expect(try scratch.ansar(["add", "napper", "nap"]).0 == 0)
        #expect(try scratch.ansar(["delete", "sub"]).0 == 0)
        #expect(try scratch.ansar(["start"]).0 == 0)
        let (stopped, report, _) = try scratch.ansar(["stop"])
        #expect(stopped == 0)
        #expect(report == "", "no role had to be killed")
    }

    @Test("retries come back after a healthy run: --healthy-after resets the budget, the default does not here")
    func retriesReset() throws {
        let scratch = try Scratch()
        // Runs 0.2 s and fails, four times; the fifth attempt returns a value.
        try scratch.script(
            "slowcrash",
            """
            n=$(cat \(scratch.path)/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(scratch.path)/count
            if [ $n -lt 5 ]; then sleep 0.2; exit 3; fi
            echo '{"type":"test.Done","value":{"attempt":'$n'}}'
            """)
        try scratch.seedHome()
        #expect(try scratch.ansar(["add", "slowcrash", "worker", "--retries=1"]).0 == 0)
        let (code, output, errors) = try scratch.ansar(["run", "--main-role=worker", "--healthy-after=0.1"])
        #expect(code == 0 && output == "test.Done\n  attempt: 5\n", "\(output)\(errors)")
        ChildProcess.remove("\(scratch.path)/count")
        let (spent, _, _) = try scratch.ansar(["run", "--main-role=worker"])
        #expect(spent == 3, "one retry, then the failure is the result")
    }

    @Test("a retry policy restarts a failing role until it succeeds; without one, the failure is the result")
    func retryPolicy() throws {
        let scratch = try Scratch()
        // Fails twice (exit 3), then returns a value saying which attempt it was.
        try scratch.script(
            "crashy",
            """
            n=$(cat \(scratch.path)/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(scratch.path)/count
            if [ $n -lt 3 ]; then exit 3; fi
            echo '{"type":"test.Done","value":{"attempt":'$n'}}'
            """)
        try scratch.seedHome()
        #expect(try scratch.ansar(["add", "crashy", "patient", "--retries=3"]).0 == 0)
        let (code, output, errors) = try scratch.ansar(["run", "--main-role=patient"])
        #expect(code == 0, "\(errors)")
        #expect(output == "test.Done\n  attempt: 3\n")
        // Every attempt is history, the retried ones too.
        let (_, history, _) = try scratch.ansar(["history", "patient"])
        #expect(history.components(separatedBy: "(exit 3 (restarted))").count == 3, "\(history)")
        // Without retries the first failure ends it: exit 3 and no value.
        ChildProcess.remove("\(scratch.path)/count")
        #expect(try scratch.ansar(["add", "crashy", "hasty"]).0 == 0)
        #expect(try scratch.ansar(["delete", "patient"]).0 == 0)
        let (hastyCode, hastyOutput, _) = try scratch.ansar(["run", "--main-role=hasty"])
        #expect(hastyCode == 3)
        #expect(hastyOutput == "(no value: exit 3)\n")
        // A usage error (64) is not retried: another attempt cannot mend it.
        try scratch.script("confused", "echo x >> \(scratch.path)/attempts\nexit 64")
        #expect(try scratch.ansar(["deploy", "\(scratch.path)/dist"]).0 == 0)
        #expect(try scratch.ansar(["add", "confused", "lost", "--retries=3"]).0 == 0)
        #expect(try scratch.ansar(["delete", "hasty"]).0 == 0)
        let (lostCode, _, lostErrors) = try scratch.ansar(["run", "--main-role=lost"])
        #expect(lostCode == 64, "\(lostErrors)")
        #expect(Subprocess.read("\(scratch.path)/attempts") == "x\n", "attempts: one")
    }

    @Test("a role that ignores SIGTERM is killed after the grace period, and the group still ends")
    func stubbornRole() throws {
        let scratch = try Scratch()
        try scratch.script("stubborn", "trap '' TERM\nsleep 30")
        try scratch.seedHome()
        #expect(try scratch.ansar(["add", "stubborn", "mule"]).0 == 0)
        let (code, output, _) = try scratch.ansar(["run", "--main-role=sub"])
        #expect(code == 0)
        #expect(output == welcome)
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
