import AnsarTestKit
import Platform
import Reactor
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Two LANs, 198.18.1.0/24 and 198.18.2.0/24, that cannot reach each other, and a host `w` on both
/// (198.18.1.254, 198.18.2.254) running the WAN directory and its relay, forwarding nothing. Each
/// LAN has a LAN directory linked to `w` by address (`a`, `d`); `c` on LAN 1 runs a WAN-scope
/// publisher in a background group, `e` on LAN 2 a WAN-scope subscriber.
final class TwoLANs {
    let network: TestNetwork
    let a: Host, c: Host, d: Host, e: Host, w: Host
    var directories: [Subprocess] = []

    /// How the WAN directory relays: with a relay of its own, with none, or with one it names
    /// (`ansar relay` on its own, on `w` too).
    enum Relay { case own, none, named }

    init(relay: Relay = .own) throws {
        network = try TestNetwork()
        try network.addLAN(1)
        try network.addLAN(2)
        w = try network.addHost("w", [(1, "198.18.1.254/24"), (2, "198.18.2.254/24")])
        a = try network.addHost("a", [(1, "198.18.1.1/24")])
        c = try network.addHost("c", [(1, "198.18.1.3/24")])
        d = try network.addHost("d", [(2, "198.18.2.1/24")])
        e = try network.addHost("e", [(2, "198.18.2.2/24")])
        try w.makeHome()
        for host in [a, d] { try host.makeHome(realmOf: w) }
        try c.makeHome(realmOf: w, roles: ["pub": publisher("C", scope: "wan")])
        try e.makeHome(
            realmOf: w,
            roles: ["sub": #"{"role": "subscriber", "scope": "wan", "me": "E", "endWhenNotAvailable": true}"#])
        switch relay {
        case .own: directories.append(try w.ansarProcess(["directory", "--scope=wan"]))
        case .none: directories.append(try w.ansarProcess(["directory", "--scope=wan", "--relay=none"]))
        case .named:
            // The relay's machine holds only the relay key, random, which the WAN directory is given too.
            let key = "\(network.scratch)/relay.key"
            let (wrote, _, errors) = try w.ansar(["relay", "--write-key-file=\(key)"])
            #expect(wrote == 0, "\(errors)")
            directories.append(try w.start("ansar", ["relay", "--key-file=\(key)", "--address=0.0.0.0:32190"]))
            directories.append(
                try w.ansarProcess(["directory", "--scope=wan", "--relay-at=0.0.0.0:32190", "--relay-key-file=\(key)"]))
        }
        directories.append(try a.ansarProcess(["directory", "--scope=lan", "--parent=198.18.1.254:32178"]))
        directories.append(try d.ansarProcess(["directory", "--scope=lan", "--parent=198.18.2.254:32178"]))
        for host in [a, c, d, e] { directories.append(try host.ansarProcess(["directory"])) }
        let (started, _, errors) = try c.ansar(["start", "--host", "--debug-level=NOTICE"])
        #expect(started == 0, "\(errors)")
    }

    /// Lets LAN 1 and LAN 2 reach each other through `w` (routes on `c` and `e`, forwarding on `w`).
    func route() throws {
        try network.setRoute(c, to: "198.18.2.0/24", via: "198.18.1.254", present: true)
        try network.setRoute(e, to: "198.18.1.0/24", via: "198.18.2.254", present: true)
        try network.setForwarding(w, on: true)
    }

    func runSubscriber() throws -> Subprocess {
        try e.ansarProcess(["run", "--host", "--main-role=sub", "--debug-level=INFO"])
    }

    deinit { network.tearDown() }
}

@Suite(
    "WAN scope: two LANs joined through a WAN directory", .serialized,
    .enabled(
        if: TestNetwork.available, "needs root, iproute2 and a kernel with network namespaces, bridges and veth pairs"))
struct WANTests {
    @Test("LANs that cannot reach each other: the session is relayed through the WAN directory's relay")
    func relayed() throws {
        let lans = try TwoLANs()
        let subscriber = try lans.runSubscriber()
        #expect(subscriber.wait(seconds: 20) == 0, "\(subscriber.errors)")
        #expect(subscriber.output == seen(["available", "C to E"]))
        // It tried c directly first (no route), then met it at the relay.
        #expect(subscriber.errors.contains("endpoint=198.18.1.3:"))
        #expect(subscriber.errors.contains("asking for a relay"))
        // The publisher's side (its logs go to the background runner's log).
        #expect(Subprocess.read("\(lans.c.home)/logs/group.log").contains("] delivered"))
    }

    @Test("LANs that cannot reach each other, and no relay: the subscriber hears NotAvailable at once")
    func noRelay() throws {
        let lans = try TwoLANs(relay: .none)
        let subscriber = try lans.runSubscriber()
        #expect(subscriber.wait(seconds: 20) == 0, "\(subscriber.errors)")
        #expect(subscriber.output == seen(["not available: unreachable, and no relay offered"]))
    }

    @Test("a relay the WAN directory names, running on its own (`ansar relay`), carries the session")
    func namedRelay() throws {
        let lans = try TwoLANs(relay: .named)
        let subscriber = try lans.runSubscriber()
        #expect(subscriber.wait(seconds: 20) == 0, "\(subscriber.errors)")
        #expect(subscriber.output == seen(["available", "C to E"]))
        #expect(subscriber.errors.contains("asking for a relay"))
        let (_, report, _) = try lans.c.ansar(["network"])
        #expect(report.contains("relay 0.0.0.0:32190"), "\(report)")
    }

    @Test("LANs routed to each other: the session goes direct, no relay")
    func direct() throws {
        let lans = try TwoLANs()
        try lans.route()
        let subscriber = try lans.runSubscriber()
        #expect(subscriber.wait(seconds: 20) == 0, "\(subscriber.errors)")
        #expect(subscriber.output == seen(["available", "C to E"]))
        #expect(!subscriber.errors.contains("asking for a relay"))
    }

    @Test("ansar network shows the lineage GROUP → HOST → LAN → WAN with each level's endpoint")
    func lineage() throws {
        let lans = try TwoLANs()
        // The HOST directory links to the LAN directory once it hears a beacon; then up to the WAN.
        var report = ""
        let deadline = Deadline.after(.seconds(15))
        repeat {
            usleep(100_000)
            (_, report, _) = try lans.c.ansar(["network"])
        } while !report.contains("+ WAN") && Deadline.now() < deadline
        let levels = report.split(separator: "\n").filter { $0.contains("+ ") }.map {
            $0.trimmingPrefix(while: { $0 == " " })
        }
        #expect(levels.count == 4, "\(report)")
        #expect(levels.first?.hasPrefix("+ GROUP @ansar-group-") == true)
        // The HOST directory's socket is named after the realm: @ansar-host- and 16 hex digits.
        let host = levels.dropFirst().first.map(String.init) ?? ""
        #expect(host.hasPrefix("+ HOST @ansar-host-") && host.count == "+ HOST @ansar-host-".count + 16, "\(host)")
        #expect(Array(levels.dropFirst(2)) == ["+ LAN 0.0.0.0:32177", "+ WAN 0.0.0.0:32178"])
        for line in [
            "parent \(host.dropFirst("+ HOST ".count))", "parent 198.18.1.1:32177", "parent 198.18.1.254:32178",
            "relay 0.0.0.0:32179", "listing svc (WAN)",
        ] {
            #expect(report.contains(line), "\(line) missing from\n\(report)")
        }
    }
}
