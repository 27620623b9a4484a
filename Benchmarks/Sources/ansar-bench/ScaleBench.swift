// Many idle links in one process: what each costs in memory, how fast they come up, and how soon
// every one is declared lost when its peers freeze.
import Actors
import AnsarTestKit
import CBaseline
import Platform

#if canImport(Glibc)
    import Glibc
#endif

let scaleSecret = RealmSecret(hex: String(repeating: "6c", count: 32))!

struct IdleLinks {
    /// Marginal resident KiB per link between 1,000 and `total`: the holder's and a crowd's.
    var holderKiB: Double
    /// Of that, what the holder's heap keeps per link (live blocks).
    var holderHeapKiB: Double
    var crowdKiB: Double
    var linksPerSecond: Double
    /// From freezing every crowd until the holder had declared each link lost.
    var detectionSeconds: Double
    var deadlineSeconds: Double
}

/// A holder in this process takes 1,000 links from one crowd process, then `total − 1,000` more
/// from a second; both crowds are then frozen (SIGSTOP).
func idleLinks(total: Int) -> IdleLinks {
    let configuration = TransportConfiguration(secret: scaleSecret)
    let holder = HeldCrowd(links: total, transport: configuration)
    defer { holder.stop() }
    let counts = holder.counts
    guard let address = holder.address() else { fail("holder: no listener") }
    // The tests' crowd: `link-node`, which `make bench` builds in release beside `ansar`.
    func crowd(_ count: Int, upTo expected: Int) -> Subprocess {
        guard let linkNode = releaseExecutable("link-node"),
            let process = try? Subprocess(
                linkNode, Crowd.linkNodeArguments(to: address, count: count),
                environment: ["ANSAR_REALM_SECRET": scaleSecret.hex])
        else { fail("crowd: cannot start ../.build/release/link-node (make bench builds it)") }
        // As long as links keep coming up; a ramp that stops for 60 s fails.
        guard whileProgressing(stall: 60, { counts.up }, { process.errors.contains("crowd up \(count) ") }),
            within(60, { counts.up >= expected })
        else {
            fail("crowd of \(count): \(process.errors.suffix(300)); holder has \(counts.up)")
        }
        return process
    }
    let first = crowd(1_000, upTo: 1_000)
    let holderAtFirst = Subprocess.residentKiB(of: getpid()) ?? 0
    let heapAtFirst = cbaseline_heap_bytes()
    let crowdAtFirst = first.residentKiB ?? 0
    let started = Deadline.now()
    let second = crowd(total - 1_000, upTo: total)
    let rampSeconds = Double(started.nanoseconds(until: .now())) / 1e9
    let holderAtTotal = Subprocess.residentKiB(of: getpid()) ?? 0
    let heapAtTotal = cbaseline_heap_bytes()
    let crowdAtTotal = second.residentKiB ?? 0
    defer {
        first.end()
        second.end()
    }
    let frozen = Deadline.now()
    first.signal(SIGSTOP)
    second.signal(SIGSTOP)
    guard within(120, { counts.lost >= total }) else { fail("frozen crowds: only \(counts.lost) of \(total) lost") }
    let detection = Double(frozen.nanoseconds(until: .now())) / 1e9
    let others = Double(total - 1_000)
    return IdleLinks(
        holderKiB: Double(holderAtTotal - holderAtFirst) / others,
        holderHeapKiB: Double(heapAtTotal - heapAtFirst) / 1024 / others,
        crowdKiB: Double(crowdAtTotal - crowdAtFirst) / (others - 1_000),
        linksPerSecond: others / rampSeconds, detectionSeconds: detection,
        deadlineSeconds: Double(configuration.networkKeepAlive.deadline.nanosecondsClamped) / 1e9)
}
