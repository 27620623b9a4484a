import Testing
import Transport

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Realm secret: hex, files, environment")
struct RealmSecretTests {
    func write(_ text: String, mode: mode_t) -> String {
        let path = "/tmp/ansar-secret-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, mode)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
        chmod(path, mode)
        return path
    }

    @Test("hex round trip; malformed text is refused")
    func hex() {
        let secret = RealmSecret.generate()
        #expect(secret.hex.count == 64)
        #expect(RealmSecret(hex: secret.hex) == secret)
        #expect(RealmSecret(hex: "  " + secret.hex.uppercased() + "\n") == secret)
        #expect(RealmSecret(hex: String(secret.hex.dropLast())) == nil)
        #expect(RealmSecret(hex: String(repeating: "zz", count: 32)) == nil)
    }

    @Test("a private file loads; an open, malformed or missing one is refused with its path")
    func files() throws {
        let secret = RealmSecret.generate()
        let good = write(secret.hex + "\n", mode: 0o600)
        defer { unlink(good) }
        #expect(try RealmSecret(contentsOfFile: good) == secret)
        let open = write(secret.hex, mode: 0o644)
        defer { unlink(open) }
        #expect(throws: KeyFileError.tooOpen(path: open, mode: 0o644)) { try RealmSecret(contentsOfFile: open) }
        let bad = write("not a secret", mode: 0o600)
        defer { unlink(bad) }
        #expect(throws: KeyFileError.malformed(source: bad)) { try RealmSecret(contentsOfFile: bad) }
        #expect {
            try RealmSecret(contentsOfFile: "/nonexistent/secret")
        } throws: { error in
            guard case .unreadable(let path, let cause) = error as? KeyFileError else { return false }
            return path == "/nonexistent/secret" && cause.code == ENOENT
        }
    }

    @Test("the environment: set, unset, malformed")
    func environment() throws {
        let name = "ANSAR_TEST_SECRET_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        #expect(try RealmSecret.fromEnvironment(name) == nil)
        let secret = RealmSecret.generate()
        setenv(name, secret.hex, 1)
        #expect(try RealmSecret.fromEnvironment(name) == secret)
        setenv(name, "12", 1)
        #expect(throws: KeyFileError.malformed(source: "$" + name)) { try RealmSecret.fromEnvironment(name) }
        unsetenv(name)
    }
}
