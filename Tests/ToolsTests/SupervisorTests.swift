import Actors
import AnsarTestKit
import Platform
import Testing

@Suite("The supervisor's commands on a running group: stop, start and restart one role")
struct SupervisorTests {
    /// A group of two pubsub-node roles: pub publishes `svc`; sub goes through `sessions`
    /// sessions with it (Available, Hello/Welcome), noting each Dropped, then ends with what it saw.
    static func group(sessions: Int) throws -> Scratch {
        let scratch = try Scratch()
        try ChildProcess.copy("\(Subprocess.buildDirectory())/pubsub-node", to: "\(scratch.path)/dist/pubsub-node")
        try scratch.seedHome()
        for command in [
            ["delete", "pub"], ["delete", "sub"], ["add", "pubsub-node", "pub"], ["add", "pubsub-node", "sub"],
            ["set", "settings", "pub", "role=publisher"],
            ["set", "settings", "sub", "role=subscriber", "me=s", "sessions=\(sessions)"],
        ] {
            let (code, _, errors) = try scratch.ansar(command)
            #expect(code == 0, "\(command): \(errors)")
        }
        return scratch
    }

    @Test("restart pub: sub, still the same process, hears Dropped and then its session again")
    func restartKeepsThePeer() throws {
        let scratch = try Self.group(sessions: 2)
        #expect(try scratch.ansar(["start"]).0 == 0)
        let firstSession = "count=1 process=pubsub-node [pubsub_node] welcomed"
        #expect(try within(10) { try scratch.ansar(["log", "sub"]).1.contains(firstSession) })
        let (_, before) = try ProcessHygieneTests.pids(scratch)
        let (code, output, errors) = try scratch.ansar(["restart", "pub"])
        #expect(code == 0, "\(errors)")
        #expect(output.hasPrefix("restarted role pub (pid ") && !output.contains("pid \(before["pub"] ?? 0))"))
        let ended = try within(20) { try scratch.ansar(["returned", "sub", "--json"]).0 == 0 }
        #expect(ended, "sub never saw its second session")
        let (_, seen, _) = try scratch.ansar(["returned", "sub", "--json"])
        let events = try JSON(parsing: seen)["value"]?["events"]
        let expected = ["available", "p to s", "dropped", "available", "p to s"]
        #expect(events == .array(expected.map(JSON.string)), "\(seen)")
        let (_, history, _) = try scratch.ansar(["history", "pub"])
        #expect(history.contains("(restarted on request)"), "\(history)")
        let (_, status, _) = try scratch.ansar(["status", "--json"])
        guard case .array(let roles)? = try JSON(parsing: status)["roles"] else {
            Issue.record("status --json without roles: \(status)")
            return
        }
        let sub = roles.first { $0["role"] == .string("sub") }
        #expect(sub?["restarts"] == .integer(0), "sub was never restarted: \(status)")
        #expect(try scratch.ansar(["stop"]).0 == 0)
    }

    @Test("stop pub leaves it stopped, not restarted; start pub starts it in the running group")
    func stopAndStartOneRole() throws {
        let scratch = try Self.group(sessions: 100)
        #expect(try scratch.ansar(["update", "pub", "--retries=5"]).0 == 0)
        #expect(try scratch.ansar(["start"]).0 == 0)
        let (stopped, stopOutput, stopErrors) = try scratch.ansar(["stop", "pub"])
        #expect(stopped == 0 && stopOutput.hasPrefix("stopped role pub ("), "\(stopOutput)\(stopErrors)")
        func state(_ role: String) throws -> String {
            let (_, status, _) = try scratch.ansar(["status"])
            let row = status.split(separator: "\n").first { $0.hasPrefix(role + " ") } ?? ""
            return row.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
        }
        #expect(try state("pub") == "stopped" && state("sub") == "running")
        // A program that SIGTERM ends (exit by signal 15), with retries: stopped is stopped.
        try scratch.script("sleeper", "exec sleep 300")
        #expect(try scratch.ansar(["deploy", "\(scratch.path)/dist/sleeper"]).0 == 0)
        #expect(try scratch.ansar(["add", "sleeper", "nap", "--retries=3"]).0 == 0)
        #expect(try scratch.ansar(["start", "nap"]).0 == 0)
        #expect(try scratch.ansar(["stop", "nap"]).1 == "stopped role nap (killed by signal 15)\n")
        #expect(try state("nap") == "stopped", "a role stopped on request was restarted")
        let again = try scratch.ansar(["stop", "pub"])
        #expect(again == (1, "", "ansar: role pub is not running\n"))
        let (started, startOutput, startErrors) = try scratch.ansar(["start", "pub"])
        #expect(started == 0 && startOutput.hasPrefix("started role pub (pid "), "\(startErrors)")
        #expect(try state("pub") == "running")
        let twice = try scratch.ansar(["start", "pub"])
        #expect(twice == (1, "", "ansar: role pub is already running\n"))
        // Changes to a running role: refused, or applied with a word on how.
        let deleted = try scratch.ansar(["delete", "pub"])
        #expect(deleted == (1, "", "ansar: role pub is running: `ansar stop pub` it first\n"))
        let (_, updated, _) = try scratch.ansar(["update", "pub", "--retries=1"])
        #expect(updated.hasSuffix("role pub is running: `ansar restart pub` to apply it now\n"), "\(updated)")
        #expect(try scratch.ansar(["stop"]).0 == 0)
    }
}
