import Actors
import Platform
import PubSub
import Synchronization

// The directory's matching: a refill (a directory restarted, its members pass everything up
// again) in the matcher alone, beside the rule applied pairwise as the matcher did before it kept
// indexes; matches per second at a full directory; and a refill through a real group directory.

/// Names and searches of a refill: listing i is "svc-i", search i looks for it.
private func refillEntries(_ count: Int) -> (listings: [Matcher.Entry], searches: [Matcher.Entry]) {
    let listings = (0..<count).map { index in
        Matcher.Entry(id: UInt64(index + 1), kind: .listing(try! ServiceName("svc-\(index)")), scope: .group, member: 1)
    }
    let searches = (0..<count).map { index in
        Matcher.Entry(
            id: UInt64(count + index + 1), kind: .search(.exact(try! ServiceName("svc-\(index)"))), scope: .group,
            member: 2)
    }
    return (listings, searches)
}

/// Milliseconds for the matcher to take `count` listings and `count` searches; fails unless each
/// search met its listing.
func matcherRefill(_ count: Int) -> Double {
    let (listings, searches) = refillEntries(count)
    var matcher = Matcher(scope: .group)
    let start = Deadline.now()
    var opened = 0
    for entry in listings + searches { opened += matcher.add(entry).count }
    let elapsed = milliseconds(since: start)
    if opened != count { fail("matcher refill opened \(opened) of \(count)") }
    return elapsed
}

/// The same refill, each entry compared with every entry kept (`Search.matches`, pairwise).
func pairwiseRefill(_ count: Int) -> Double {
    let (listings, searches) = refillEntries(count)
    var kept: [Matcher.Entry] = []
    kept.reserveCapacity(2 * count)
    var opened = 0
    let start = Deadline.now()
    for entry in listings + searches {
        for other in kept where other.member != entry.member {
            switch (entry.kind, other.kind) {
            case (.listing(let name), .search(let search)), (.search(let search), .listing(let name)):
                if search.matches(name) { opened += 1 }
            default: break
            }
        }
        kept.append(entry)
    }
    let elapsed = milliseconds(since: start)
    if opened != count { fail("pairwise refill opened \(opened) of \(count)") }
    return elapsed
}

/// Matches per second at a directory holding `count` listings and `count` searches: a search for
/// one listed name comes and goes (its session opens, then closes).
func matchesPerSecond(entries count: Int, seconds: Double) -> Double {
    let (listings, searches) = refillEntries(count)
    var matcher = Matcher(scope: .group)
    for entry in listings + searches { _ = matcher.add(entry) }
    var matches = 0
    var index = 0
    let start = Deadline.now()
    let end = Deadline.after(.milliseconds(Int64(seconds * 1000)))
    while Deadline.now() < end {
        let id = UInt64(10 * count + index)
        let name = try! ServiceName("svc-\(index % count)")
        matches += matcher.add(Matcher.Entry(id: id, kind: .search(.exact(name)), scope: .group, member: 3)).count
        _ = matcher.remove(id)
        index += 1
    }
    return Double(matches) / (milliseconds(since: start) / 1000)
}

/// Milliseconds from a subscriber's process subscribing (one prefix search per name) to
/// `count` Available, with `count` listings already at the group directory from another process.
func groupRefill(group: SocketAddress, count: Int) -> Double {
    let published = Listed()
    let publishers = RuntimeThread(transport: benchGroupSecret, groupAddress: group) { mailbox in
        for index in 0..<count { mailbox.publish(try ServiceName("refill-\(index)"), scope: .group) }
        for _ in 0..<count { _ = try await mailbox.select(Published.self) }
        published.flag.store(true, ordering: .releasing)
        _ = try await mailbox.select(Stop.self)
        return Ack()
    }
    published.wait()
    guard let publishersMain = publishers.mainAddress() else { fail("refill publisher did not start") }
    let subscriber = RuntimeThread(transport: benchGroupSecret, groupAddress: group) { mailbox in
        let start = Deadline.now()
        for index in 0..<count { mailbox.subscribe(try .name("refill-\(index)"), scope: .group) }
        var available = 0
        while available < count {
            let message = try await mailbox.select(Available.self, NotAvailable.self, timeout: .seconds(60))
            guard message is Available else { fail("refill: \(available) of \(count) Available, then \(message)") }
            available += 1
        }
        let elapsed = milliseconds(since: start)
        try mailbox.send(Stop(), to: publishersMain)
        return Measured(messages: count, seconds: elapsed / 1000, allocations: 0, times: [])
    }
    guard let measured = subscriber.wait() as? Measured else { fail("refill subscriber failed") }
    _ = publishers.wait()
    return measured.seconds * 1000
}
