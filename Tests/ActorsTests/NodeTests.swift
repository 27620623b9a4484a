import AnsarTestKit
import Platform
import ProcessShim
import Reactor
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A scratch folder for one test, removed at the end.
func scratchFolder() -> String {
    var template = Array("/tmp/ansar-node-XXXXXX".utf8CString)
    return String(cString: mkdtemp(&template)!)
}

func writeFile(_ path: String, _ text: String) throws {
    let folder = String(path[..<path.lastIndex(of: "/")!])
    try SystemAccess.makeDirectories(folder)
    try SystemAccess.writeFileAtomically(path, Array(text.utf8))
}

func readFile(_ path: String) -> String { Subprocess.read(path) }

@Suite("The process shim, run as real child processes")
struct NodeTests {
    @Test("flags set settings; stdout carries only the result, human or JSON; exit 0")
    func flagsAndOutput() throws {
        let (code, output, errors) = try Subprocess.run("greeter", ["--name=Gladys"])
        #expect(code == 0)
        #expect(output == "greeter.Greeting\n  myName: \"Gladys\"\n  visitors: []\n  stopped: false\n")
        #expect(errors == "")
        let (pureCode, pure, _) = try Subprocess.run("greeter", ["--pure-object", "--name", "--name=Ann"])
        #expect(pureCode == 64, "--name without a value is refused")
        _ = pure
        let (jsonCode, json, _) = try Subprocess.run("greeter", ["--pure-object", "--name=Ann"])
        #expect(jsonCode == 0)
        #expect(json == #"{"type":"greeter.Greeting","value":{"myName":"Ann","visitors":[],"stopped":false}}"# + "\n")
    }

    @Test("log lines keep each layer's label and name the process")
    func logLabels() throws {
        let (code, _, errors) = try Subprocess.run("greeter", ["--debug-level=debug"])
        #expect(code == 0)
        let lines = errors.split(separator: "\n")
        for label in ["ansar.reactor", "ansar.actors"] {
            #expect(
                lines.contains { $0.contains(" \(label): ") && $0.contains("process=greeter") },
                "a line from \(label): \(errors)")
        }
    }

    @Test(
        "bad flags: one line naming the flag and what it should be, exit 64, nothing on stdout",
        arguments: [
            (["--wait=abc"], "greeter: flag --wait=abc: expected a number"),
            (["--fail-with=1.5"], "greeter: flag --fail-with=1.5: expected an integer"),
            (["--stubborn=maybe"], "greeter: flag --stubborn=maybe: expected true or false"),
            (["--colour=red"], "greeter: unknown flag --colour (see --help)"),
            (
                ["--debug-level=LOUD"],
                "greeter: flag --debug-level=LOUD: expected TRACE, DEBUG, INFO, NOTICE, WARNING, ERROR or NONE"
            ),
            (
                ["--keep-alive=2/1"],
                "greeter: --keep-alive=2/1: expected PROBE/DEADLINE in seconds with 0 < PROBE < DEADLINE ≤ 3600, like 0.5/1.5"
            ),
            (
                ["--network-keep-alive=fast"],
                "greeter: --network-keep-alive=fast: expected PROBE/DEADLINE in seconds with 0 < PROBE < DEADLINE ≤ 3600, like 0.5/1.5"
            ),
            (["--sockets=0"], "greeter: --sockets=0: expected a whole number above 0"),
            (["--sockets=2000000"], "greeter: --sockets=2000000: at most 1048576"),
        ])
    func badFlags(arguments: [String], message: String) throws {
        let (code, output, errors) = try Subprocess.run("greeter", arguments)
        #expect(code == 64)
        #expect(output == "")
        #expect(errors == message + "\n")
    }

    @Test("link and loop settings: flags and ANSAR_* variables are taken; a bad variable is named")
    func tuning() throws {
        let (code, _, errors) = try Subprocess.run(
            "greeter",
            [
                "--keep-alive=0.2/0.9", "--network-keep-alive=2/8", "--sockets=64", "--timers=100",
                "--messages-per-turn=10",
            ])
        #expect(code == 0, "\(errors)")
        let (bad, output, badErrors) = try Subprocess.run("greeter", [], environment: ["ANSAR_TIMERS": "many"])
        #expect(bad == 64 && output == "")
        #expect(badErrors == "greeter: ANSAR_TIMERS=many: expected a whole number above 0\n")
        let (flagWins, _, _) = try Subprocess.run("greeter", ["--timers=5"], environment: ["ANSAR_TIMERS": "many"])
        #expect(flagWins == 64, "the environment is read first, and a bad one is refused even under a flag")
    }

    @Test("settings and input come from the home; --store-settings saves, --dump-settings shows")
    func home() throws {
        let home = scratchFolder()
        defer { _ = system("rm -rf \(home)") }
        let role = ["--home-path=\(home)", "--role-name=greeter"]
        let (stored, _, _) = try Subprocess.run("greeter", role + ["--store-settings", "--name=Stored"])
        #expect(stored == 0)
        #expect(readFile("\(home)/settings/greeter.json").contains(#""name": "Stored""#))
        try writeFile("\(home)/input/greeter.json", #"{"names": ["Gladys", "Ann"]}"#)
        let (code, output, _) = try Subprocess.run("greeter", role + ["--pure-object"])
        #expect(code == 0)
        #expect(
            output
                == #"{"type":"greeter.Greeting","value":{"myName":"Stored","visitors":["Gladys","Ann"],"stopped":false}}"#
                + "\n")
        // Flags win over the file; dump shows the result without running.
        let (_, dumped, _) = try Subprocess.run("greeter", role + ["--dump-settings", "--wait=2"])
        #expect(
            dumped
                == "{\n  \"name\": \"Stored\",\n  \"wait\": 2.0,\n  \"stubborn\": false,\n  \"failWith\": 0,\n  \"threads\": 0\n}\n"
        )
    }

    @Test(
        "corrupt or mistyped files: one line naming the file and the field, exit 65, the file untouched",
        arguments: [
            ("settings", #"{"name": 5}"#, "field name: expected a string, found an integer"),
            ("settings", #"{"name": "x", "wait": "#, "unexpected end of text at line 1, column 23"),
            ("settings", #"[1, 2]"#, "expected a JSON object"),
            ("input", #"{"names": "Gladys"}"#, "field names: expected a list, found a string"),
            ("input", #"{"names": ["a", 3]}"#, "field names[1]: expected a string, found an integer"),
        ])
    func badFiles(kind: String, content: String, problem: String) throws {
        let home = scratchFolder()
        defer { _ = system("rm -rf \(home)") }
        let path = "\(home)/\(kind)/greeter.json"
        try writeFile(path, content)
        let (code, output, errors) = try Subprocess.run("greeter", ["--home-path=\(home)", "--role-name=greeter"])
        #expect(code == 65)
        #expect(output == "")
        #expect(errors == "greeter: \(kind) file \(path): \(problem)\n")
        #expect(readFile(path) == content)
        let (missing, _, missingErrors) = try Subprocess.run("greeter", ["--\(kind)-file=\(home)/absent.json"])
        #expect(missing == 65)
        #expect(missingErrors == "greeter: \(kind) file \(home)/absent.json: not found\n")
    }

    @Test("a main object that completes with Faulted exits with its code; the fault is still the result")
    func faultExitCode() throws {
        let (code, output, _) = try Subprocess.run("greeter", ["--fail-with=9"])
        #expect(code == 9)
        #expect(output.hasPrefix("ansar.Faulted\n  condition: \"asked to fail\""))
    }

    @Test("SIGTERM sends Stop to the main object; a second signal aborts one that does not stop")
    func stopOnSignal() throws {
        let polite = try Subprocess("greeter", ["--wait=30", "--debug-level=NOTICE"])
        #expect(polite.waitForError(containing: "waiting"))
        polite.signal(SIGTERM)
        #expect(polite.wait() == 0)
        #expect(polite.output.contains("stopped: true"))

        let stubborn = try Subprocess("greeter", ["--wait=30", "--stubborn", "--debug-level=INFO"])
        #expect(stubborn.waitForError(containing: "waiting"))
        stubborn.signal(SIGINT)
        #expect(stubborn.waitForError(containing: "signal received")) // the first one was seen
        stubborn.signal(SIGINT)
        #expect(stubborn.wait() == 130)
        #expect(stubborn.output == "ansar.Aborted\n")
    }

    @Test("with three more runtimes on threads of their own, SIGTERM reaches the main one: 100 of 100 runs")
    func signalsReachTheMainRuntime() throws {
        var stoppedRuns = 0
        for _ in 0..<100 {
            let node = try Subprocess("greeter", ["--wait=30", "--threads=3", "--debug-level=NOTICE"])
            #expect(node.waitForError(containing: "waiting"))
            node.signal(SIGTERM)
            let code = node.wait(seconds: 10)
            guard code == 0 && node.output.contains("stopped: true") else { break } // one miss is enough
            stoppedRuns += 1
        }
        #expect(stoppedRuns == 100, "the main object got Stop in \(stoppedRuns) of 100 runs")
    }
}
