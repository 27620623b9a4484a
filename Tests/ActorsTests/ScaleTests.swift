import Actors
import AnsarTestKit
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Ten thousand links in one process: the socket table raised through ``Tuning``, the descriptor
/// limit with it, and every link still watched by its keep-alive.
@Suite("Ten thousand links in one process")
struct ScaleTests {
    @Test(
        "one runtime holds 10,000 idle TCP links from a crowd process, loses none while the crowd lives, and declares every one lost when the crowd freezes"
    )
    func tenThousandLinks() throws {
        let count = 10_000
        // Warnings only: every one of the 10,000 lost links says so at info.
        var logger = Logger(label: "ansar.actors")
        logger.logLevel = .warning
        let holder = HeldCrowd(links: count, transport: TransportConfiguration(secret: crowdSecret), logger: logger)
        defer { holder.stop() }
        let counts = holder.counts
        let address = try #require(holder.address(), "the holder listens")
        let crowd = try Subprocess(
            "link-node", Crowd.linkNodeArguments(to: address, count: count),
            environment: ["ANSAR_REALM_SECRET": crowdSecret.hex])
        defer { crowd.end() }

        // As long as links keep coming up (a debug build on a loaded machine makes a few hundred
        // handshakes a second); a ramp that stops for 60 s fails.
        try #require(
            whileProgressing(stall: 60, { counts.up }) { crowd.errors.contains("crowd up \(count) ") },
            "the crowd stalled at \(counts.up) of \(count): \(crowd.errors.suffix(600))")
        #expect(within(60) { counts.up == count }, "the holder accepted \(counts.up) of \(count)")
        // The first links have been idle through the whole ramp, probed by both sides.
        #expect(counts.lost == 0, "no live link was declared lost: \(counts.lost)")
        let crowdLost = crowd.errors.split(separator: "\n").compactMap { line in
            line.split(separator: " ").split(separator: "lost").dropFirst().first?.first.flatMap { Int($0) }
        }
        #expect(crowdLost.allSatisfy { $0 == 0 }, "the crowd lost none: \(crowd.errors.suffix(600))")

        crowd.signal(SIGSTOP)
        #expect(within(120) { counts.lost == count }, "lost \(counts.lost) of \(count) after the crowd froze")
        crowd.signal(SIGCONT)
    }
}

private let crowdSecret = RealmSecret(hex: String(repeating: "4b", count: 32))!
