// Many idle links in one process: what each costs in memory, how fast they come up, and how soon
// every one is declared lost when its peers freeze.
import Actors
import AnsarTestKit
import CBaseline
import Platform
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

let scaleSecret = RealmSecret(hex: String(repeating: "6c", count: 32))!

/// `ansar-bench --crowd ADDRESS COUNT`: a child process that opens COUNT idle links to ADDRESS and
/// holds them, saying `crowd up N` on stderr as they come up.
func runCrowd(address: String?, count: String?) -> Never {
    guard let address, let target = try? SocketAddress(parsing: address), let count = count.flatMap({ Int($0) })
    else { fail("--crowd takes ADDRESS COUNT") }
    let counts = CrowdCounts()
    _ = ThreadStarter.start {
        var said = -1
        while true {
            if counts.up != said {
                said = counts.up
                SystemAccess.writeStandardError("crowd up \(said) \n")
            }
            usleep(20_000)
        }
    }
    var tuning = Tuning()
    tuning.sockets = count + 256
    do {
        let runtime = Runtime(reactor: try tuning.makeReactor(), transport: TransportConfiguration(secret: scaleSecret))
        _ = try runtime.run(Crowd(target: target, count: count, counts: counts))
    } catch {
        fail("crowd: \(error)")
    }
    exit(0)
}

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
    let me = ChildProcess.currentExecutable() ?? CommandLine.arguments[0]
    func crowd(_ count: Int, upTo expected: Int) -> Subprocess {
        guard let process = try? Subprocess(me, ["--crowd", "\(address)", "\(count)"]) else { fail("crowd: spawn") }
        guard process.waitForError(containing: "crowd up \(count) ", seconds: 300),
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
