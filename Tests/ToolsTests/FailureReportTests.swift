import Actors
import AnsarTestKit
import Platform
import Testing

@Suite("The ansar command says what went wrong where users look")
struct FailureReportTests {
    @Test("set asks the role: a wrong type and an unknown key are refused, named, and nothing is stored")
    func setChecksAgainstTheRole() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        let stored = "\(scratch.home)/settings/sub.json"
        #expect(
            try scratch.ansar(["set", "settings", "sub", "clientName=Ann"]) == (0, "stored settings for sub\n", ""))
        let before = Subprocess.read(stored)
        #expect(before == "{\n  \"clientName\": \"Ann\"\n}\n")

        try SystemAccess.writeFileAtomically("\(scratch.path)/typed.json", Array(#"{"clientName": 5}"#.utf8))
        let (typed, _, typedErrors) = try scratch.ansar(["set", "settings", "sub", "--file=\(scratch.path)/typed.json"])
        #expect(typed == 1)
        #expect(
            typedErrors
                == "ansar: role sub: settings: field clientName: expected a string, found an integer; nothing was stored\n"
        )
        let (typo, _, typoErrors) = try scratch.ansar(["set", "settings", "sub", "clientNmae=Bo"])
        #expect(typo == 1)
        #expect(typoErrors.hasPrefix("ansar: role sub: settings: unknown key clientNmae (known there: clientName"))
        #expect(Subprocess.read(stored) == before, "a refused set changed the stored settings")
        // Standard input, and a JSON value in KEY=VALUE.
        let fromStandardInput = try Subprocess(
            "/bin/sh",
            [
                "-c", #"echo '{"clientName": "Cy"}' | "$0" set settings sub --file - --home-path="$1""#,
                Subprocess.buildDirectory() + "/ansar", scratch.home,
            ])
        #expect(fromStandardInput.wait() == 0, "\(fromStandardInput.errors)")
        #expect(Subprocess.read(stored) == "{\n  \"clientName\": \"Cy\"\n}\n")
        // Changes apply over what is stored.
        #expect(try scratch.ansar(["set", "settings", "sub", "seconds=2.5"]).0 == 0)
        #expect(Subprocess.read(stored) == "{\n  \"clientName\": \"Cy\",\n  \"seconds\": 2.5\n}\n")
        // A VALUE that reads as a number is text to a text field, and a number to a number field.
        #expect(try scratch.ansar(["set", "settings", "sub", "clientName=5", "seconds=3"]).0 == 0)
        #expect(Subprocess.read(stored) == "{\n  \"clientName\": \"5\",\n  \"seconds\": 3\n}\n")
        // What still does not fit is named: the typo, not the field the text reading mended.
        let (mixed, _, mixedErrors) = try scratch.ansar(["set", "settings", "sub", "listing=7", "clientNmae=4"])
        #expect(
            mixed == 1 && mixedErrors.hasPrefix("ansar: role sub: settings: unknown key clientNmae"), "\(mixedErrors)")
    }

    @Test("settings that do not fit, stored by hand: run names the cause, start fails naming the role")
    func badSettingsAtRunAndStart() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        try SystemAccess.writeFileAtomically(
            "\(scratch.home)/settings/sub.json", Array(#"{"clientNme": "typo"}"#.utf8))
        let (ran, _, runErrors) = try scratch.ansar(["run", "--main-role=sub"])
        #expect(ran == 65)
        #expect(runErrors.hasPrefix("ansar: role sub failed (exit 65): "), "\(runErrors)")
        #expect(runErrors.contains("unknown key clientNme"), "\(runErrors)")

        let (started, _, startErrors) = try scratch.ansar(["start"])
        #expect(started == 1, "start returned \(started) with a role dead at launch")
        #expect(startErrors.hasPrefix("ansar: role sub failed at start (exit 65): "), "\(startErrors)")
        #expect(startErrors.contains("unknown key clientNme"), "\(startErrors)")
        // The rest of the group runs; status shows the dead role.
        let (_, status, _) = try scratch.ansar(["status"])
        #expect(status.contains("\nsub   exit 65"), "\(status)")
        #expect(try scratch.ansar(["stop"]).0 == 0)
    }

    @Test("a role that ends well during the launch does not fail start")
    func quickRoleIsNoFailure() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        // sub ends with its Welcome, often before the launch settles.
        let (started, _, errors) = try scratch.ansar(["start"])
        #expect(started == 0, "\(errors)")
        #expect(try scratch.ansar(["stop"]).0 == 0)
    }

    @Test("a role that cannot be started at all fails start and run with the reason; nothing is left running")
    func roleThatCannotStart() throws {
        let scratch = try Scratch()
        try SystemAccess.writeFileAtomically(
            "\(scratch.path)/dist/uninterpreted", Array("#!/nonexistent/interpreter\n".utf8), mode: 0o755)
        try scratch.seedHome()
        #expect(try scratch.ansar(["add", "uninterpreted", "odd"]).0 == 0)
        let cause = "cannot start role odd (\(scratch.home)/bin/uninterpreted): spawn: No such file or directory"
        let (started, _, startErrors) = try scratch.ansar(["start"])
        #expect(started == 1 && startErrors.hasPrefix("ansar: the group did not start: \(cause)"), "\(startErrors)")
        #expect(try scratch.ansar(["status"]).0 == 1, "no group is running")
        let (ran, _, runErrors) = try scratch.ansar(["run"])
        #expect(ran == 1 && runErrors.hasPrefix("ansar: \(cause)"), "\(runErrors)")
        // Asked of a running group, it is that request's failure alone: the group runs on.
        #expect(try scratch.ansar(["delete", "odd"]).0 == 0)
        #expect(try scratch.ansar(["start"]).0 == 0)
        #expect(try scratch.ansar(["add", "uninterpreted", "odd"]).0 == 0)
        let (one, _, oneErrors) = try scratch.ansar(["start", "odd"])
        #expect(one == 1 && oneErrors.hasPrefix("ansar: \(cause)"), "\(oneErrors)")
        let (_, status, _) = try scratch.ansar(["status"])
        #expect(status.contains("\nodd   not started") && status.contains("\npub   running"), "\(status)")
        #expect(try scratch.ansar(["stop"]).0 == 0)
    }

    @Test("each changing command says in one line what it changed; deploy names what it skipped, or takes one file")
    func confirmations() throws {
        let scratch = try Scratch()
        try SystemAccess.writeFileAtomically("\(scratch.path)/dist/README", Array("not a program".utf8))
        #expect(try scratch.ansar(["create"]).1 == "created the home \(scratch.home) with a fresh realm secret\n")
        #expect(
            try scratch.ansar(["deploy", "\(scratch.path)/dist"]).1
                == "deployed publish-a-service, subscribe-to-service into \(scratch.home)/bin\n"
                + "skipped (not executable): README\n")
        try scratch.script("sleeper", "exec sleep 300")
        #expect(
            try scratch.ansar(["deploy", "\(scratch.path)/dist/sleeper"])
                == (0, "deployed sleeper into \(scratch.home)/bin\n", ""))
        #expect(try scratch.ansar(["add", "sleeper", "nap"]).1 == "added role nap, played by sleeper\n")
        #expect(
            try scratch.ansar(["update", "nap", "--retries=2"]).1 == "updated role nap: played by sleeper, 2 retries\n")
        #expect(try scratch.ansar(["delete", "nap"]).1 == "deleted role nap (its settings and input stay)\n")
    }
}
