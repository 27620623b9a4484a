import Testing

@testable import PubSub

@Suite("Name patterns: the regular expressions that fit names, matched without backtracking")
struct NamePatternTests {
    func matches(_ pattern: String, _ name: String) throws -> Bool { try NamePattern(pattern).matches(name) }

    @Test("the syntax: literals, any, sets, escapes, groups, alternatives, repetitions; the whole name")
    func syntax() throws {
        let cases: [(String, String, Bool)] = [
            ("hello-.*", "hello-welcome", true), ("hello", "hello-welcome", false),
            ("svc-[0-9]+", "svc-42", true), ("svc-[0-9]+", "svc-", false), ("svc-\\d{2}", "svc-42", true),
            ("svc-\\d{2}", "svc-421", false), ("svc-\\d{2,}", "svc-421", true), ("a{2,3}", "aaaa", false),
            ("(red|green)/light", "green/light", true), ("(red|green)/light", "blue/light", false),
            ("b\\..*", "b.x", true), ("b\\..*", "bx", false), ("[^a-c]x", "dx", true), ("[^a-c]x", "bx", false),
            ("^api/v[12]$", "api/v2", true), ("\\w+_x?", "a_", true), ("(a*)*b", "aab", true), ("a|", "", true),
            ("[-a]z", "-z", true), ("colou?r", "color", true),
        ]
        for (pattern, name, expected) in cases {
            #expect(try matches(pattern, name) == expected, "\(pattern) on \(name)")
        }
    }

    @Test("refused with where: bad syntax, what names never hold, too long, too complex")
    func refusals() {
        for (pattern, says) in [
            ("(oops", "a group not closed"), ("a)", "unexpected \")\""), ("*a", "a repetition of nothing"),
            ("a{3,1}", "n below m"), ("a{256}", "over 255"), ("[abc", "not closed"), ("\\q", "unknown escape"),
            ("a^b", "unexpected \"^\""), ("é", "no name holds"), ("", "1 to 255 bytes"),
            (String(repeating: "a", count: 256), "1 to 255 bytes"), ("((a{200}){200})", "too complex"),
        ] {
            #expect {
                try NamePattern(pattern)
            } throws: { error in
                (error as? NameError)?.description.contains(says) == true
            }
        }
    }

    @Test("the same answers as Swift's Regex, over 2,000 random patterns and names")
    func sameAsRegex() throws {
        var random = SystemRandomNumberGenerator()
        let atoms = ["a", "b", ".", "[ab]", "[^a]", "\\.", "-", "(a|b)", "(ab|a)", "(a*)", "(b|)"]
        let repeats = ["", "", "*", "+", "?", "{2}", "{0,2}", "{1,}"]
        let letters = Array("ab.-")
        for _ in 0..<2_000 {
            let pattern = (0..<Int.random(in: 1...5, using: &random)).map { _ in
                atoms.randomElement(using: &random)! + repeats.randomElement(using: &random)!
            }.joined()
            let name = String((0..<Int.random(in: 0...8, using: &random)).map { _ in letters.randomElement()! })
            let regex = try Regex(pattern)
            let expected = (try? regex.wholeMatch(in: name)) != nil
            #expect(try matches(pattern, name) == expected, "\(pattern) on \(name)")
        }
    }

    @Test("patterns built to backtrack, against 255-byte names and a directory of 1,000 listings, finish")
    func noBacktracking() throws {
        let long = String(repeating: "a", count: 254) + "b"
        for pattern in ["(a|aa)+$", "(a+)+c", "(a*)*c", String(repeating: "a*", count: 100) + "c"] {
            #expect(try !matches(pattern, long), "\(pattern)")
        }
        var matcher = Matcher(scope: .group)
        for index in 0..<1_000 {
            let name = try ServiceName(String(repeating: "a", count: 250) + "\(index)")
            _ = matcher.add(Matcher.Entry(id: UInt64(index + 1), kind: .listing(name), scope: .group, member: 1))
        }
        let evil = Matcher.Entry(id: 5_000, kind: .search(.pattern("(a|aa)+$")), scope: .group, member: 2)
        #expect(matcher.add(evil).isEmpty)
    }
}
