import AnsarTestKit
import Platform
import Reactor
import Testing

#if canImport(Glibc)
    import Glibc
#endif

func publisher(_ me: String, scope: String) -> String {
    #"{"role": "publisher", "scope": "\#(scope)", "me": "\#(me)"}"#
}
func subscriber(_ me: String, scope: String, sessions: Int = 1) -> String {
    #"{"role": "subscriber", "scope": "\#(scope)", "me": "\#(me)", "sessions": \#(sessions)}"#
}

/// How `ansar run` prints a subscriber's `Seen` value.
func seen(_ events: [String]) -> String {
    "pubsub_node.Seen\n  events: [" + events.map { "\"\($0)\"" }.joined(separator: ",") + "]\n"
}

/// Waits until `process` has written `text` to stderr `count` times, at most `seconds`.
func waitFor(_ process: Subprocess, _ text: String, count: Int = 1, seconds: Double = 15) -> Bool {
    let deadline = Deadline.after(.nanoseconds(Int64(seconds * 1e9)))
    while Deadline.now() < deadline {
        if process.errors.split(separator: "\n").filter({ $0.contains(text) }).count >= count { return true }
        usleep(10_000)
    }
    return false
}

/// One LAN (198.18.1.0/24) of three hosts: `a` runs the LAN directory, and every host its HOST
/// directory, which finds the LAN directory by beacon with no configuration. `c` runs a group
/// with a LAN-scope publisher.
final class ThreeHosts {
    let network: TestNetwork
    let a: Host, b: Host, c: Host
    var lanDirectory: Subprocess!
    var hostDirectories: [String: Subprocess] = [:]
    var publisherGroup: Subprocess!

    /// `lanDirectoryOn`: the host that runs the LAN directory (a, b or c).
    init(subscriberSessions: Int = 1, lanDirectoryOn lanHost: String = "a") throws {
        network = try TestNetwork()
        try network.addLAN(1)
        a = try network.addHost("a", [(1, "198.18.1.1/24")])
        b = try network.addHost("b", [(1, "198.18.1.2/24")])
        c = try network.addHost("c", [(1, "198.18.1.3/24")])
        try a.makeHome()
        try b.makeHome(realmOf: a, roles: ["sub": subscriber("B", scope: "lan", sessions: subscriberSessions)])
        try c.makeHome(realmOf: a, roles: ["pub": publisher("C", scope: "lan")])
        lanDirectory = try [a, b, c].first { $0.name == lanHost }!.ansarProcess(["directory", "--scope=lan"])
        for host in [a, b, c] { try startHostDirectory(host) }
        publisherGroup = try c.ansarProcess(["run", "--host", "--debug-level=NOTICE"])
    }

    func startHostDirectory(_ host: Host) throws {
        hostDirectories[host.name] = try host.ansarProcess(["directory"])
    }

    /// The subscriber's group, run until its main role ends.
    func runSubscriber() throws -> Subprocess {
        try b.ansarProcess(["run", "--host", "--main-role=sub", "--debug-level=NOTICE"])
    }

    deinit { network.tearDown() }
}

@Suite(
    "LAN scope across namespaced hosts", .serialized,
    .enabled(
        if: TestNetwork.available, "needs root, iproute2 and a kernel with network namespaces, bridges and veth pairs"))
struct LANTests {
    @Test(
        "no configuration: host directories find the LAN directory by beacon; a subscriber on b finds the publisher on c"
    )
    func discovery() throws {
        let hosts = try ThreeHosts()
        for name in ["a", "b", "c"] {
            #expect(waitFor(hosts.hostDirectories[name]!, "LAN directory found"), "host \(name) never heard a beacon")
            #expect(hosts.hostDirectories[name]!.errors.contains("address=198.18.1.1:32177"))
        }
        let subscriber = try hosts.runSubscriber()
        #expect(subscriber.wait(seconds: 20) == 0, "\(subscriber.errors)")
        #expect(subscriber.output == seen(["available", "C to B"]))
        // The publisher's side saw the session come and go.
        #expect(waitFor(hosts.publisherGroup, "dropped"))
        let publisherSide = hosts.publisherGroup.errors.split(separator: "\n").compactMap { line in
            ["published", "delivered", "dropped"].first { line.hasSuffix("] \($0)") }
        }
        #expect(publisherSide == ["published", "delivered", "dropped"])
        let (refused, _, why) = try hosts.b.ansar(["ping", "svc", "--scope=moon"])
        #expect(refused == 1 && why == "ansar: unknown scope moon: use group, host, lan or wan\n")
    }

    @Test(
        "a cut link is Dropped within the keep-alive bound; restored, the session comes back by itself — twice, one session each time"
    )
    func linkCutAndRestored() throws {
        let hosts = try ThreeHosts(subscriberSessions: 3)
        let subscriber = try hosts.runSubscriber()
        #expect(waitFor(subscriber, "welcomed"))
        for cut in 1...2 {
            try hosts.network.setLink(hosts.c, lan: 1, up: false)
            let started = Deadline.now()
            #expect(waitFor(subscriber, "dropped", count: cut, seconds: 10))
            // TCP keep-alive gives up 4 s after the last sign of life; allow for a slow machine.
            #expect(started.nanoseconds(until: .now()) < 8_000_000_000)
            try hosts.network.setLink(hosts.c, lan: 1, up: true)
            #expect(waitFor(subscriber, "welcomed", count: cut + 1, seconds: 15))
        }
        // Whichever notices the silence first tells: the peer link, or the LAN directory's link to c.
        #expect(
            subscriber.errors.contains("reason=publisher process lost")
                || subscriber.errors.contains("reason=publisher gone"))
        #expect(subscriber.wait(seconds: 20) == 0, "\(subscriber.errors)")
        #expect(
            subscriber.output
                == seen(["available", "C to B", "dropped", "available", "C to B", "dropped", "available", "C to B"]))
        // One session per restore, not one per way back found.
        let delivered = hosts.publisherGroup.errors.split(separator: "\n").filter { $0.hasSuffix("] delivered") }.count
        #expect(delivered == 3, "\(hosts.publisherGroup.errors)")
    }

    @Test("a host's processes killed: its sessions are Dropped; restarted, it is offered again")
    func hostKilled() throws {
        let hosts = try ThreeHosts(subscriberSessions: 2)
        let subscriber = try hosts.runSubscriber()
        #expect(waitFor(subscriber, "welcomed"))
        // Everything on c dies at once, as in a power cut of its software.
        let (_, pids, _) = try Subprocess.run(TestNetwork.ipPath!, ["netns", "pids", hosts.c.namespace])
        for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { ChildProcess.signal(pid, SIGKILL) }
        #expect(waitFor(subscriber, "dropped", seconds: 10))
        try hosts.startHostDirectory(hosts.c)
        let restarted = try hosts.c.ansarProcess(["run", "--host", "--debug-level=NOTICE"])
        #expect(subscriber.wait(seconds: 20) == 0, "\(subscriber.errors)")
        #expect(subscriber.output == seen(["available", "C to B", "dropped", "available", "C to B"]))
        #expect(waitFor(restarted, "delivered"), "\(restarted.errors)")
    }

    @Test(
        "two LAN directories of one realm: every host says so, and links to the lowest address, moving to it when it appears"
    )
    func splitBrain() throws {
        let hosts = try ThreeHosts(lanDirectoryOn: "c")
        for name in ["a", "b", "c"] {
            #expect(waitFor(hosts.hostDirectories[name]!, "LAN directory found"), "host \(name) never heard a beacon")
        }
        // A second LAN directory of the realm, at a lower address: the rule moves every host to it.
        _ = try hosts.a.ansarProcess(["directory", "--scope=lan"])
        for name in ["a", "b", "c"] {
            let directory = hosts.hostDirectories[name]!
            #expect(waitFor(directory, "split brain"), "host \(name) did not say it heard two")
            #expect(waitFor(directory, "LAN directory found", count: 2), "host \(name) did not move")
            #expect(directory.errors.contains("winner=198.18.1.1:32177"), "\(directory.errors)")
        }
        let (_, report, _) = try hosts.c.ansar(["network"])
        #expect(report.contains("parent 198.18.1.1:32177"), "\(report)")
        #expect(
            report.contains(
                "split brain: LAN directories 198.18.1.1:32177, 198.18.1.3:32177 of this realm heard; "
                    + "198.18.1.1:32177 wins (lowest address)"), "\(report)")
        // The realm works through the winner: b's subscriber finds c's publisher.
        let subscriber = try hosts.runSubscriber()
        #expect(subscriber.wait(seconds: 20) == 0, "\(subscriber.errors)")
        #expect(subscriber.output == seen(["available", "C to B"]))
    }

    @Test("a host of another realm ignores the beacons and is never offered anything")
    func otherRealm() throws {
        let hosts = try ThreeHosts()
        let x = try hosts.network.addHost("x", [(1, "198.18.1.9/24")])
        try x.makeHome(roles: ["sub": subscriber("X", scope: "lan")]) // a realm of its own
        let directory = try x.ansarProcess(["directory"])
        #expect(waitFor(directory, "beacon of another realm"))
        #expect(directory.errors.contains("198.18.1.1: beacon of another realm"))
        #expect(!directory.errors.contains("LAN directory found"))
        let (started, _, errors) = try x.ansar(["start", "--host"])
        #expect(started == 0, "\(errors)")
        usleep(2_500_000) // beacons come every second: two chances to be fooled
        _ = try x.ansar(["stop"])
        let (_, value, _) = try x.ansar(["returned", "sub"])
        #expect(value == seen([]))
        // Meanwhile the realm's own subscriber is served.
        let subscriber = try hosts.runSubscriber()
        #expect(subscriber.wait(seconds: 20) == 0)
        #expect(subscriber.output == seen(["available", "C to B"]))
    }
}
