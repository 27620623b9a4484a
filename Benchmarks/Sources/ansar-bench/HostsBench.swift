import AnsarTestKit
import Platform
import PubSub
// Across namespaced hosts (root only): the real release `ansar` directories on a LAN of three
// hosts and two LANs joined by a WAN directory, with `bench-node` roles; times taken from the
// roles' monotonic-clock reports.
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

struct HostsFigures {
    var launchToAvailable: [Double] = []
    var cutToDropped: [Double] = []
    var restoredToAvailable: [Double] = []
    /// From the first probe that gets through the restored link to Available.
    var passingToAvailable: [Double] = []
    var relayedRoundTrip: [Double] = []
    var directRoundTrip: [Double] = []
}

/// The stderr lines `bench KIND VALUE` of `process`, as (kind, value).
func reports(_ process: Subprocess) -> [(String, UInt64)] {
    process.errors.split(separator: "\n").compactMap { line in
        let words = line.split(separator: " ")
        guard words.count == 3, words[0] == "bench", let value = UInt64(words[2]) else { return nil }
        return (String(words[1]), value)
    }
}

/// Waits until `process` has reported `kind` `count` times; the value of the last one.
func awaitReport(_ process: Subprocess, _ kind: String, count: Int = 1, seconds: Double = 20) throws -> UInt64 {
    let deadline = Deadline.after(.nanoseconds(Int64(seconds * 1e9)))
    while Deadline.now() < deadline {
        let found = reports(process).filter { $0.0 == kind }
        if found.count >= count { return found[count - 1].1 }
        usleep(1_000)
    }
    throw HostError("no '\(kind)' report #\(count) within \(seconds) s: \(process.errors.suffix(8000))")
}

func milliseconds(_ from: UInt64, _ to: UInt64) -> Double { Double(Int64(bitPattern: to &- from)) / 1e6 }

func hostsFigures(trials: Int, pings: Int) throws -> HostsFigures {
    var figures = HostsFigures()
    let network = try TestNetwork(executables: "../.build/release")
    defer { network.tearDown() }
    try network.addLAN(1)
    try network.addLAN(2)
    let w = try network.addHost("w", [(1, "198.18.1.254/24"), (2, "198.18.2.254/24")])
    let a = try network.addHost("a", [(1, "198.18.1.1/24")])
    let b = try network.addHost("b", [(1, "198.18.1.2/24")])
    let c = try network.addHost("c", [(1, "198.18.1.3/24")])
    let d = try network.addHost("d", [(2, "198.18.2.1/24")])
    let e = try network.addHost("e", [(2, "198.18.2.2/24")])
    try w.makeHome()
    for host in [a, b, c, d, e] { try host.makeHome(realmOf: w) }
    _ = try w.ansarProcess(["directory", "--scope=wan"])
    _ = try a.ansarProcess(["directory", "--scope=lan", "--parent=198.18.1.254:32178"])
    _ = try d.ansarProcess(["directory", "--scope=lan", "--parent=198.18.2.254:32178"])
    for host in [a, b, c, d, e] { _ = try host.ansarProcess(["directory"]) }
    let secret = Subprocess.read("\(w.home)/secret").split(separator: "\n").first.map(String.init) ?? ""
    let environment = ["ANSAR_REALM_SECRET": secret]
    // Processes link straight to their host's directory: no group runner in the way of the clock.
    // ANSAR_BENCH_LOG=LEVEL: the roles log at that level (shown when a report does not come).
    let logLevel = ChildProcess.currentEnvironment()["ANSAR_BENCH_LOG"].map { ["--debug-level=\($0)"] } ?? []
    // Each host's directory listens where a HOST directory of the realm does by default.
    guard let realm = RealmSecret(hex: secret) else { fail("hosts: no realm secret in \(w.home)/secret") }
    let hostDirectory = ScopeDirectory.hostAddress(of: realm)
    func node(_ host: Host, _ settings: [String]) throws -> Subprocess {
        try host.start(
            "bench-node", settings + ["--group-address=\(hostDirectory)"] + logLevel, environment: environment)
    }
    let publisher = try node(c, ["--role=publisher", "--scope=wan"])
    _ = try awaitReport(try node(c, ["--role=listener"]), "listening")
    usleep(1_500_000) // beacons found, links up
    // Subscriber launch → Available at LAN scope (b and c on one LAN).
    for _ in 0..<trials {
        let launched = Deadline.now().nanoseconds
        let subscriber = try node(b, ["--role=subscriber", "--scope=lan"])
        figures.launchToAvailable.append(milliseconds(launched, try awaitReport(subscriber, "available")))
        subscriber.signal(SIGTERM)
        _ = subscriber.wait()
    }
    // Link cut → Dropped, restored → Available.
    let subscriber = try node(b, ["--role=subscriber", "--scope=lan"])
    _ = try awaitReport(subscriber, "available")
    for trial in 1...trials {
        usleep(2_000_000) // outages apart, as they come: every level has settled since the last
        try network.setLink(c, lan: 1, up: false)
        let cut = Deadline.now().nanoseconds
        figures.cutToDropped.append(milliseconds(cut, try awaitReport(subscriber, "dropped", count: trial)))
        try network.setLink(c, lan: 1, up: true)
        let restored = Deadline.now().nanoseconds
        // A raw TCP probe from b says when the link first passes traffic again.
        let probe = try node(b, ["--role=probe", "--target=198.18.1.3"])
        let available = try awaitReport(subscriber, "available", count: trial + 1)
        figures.restoredToAvailable.append(milliseconds(restored, available))
        figures.passingToAvailable.append(milliseconds(try awaitReport(probe, "passes"), available))
        _ = probe.wait()
    }
    subscriber.signal(SIGTERM)
    _ = subscriber.wait()
    // WAN: e (LAN 2) to c (LAN 1) relayed by w, then direct through w's forwarding, in turns.
    func roundTrip() throws -> Double {
        let wan = try node(e, ["--role=subscriber", "--scope=wan", "--pings=\(pings)"])
        let p50 = try awaitReport(wan, "rtt-p50-ns")
        wan.signal(SIGTERM)
        _ = wan.wait()
        return Double(p50) / 1e3
    }
    // LAN 1 and LAN 2 reach each other through `w`, or not.
    func routed(_ on: Bool) throws {
        try network.setRoute(c, to: "198.18.2.0/24", via: "198.18.1.254", present: on)
        try network.setRoute(e, to: "198.18.1.0/24", via: "198.18.2.254", present: on)
        try network.setForwarding(w, on: on)
    }
    for _ in 0..<3 {
        figures.relayedRoundTrip.append(try roundTrip())
        try routed(true)
        figures.directRoundTrip.append(try roundTrip())
        try routed(false)
    }
    publisher.signal(SIGTERM)
    return figures
}
