import Testing

@testable import PubSub

func listing(_ id: UInt64, _ name: String, _ scope: Scope = .group, member: UInt64) -> Matcher.Entry {
    Matcher.Entry(id: id, kind: .listing(try! ServiceName(name)), scope: scope, member: member)
}

func search(_ id: UInt64, _ search: Search, _ scope: Scope = .group, member: UInt64) -> Matcher.Entry {
    Matcher.Entry(id: id, kind: .search(search), scope: scope, member: member)
}

@Suite("Names and searches")
struct NameTests {
    @Test(
        "names: letters, digits and -_./, starting with a letter or digit, at most 255 bytes",
        arguments: [
            ("hello-welcome", nil),
            ("a.b_c/d-9", nil),
            ("", "a name cannot be empty"),
            ("-x", "name \"-x\" must start with a letter or digit"),
            ("hello welcome", "name \"hello welcome\" holds \" \"; use letters, digits and -_./"),
            ("héllo", "name \"héllo\" holds \"é\"; use letters, digits and -_./"),
            (String(repeating: "a", count: 256), "name of 256 bytes is over 255"),
        ] as [(String, String?)])
    func names(text: String, problem: String?) {
        do {
            _ = try ServiceName(text)
            #expect(problem == nil)
        } catch {
            #expect(error.description == problem)
        }
    }

    @Test("searches are exact unless asked otherwise; patterns match whole names")
    func searches() throws {
        let name = try ServiceName("hello-welcome")
        #expect(try Search.name("hello-welcome").matches(name))
        #expect(!(try Search.name("hello")).matches(name), "no implicit prefix, unlike the reference")
        #expect(Search.prefix("hello").matches(name))
        #expect(Search.pattern("hello-.*").matches(name))
        #expect(!Search.pattern("hello").matches(name), "a pattern matches the whole name")
        #expect(throws: NameError.self) { try Search.pattern("(unclosed").validated() }
    }
}

@Suite("The directory state machine, without sockets")
struct MatcherTests {
    @Test("a listing and a search match whichever comes first; two publishers of one name both match")
    func matching() {
        var directory = Matcher(scope: .process)
        let pub1 = listing(1, "hello", member: 10)
        let sub = search(2, .prefix("hel"), member: 20)
        let pub2 = listing(3, "hello", member: 30)
        #expect(directory.add(pub1) == [])
        #expect(directory.add(sub) == [.open(listing: pub1, search: sub)])
        #expect(directory.add(pub2) == [.open(listing: pub2, search: sub)])
        #expect(directory.add(pub2) == [], "a second add of one identifier changes nothing")
        #expect(directory.remove(1) == [.close(listing: pub1, search: sub)])
        #expect(directory.lose(20) == [.close(listing: pub2, search: sub)])
        #expect(directory.listings == [pub2])
    }

    @Test("a pattern search matches whole names, whichever comes first, and closes when either goes")
    func patternSearch() {
        var directory = Matcher(scope: .process)
        let early = listing(1, "hello-welcome", member: 10)
        let other = listing(2, "hello", member: 11)
        let sub = search(3, .pattern("hello-.*"), member: 20)
        let late = listing(4, "hello-again", member: 12)
        #expect(directory.add(early) == [])
        #expect(directory.add(other) == [])
        #expect(directory.add(sub) == [.open(listing: early, search: sub)], "the pattern matches whole names only")
        #expect(directory.add(late) == [.open(listing: late, search: sub)])
        #expect(directory.remove(3) == [.close(listing: early, search: sub), .close(listing: late, search: sub)])
        #expect(directory.add(listing(5, "hello-later", member: 13)) == [], "a removed pattern matches nothing")
    }

    @Test("entries that reach further are passed up, and withdrawn; a new parent gets them again")
    func forwarding() {
        var directory = Matcher(scope: .process, hasParent: true)
        let local = listing(1, "a", .process, member: 10)
        let wide = listing(2, "b", .host, member: 10)
        #expect(directory.add(local) == [])
        #expect(directory.add(wide) == [.forward(wide)])
        #expect(directory.parentLinked() == [.forward(wide)])
        #expect(directory.remove(2) == [.withdraw(wide)])
    }

    @Test("a directory keeps only entries whose scope reaches it, and matches only across members")
    func scopesAndMembers() {
        var group = Matcher(scope: .group, hasParent: true)
        #expect(group.add(listing(1, "x", .process, member: 100)) == [], "PROCESS entries never reach a group")
        #expect(group.listings.isEmpty)
        let pub = listing(2, "x", .group, member: 100)
        let sameProcess = search(3, try! .name("x"), .group, member: 100)
        let otherProcess = search(4, try! .name("x"), .host, member: 200)
        #expect(group.add(pub) == [])
        #expect(group.add(sameProcess) == [], "matched below, in the process")
        #expect(group.add(otherProcess) == [.open(listing: pub, search: otherProcess), .forward(otherProcess)])
    }

    @Test("a chain: two processes under one group; the match is made once, at the group")
    func chain() {
        var processA = Matcher(scope: .process, hasParent: true)
        var processB = Matcher(scope: .process, hasParent: true)
        var group = Matcher(scope: .group)
        let pub = listing(1, "hello-welcome", .group, member: 1)
        let sub = search(2, try! .name("hello-welcome"), .group, member: 2)
        // Each process passes its entries up; the group sees them as its members 100 and 200.
        func relay(_ actions: [Matcher.Action], from member: UInt64) -> [Matcher.Action] {
            actions.flatMap { action -> [Matcher.Action] in
                switch action {
                case .forward(let entry):
                    return group.add(Matcher.Entry(id: entry.id, kind: entry.kind, scope: entry.scope, member: member))
                case .withdraw(let entry): return group.remove(entry.id)
                default: return []
                }
            }
        }
        #expect(relay(processA.add(pub), from: 100) == [])
        let opened = relay(processB.add(sub), from: 200)
        #expect(opened.count == 1)
        if case .open(let l, let s) = opened.first {
            #expect(l.id == 1 && s.id == 2 && l.member == 100 && s.member == 200)
        } else {
            Issue.record("expected an open at the group, got \(opened)")
        }
        let closed = relay(processA.lose(1), from: 100)
        #expect(closed.count == 1)
        if case .close = closed.first {} else { Issue.record("expected a close, got \(closed)") }
    }
}
