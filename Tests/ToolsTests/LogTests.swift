import Actors
import AnsarTestKit
import Platform
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Role logs: every line timed and named, all roles interleaved, followed, bounded while running")
struct LogTests {
    /// `2026-12-03T12:00:01+0000 [ROLE] `.
    static func isCaptured(_ line: Substring, role: String) -> Bool {
        line.count > 25 && line.dropFirst(4).first == "-" && line.dropFirst(10).first == "T"
            && line.contains(" [\(role)] ")
    }

    @Test("a plain program's lines get a time and the role; ansar log with no role interleaves every role")
    func capturedAndInterleaved() throws {
        let scratch = try Scratch()
        try scratch.script("talker", "echo 'plain line' >&2\nexec sleep 300")
        try scratch.seedHome() // sub ends with its Welcome; pub logs its arrival
        #expect(try scratch.ansar(["add", "talker", "talk"]).0 == 0)
        #expect(try scratch.ansar(["start"]).0 == 0)
        #expect(try within(10) { try scratch.ansar(["log", "talk"]).1.contains("plain line") })
        let (_, talk, _) = try scratch.ansar(["log", "talk"])
        let line = talk.split(separator: "\n").first { $0.hasSuffix("plain line") } ?? ""
        #expect(Self.isCaptured(line, role: "talk") && line.hasSuffix(" [talk] plain line"), "\(talk)")
        // pub's own log lines keep their time, and are named too.
        #expect(try within(10) { try scratch.ansar(["log", "pub"]).1.contains(" [pub] info publish-a-service: ") })
        let (_, all, _) = try scratch.ansar(["log"])
        let lines = all.split(separator: "\n")
        #expect(
            lines.contains { Self.isCaptured($0, role: "talk") } && lines.contains { Self.isCaptured($0, role: "pub") })
        #expect(lines.map { $0.prefix(19) } == lines.map { $0.prefix(19) }.sorted(), "interleaved by time")
        let (_, json, _) = try scratch.ansar(["log", "talk", "--json"])
        let entry = try JSON(parsing: String(json.split(separator: "\n").last { $0.contains("plain line") } ?? ""))
        #expect(entry["role"] == .string("talk") && entry["text"] == .string("plain line"), "\(json)")
        #expect(try scratch.ansar(["stop"]).0 == 0)
    }

    @Test("log -f prints lines a live role writes after it started following")
    func follows() throws {
        let scratch = try Scratch()
        try scratch.script("ticker", "i=0\nwhile true; do echo \"tick $i\" >&2; i=$((i+1)); sleep 0.1; done")
        try scratch.seedHome()
        #expect(try scratch.ansar(["delete", "sub"]).0 == 0)
        #expect(try scratch.ansar(["add", "ticker", "tick"]).0 == 0)
        #expect(try scratch.ansar(["start"]).0 == 0)
        let log = "\(scratch.home)/logs/tick.log"
        #expect(within(10) { Subprocess.read(log).contains("tick 1\n") })
        let follower = try Subprocess("ansar", ["log", "-f", "tick", "--home-path=\(scratch.home)"])
        defer {
            kill(follower.pid, SIGKILL)
            _ = follower.wait()
        }
        // The highest tick written before the follower could have read anything.
        let before =
            Subprocess.read(log).split(separator: "\n").compactMap { Int($0.split(separator: " ").last ?? "") }
            .max() ?? 0
        let later = "[tick] tick \(before + 5)\n"
        #expect(within(20) { follower.output.contains(later) }, "never followed to \(later)")
        #expect(try scratch.ansar(["stop"]).0 == 0)
    }

    @Test("a role writing 100 MB to stderr keeps its log within the limit: the file and one older")
    func boundedWhileRunning() throws {
        let scratch = try Scratch()
        try scratch.script(
            "flood", "head -c 100000000 /dev/zero | tr '\\0' x | fold -w 99 >&2\necho >&2\necho last >&2")
        try scratch.seedHome()
        #expect(try scratch.ansar(["add", "flood", "flood"]).0 == 0)
        let (code, _, errors) = try scratch.ansar(["run", "flood", "--log-limit=1M"])
        #expect(code == 0, "\(errors)")
        let log = "\(scratch.home)/logs/flood.log"
        let sizes = [SystemAccess.fileSize(log) ?? 0, SystemAccess.fileSize(log + ".1") ?? 0]
        #expect(sizes.allSatisfy { $0 <= 1 << 20 } && sizes[1] > 0, "\(sizes)")
        #expect(Subprocess.read(log).hasSuffix(" [flood] last\n"), "the last line is kept")
    }

    @Test(
        "a background runner's own log and a directory daemon's are rotated while they run, and go on in the new file")
    func ownLogsRotated() throws {
        let scratch = try Scratch()
        try scratch.script("chatter", "i=0; while true; do echo \"chatter line $i\" >&2; i=$((i+1)); sleep 0.01; done")
        try scratch.seedHome()
        #expect(try scratch.ansar(["add", "chatter", "chatter"]).0 == 0)
        defer { _ = try? scratch.ansar(["stop"]) }
        // With a debug level every role's lines go to the runner's stderr: group.log.
        let (started, _, errors) = try scratch.ansar(["start", "chatter", "--debug-level=INFO", "--log-limit=4K"])
        #expect(started == 0, "\(errors)")
        let group = "\(scratch.home)/logs/group.log"
        #expect(within(20) { SystemAccess.exists(group + ".1") }, "group.log was never rotated")
        // The new file was made empty when the old one was moved: a line in it came after.
        #expect(within(20) { Subprocess.read(group).contains("chatter line") }, "the lines go on in the new file")
        // A HOST directory daemon on TCP, told garbage by strangers: its refusal lines fill its log.
        let (probe, port) = rawLoopbackSocket()
        close(probe)
        let (daemon, _, more) = try scratch.ansar([
            "directory", "--background", "--address=127.0.0.1:\(port)", "--no-beacons", "--log-limit=4K",
        ])
        #expect(daemon == 0, "\(more)")
        defer { _ = try? scratch.ansar(["directory", "--stop"]) }
        let log = "\(scratch.home)/logs/directory.log"
        #expect(
            within(60) {
                let stranger = rawConnect(port: port)
                if stranger >= 0 {
                    _ = write(stranger, "GET / HTTP/1.1\r\n\r\n", 18)
                    close(stranger)
                }
                return SystemAccess.exists(log + ".1")
            }, "directory.log was never rotated")
        #expect((SystemAccess.fileSize(log + ".1") ?? 0) > 4_096)
    }

    @Test(
        "time filters refuse what is not a time; --debug-level refuses an unknown level",
        arguments: [
            (
                ["log", "pub", "--from", "yesterday"],
                "ansar: --from yesterday: expected a UTC time like 2026-11-29, 2026-11-29T19:35 or 2026-11-29T19:35:29 (or --last 1d)"
            ),
            (
                ["log", "pub", "--to", "2026-13-01"],
                "ansar: --to 2026-13-01: expected a UTC time like 2026-11-29, 2026-11-29T19:35 or 2026-11-29T19:35:29 (or --last 1d)"
            ),
            (
                ["run", "--debug-level=VERBOSE"],
                "ansar: --debug-level=VERBOSE: expected TRACE, DEBUG, INFO, NOTICE, WARNING, ERROR or NONE"
            ),
            (["start", "--log-limit=12"], "ansar: --log-limit=12: expected a size of 4K or more, like 512K, 4M or 1G"),
        ])
    func refusals(command: [String], expected: String) throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        #expect(try scratch.ansar(command) == (1, "", expected + "\n"))
    }
}
