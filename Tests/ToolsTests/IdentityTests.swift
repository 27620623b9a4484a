import AnsarTestKit
import Platform
import Testing

/// Identities issued into a home and the names they own, through the `ansar` command.
@Suite("Identities and owned names, with the ansar command")
struct IdentityTests {
    @Test(
        "each role has one identity, kept 0600; a granted name is published only by its owner, and revoked it is open again"
    )
    func ownedNames() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        #expect(try scratch.ansar(["add", "publish-a-service", "imp"]).0 == 0)
        let (shown, key, _) = try scratch.ansar(["identity", "pub"])
        #expect(shown == 0 && key.utf8.count == 65 && key.allSatisfy { $0.isHexDigit || $0 == "\n" })
        #expect(try scratch.ansar(["identity", "pub"]).1 == key, "issued once")
        #expect(try SystemAccess.readSmallFile("\(scratch.home)/keys/pub").mode & 0o077 == 0)
        #expect(try scratch.ansar(["identity", "imp"]).1 != key)
        let (granted, said, _) = try scratch.ansar(["grant", "publish", "hello-", "pub"])
        #expect(granted == 0 && said == "granted publish on \"hello-…\" to pub\n")
        let short = String(key.prefix(16))
        #expect(try scratch.ansar(["permissions"]).1 == "publish \"hello-…\": pub (\(short))\n")
        // The owner publishes and the subscriber is welcomed…
        let (ran, value, errors) = try scratch.ansar(["run", "--main-role=sub", "pub", "sub"])
        #expect(ran == 0 && value == welcome, "\(errors)")
        // …the same program as another role is refused the name, and says why.
        let (refused, fault, _) = try scratch.ansar(["run", "--main-role=imp", "imp"])
        let impostor = String(try scratch.ansar(["identity", "imp"]).1.prefix(16))
        #expect(refused != 0)
        #expect(
            fault.contains(
                "refused by the GROUP directory: identity \(impostor) may not publish hello-welcome (the realm's permissions)"
            ),
            "\(fault)")
        // Revoked, the name is open: the other role serves the subscriber.
        #expect(
            try scratch.ansar(["revoke", "publish", "hello-"]).1
                == "removed the publish rule on \"hello-…\": its names are open\n")
        #expect(try scratch.ansar(["permissions"]).1 == "no rules: every name is open to every member\n")
        let (again, served, more) = try scratch.ansar(["run", "--main-role=sub", "imp", "sub"])
        #expect(again == 0 && served == welcome, "\(more)")
    }

    @Test(
        "a grant reaches a running group at once: the listing it now refuses is withdrawn, and its publisher told why")
    func grantWhileRunning() throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        defer { _ = try? scratch.ansar(["stop"]) }
        let (started, _, errors) = try scratch.ansar(["start", "pub"])
        #expect(started == 0, "\(errors)")
        let (granted, said, more) = try scratch.ansar(["grant", "publish", "hello-", "sub"])
        #expect(granted == 0, "\(more)")
        #expect(said == "granted publish on \"hello-…\" to sub; the running group's directory judges by them now\n")
        let publisher = String(try scratch.ansar(["identity", "pub"]).1.prefix(16))
        #expect(
            try within(20) {
                try scratch.ansar(["returned", "pub"]).1.contains(
                    "identity \(publisher) may not publish hello-welcome (the realm's permissions)")
            })
    }

    @Test(
        "a grant reaches this home's HOST directory daemon at once (SIGHUP): another home's publisher it now refuses is told why"
    )
    func grantReachesDaemon() throws {
        let (a, b) = (try Scratch(), try Scratch())
        try a.seedHome()
        for command in [
            ["create", "--realm-of=\(a.home)/secret"], ["deploy", "\(b.path)/dist"],
            ["add", "publish-a-service", "pub"],
            ["set", "settings", "pub", "scope=host"],
        ] {
            let (code, _, errors) = try b.ansar(command)
            #expect(code == 0, "\(command): \(errors)")
        }
        let (daemon, _, errors) = try a.ansar(["directory", "--background"])
        #expect(daemon == 0, "\(errors)")
        defer { _ = try? a.ansar(["directory", "--stop"]) }
        let (started, _, more) = try b.ansar(["start", "--host", "pub"])
        #expect(started == 0, "\(more)")
        defer { _ = try? b.ansar(["stop"]) }
        let owner = String(try a.ansar(["identity", "pub"]).1.prefix(64))
        let (granted, said, _) = try a.ansar(["grant", "publish", "hello-", "--key", owner])
        #expect(granted == 0 && said.hasSuffix("; 1 directory daemon told\n"), "\(said)")
        let publisher = String(try b.ansar(["identity", "pub"]).1.prefix(16))
        #expect(
            try within(20) {
                try b.ansar(["returned", "pub"]).1.contains(
                    "refused by the HOST directory: identity \(publisher) may not publish hello-welcome")
            })
    }

    @Test(
        "bad grants: one line naming the mistake, exit non-zero, the rules unchanged",
        arguments: [
            (
                ["grant", "publish", "bad name", "pub"],
                "ansar: prefix: name \"bad name\" holds \" \"; use letters, digits and -_./\n"
            ),
            (["grant", "publish", "hello-"], "ansar: grant publish hello-: name a role or a --key\n"),
            (
                ["grant", "publish", "hello-", "nobody"],
                "ansar: unknown role nobody: see `ansar list`, or `ansar add EXECUTABLE nobody`\n"
            ),
            (
                ["grant", "publish", "hello-", "--key", "abc"],
                "ansar: --key abc: expected 64 hexadecimal digits (`ansar identity ROLE` shows one)\n"
            ),
            (
                ["revoke", "subscribe", "hello-"],
                "ansar: no subscribe grant on \"hello-\" for that: see `ansar permissions`\n"
            ),
            (["grant", "own", "hello-", "pub"], nil),
        ])
    func badGrants(arguments: [String], expected: String?) throws {
        let scratch = try Scratch()
        try scratch.seedHome()
        #expect(try scratch.ansar(["grant", "publish", "hello-", "pub"]).0 == 0)
        let before = try SystemAccess.readSmallFile("\(scratch.home)/permissions.json").bytes
        let (code, _, errors) = try scratch.ansar(arguments)
        #expect(code != 0)
        if let expected { #expect(errors == expected) } else { #expect(errors.contains("own"), "\(errors)") }
        #expect(try SystemAccess.readSmallFile("\(scratch.home)/permissions.json").bytes == before)
    }
}
