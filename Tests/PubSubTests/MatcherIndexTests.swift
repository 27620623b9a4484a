import Testing

@testable import PubSub

/// The matcher's indexes against the rule they stand for: every listing meets every search that
/// matches its name (`Search.matches`), once, whatever the order of adds and removes.
@Suite("Matcher indexes and bounds")
struct MatcherIndexTests {
    /// A small generator with a fixed seed, so a failure repeats.
    struct Seeded {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    static let names = ["a", "ab", "abc", "abd", "b", "b.c", "ba", "svc-1", "svc-12", "svc-2", "z"]
    static let searches: [Search] = [
        .exact("ab"), .exact("svc-1"), .exact("zz"), .prefix("a"), .prefix("ab"), .prefix("svc-1"), .prefix("b."),
        .prefix("q"), .pattern("svc-[0-9]+"), .pattern("a.*"), .pattern("b\\..*"),
    ]

    @Test("seeded adds and removes open exactly the pairs the rule opens, and close what they opened", arguments: 1...8)
    func sameAsTheRule(seed: UInt64) {
        var random = Seeded(state: seed)
        var matcher = Matcher(scope: .group)
        var live: [UInt64: Matcher.Entry] = [:]
        var open: Set<Matcher.Pair> = []
        func matchesByRule(_ a: Matcher.Entry, _ b: Matcher.Entry) -> Bool {
            guard a.member != b.member else { return false }
            switch (a.kind, b.kind) {
            case (.listing(let name), .search(let search)), (.search(let search), .listing(let name)):
                return search.matches(name)
            default: return false
            }
        }
        for step in 0..<400 {
            let id = UInt64(random.next(60) + 1)
            if let entry = live[id] {
                var expected: Set<Matcher.Pair> = []
                for other in live.values where other.id != id && matchesByRule(entry, other) {
                    expected.insert(pairOf(entry, other))
                }
                let closed = matcher.remove(id).compactMap { action -> Matcher.Pair? in
                    guard case .close(let l, let s) = action else { return nil }
                    return Matcher.Pair(listing: l.id, search: s.id)
                }
                #expect(Set(closed) == expected && closed.count == expected.count, "step \(step): remove \(id)")
                open.subtract(closed)
                live[id] = nil
            } else {
                let member = UInt64(random.next(3))
                let entry =
                    random.next(2) == 0
                    ? listing(id, Self.names[random.next(Self.names.count)], member: member)
                    : search(id, Self.searches[random.next(Self.searches.count)], member: member)
                var expected: Set<Matcher.Pair> = []
                for other in live.values where matchesByRule(entry, other) { expected.insert(pairOf(entry, other)) }
                let opened = matcher.add(entry).compactMap { action -> Matcher.Pair? in
                    guard case .open(let l, let s) = action else { return nil }
                    return Matcher.Pair(listing: l.id, search: s.id)
                }
                #expect(Set(opened) == expected && opened.count == expected.count, "step \(step): add \(entry)")
                #expect(open.isDisjoint(with: opened), "step \(step): a pair opened twice")
                open.formUnion(opened)
                live[id] = entry
            }
        }
        // Losing every member closes what is still open, and leaves the matcher empty.
        var closed: [Matcher.Pair] = []
        for member: UInt64 in 0..<3 {
            for case .close(let l, let s) in matcher.lose(member) {
                closed.append(Matcher.Pair(listing: l.id, search: s.id))
            }
        }
        #expect(Set(closed) == open && closed.count == open.count)
        #expect(matcher.count == 0)
    }

    private func pairOf(_ a: Matcher.Entry, _ b: Matcher.Entry) -> Matcher.Pair {
        if case .listing = a.kind {
            Matcher.Pair(listing: a.id, search: b.id)
        } else {
            Matcher.Pair(listing: b.id, search: a.id)
        }
    }

    @Test("a full directory refuses the next entry, and changes nothing else")
    func capacity() {
        var matcher = Matcher(scope: .group, capacity: 2)
        #expect(matcher.add(listing(1, "a", member: 1)) == [])
        #expect(matcher.add(search(2, .prefix("a"), member: 2)).count == 1)
        let third = search(3, .exact("a"), member: 3)
        #expect(matcher.add(third) == [.refuse(third, reason: "directory full (2 entries)")])
        #expect(matcher.count == 2)
        // Room again after a remove: the same entry is taken.
        _ = matcher.remove(2)
        #expect(matcher.add(third) == [.open(listing: listing(1, "a", member: 1), search: third)])
    }

    @Test("one member holds at most its share: a quarter of the entries and of the pattern searches; others go on")
    func perMember() {
        var matcher = Matcher(scope: .group, capacity: 8, patternCapacity: 4)
        for id in UInt64(1)...2 { #expect(matcher.add(listing(id, "a\(id)", member: 1)) == []) }
        let third = listing(3, "a3", member: 1)
        #expect(matcher.add(third) == [.refuse(third, reason: "too many entries from one member (2)")])
        let other = search(4, .pattern("a.*"), member: 2)
        #expect(matcher.add(other).count == 2, "another member is served")
        let second = search(5, .pattern("b.*"), member: 2)
        #expect(matcher.add(second) == [.refuse(second, reason: "too many pattern searches from one member (1)")])
        _ = matcher.remove(4)
        #expect(matcher.add(second) == [], "its share is back once it gives one up")
        _ = matcher.lose(1)
        #expect(matcher.add(third) == [], "a member that went has its share back")
    }

    @Test("pattern searches are bounded apart from the rest: each new listing is tried against every one")
    func patternCapacity() {
        var matcher = Matcher(scope: .group, patternCapacity: 1)
        #expect(matcher.add(search(1, .pattern("a+"), member: 1)) == [])
        let second = search(2, .pattern("b+"), member: 1)
        #expect(matcher.add(second) == [.refuse(second, reason: "directory full (1 pattern searches)")])
        #expect(matcher.add(search(3, .prefix("b"), member: 1)) == [], "other searches still taken")
        let broken = search(4, .pattern("("), member: 1)
        _ = matcher.remove(1)
        #expect(matcher.add(broken) == [.refuse(broken, reason: "pattern \"(\": a group not closed at byte 2")])
        #expect(matcher.count == 1)
    }

    @Test("a refill of 2,000 listings and 2,000 searches opens each matching pair once")
    func refill() {
        var matcher = Matcher(scope: .group)
        var opened = 0
        for index in 0..<2_000 {
            opened += matcher.add(listing(UInt64(index + 1), "svc-\(index)", member: 1)).count
        }
        for index in 0..<2_000 {
            // Exact searches for every name; every hundredth a prefix that also takes "svc-1…".
            let wanted: Search = index % 100 == 0 ? .prefix("svc-1") : .exact(try! ServiceName("svc-\(index)"))
            opened += matcher.add(search(UInt64(10_000 + index), wanted, member: 2)).count
        }
        // 1,980 exact matches, and 20 prefix searches each matching the 1,111 names "svc-1…".
        #expect(opened == 1_980 + 20 * 1_111)
    }
}
