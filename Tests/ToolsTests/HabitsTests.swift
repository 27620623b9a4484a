import Actors
import AnsarTestKit
import Platform
import Testing

@Suite("The habits users bring: a home found as git finds its repository, suggestions, --json")
struct HabitsTests {
    @Test("the home: --home-path, else ANSAR_HOME, else the nearest .ansar-home here or above")
    func homeIsFound() throws {
        let scratch = try Scratch()
        let ansar = Subprocess.buildDirectory() + "/ansar"
        let made = try Subprocess.run(
            "/bin/sh", ["-c", "cd \"$1\" && \"$0\" create && \"$0\" deploy dist", ansar, scratch.path])
        #expect(made.0 == 0, "\(made.2)")
        try SystemAccess.makeDirectories("\(scratch.path)/deep/er")
        let add = try Subprocess.run(
            "/bin/sh", ["-c", "cd \"$1/deep/er\" && \"$0\" add publish-a-service pub", ansar, scratch.path])
        #expect(add.0 == 0, "\(add.2)")
        #expect(SystemAccess.exists("\(scratch.path)/.ansar-home/roles/pub.json"), "the home above was used")
        let listed = try Subprocess.run("ansar", ["list"], environment: ["ANSAR_HOME": "\(scratch.path)/.ansar-home"])
        #expect(listed.0 == 0 && listed.1 == "pub\n", "\(listed)")
    }

    @Test("a mistyped command is refused with the nearest one")
    func suggestions() throws {
        #expect(
            try Subprocess.run("ansar", ["strat"]) == (
                64, "", "ansar: unknown command strat: did you mean `ansar start`?\n"
            ))
        #expect(
            try Subprocess.run("ansar", ["frobnicate"]) == (
                64, "", "ansar: unknown command frobnicate: see `ansar --help`\n"
            ))
    }

    @Test("history, ping and log speak JSON when asked")
    func json() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        #expect(try scratch.ansar(["run", "--main-role=sub"]).0 == 0)
        let history = try JSON(parsing: try scratch.ansar(["history", "sub", "--json"]).1)
        guard case .array(let runs) = history, let run = runs.last else {
            Issue.record("history --json: \(history)")
            return
        }
        #expect(run["outcome"] == .string("hello_welcome.Welcome"))
        #expect(try scratch.ansar(["start", "pub"]).0 == 0)
        let (code, pinged, errors) = try scratch.ansar(["ping", "hello-welcome", "--seconds=10", "--json"])
        #expect(code == 0, "\(errors)")
        let answer = try JSON(parsing: pinged)
        #expect(answer["name"] == .string("hello-welcome"))
        if case .double(let milliseconds)? = answer["milliseconds"] {
            #expect(milliseconds >= 0)
        } else {
            Issue.record("ping --json: \(pinged)")
        }
        #expect(try scratch.ansar(["stop"]).0 == 0)
    }
}
