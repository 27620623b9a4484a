import AnsarTestKit
import Platform
import Testing

/// Realms side by side on one machine, and names another user took first.
@Suite("Realms on one host: nothing shared to collide on")
struct RealmsTests {
    /// A home whose `pub` says `server` and whose `sub` looks for it, both at HOST scope, with its
    /// HOST directory running in the background.
    static func realm(_ server: String) throws -> Scratch {
        let scratch = try Scratch()
        try scratch.seedHome()
        for (role, settings) in [("pub", "serverName=\(server)"), ("pub", "scope=host"), ("sub", "scope=host")] {
            #expect(try scratch.ansar(["set", "settings", role, settings]).0 == 0)
        }
        let (started, _, errors) = try scratch.ansar(["directory", "--background"])
        #expect(started == 0, "\(errors)")
        return scratch
    }

    @Test("two realms' groups on one host: each HOST directory runs, each subscriber meets only its realm's publisher")
    func twoRealms() throws {
        let (first, second) = (try Self.realm("Ann"), try Self.realm("Bob"))
        defer {
            for scratch in [first, second] {
                _ = try? scratch.ansar(["stop"])
                _ = try? scratch.ansar(["directory", "--stop"])
            }
        }
        // Both publishers are up, then each realm's subscriber joins its running group.
        for scratch in [first, second] {
            let (started, _, errors) = try scratch.ansar(["start", "--host", "pub"])
            #expect(started == 0, "\(errors)")
        }
        for scratch in [first, second] {
            let (started, _, errors) = try scratch.ansar(["start", "sub"])
            #expect(started == 0, "\(errors)")
        }
        for (scratch, server) in [(first, "Ann"), (second, "Bob")] {
            var value = ""
            _ = try within(20) {
                value = try scratch.ansar(["returned", "sub"]).1
                return !value.isEmpty
            }
            #expect(value == welcome.replacingAll("Buster", with: server), "\(value)")
        }
    }

    @Test(
        "a directory whose address another user's process holds ends at once with the reason, in the foreground or not")
    func squatted() throws {
        let name = "ansar-test-squat-\(UInt32.random(in: 0...UInt32.max))"
        let squatter = try Subprocess(
            "/usr/bin/setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                "import socket, time\ns = socket.socket(socket.AF_UNIX); s.bind('\\0\(name)'); s.listen(8)\n"
                    + "print('up', flush=True); time.sleep(60)",
            ])
        defer { squatter.end() }
        #expect(within(10) { squatter.output.contains("up") }, "\(squatter.errors)")
        let scratch = try Scratch()
        #expect(try scratch.ansar(["create"]).0 == 0)
        let (code, _, errors) = try scratch.ansar(["directory", "--address=@\(name)"])
        #expect(code == 1 && errors.hasPrefix("ansar: cannot listen at @\(name): "), "\(errors)")
        #expect(errors.contains("in use"), "\(errors)")
        let (background, _, backgroundErrors) = try scratch.ansar(["directory", "--background", "--address=@\(name)"])
        #expect(
            background == 1
                && backgroundErrors.hasPrefix("ansar: the directory did not start: cannot listen at @\(name)"),
            "\(backgroundErrors)")
    }
}
