import Platform
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Real hosts for tests: each a network namespace with its own interfaces, routes and abstract
/// Unix sockets (so each has its own `@ansar-host-directory`), joined by veth pairs to bridges
/// that stand for LANs. The bridges live in a namespace of their own, so nothing touches the
/// machine's network; addresses come from 198.18.0.0/15 (RFC 2544, benchmarking), never a real one.
/// Everything is torn down by ``tearDown()``: processes killed, namespaces deleted.
public final class TestNetwork {
    /// Whether this machine can make them: root, iproute2, and a kernel with network namespaces,
    /// bridges and veth pairs (tried once, in a namespace made and deleted for the purpose).
    public static let available: Bool = {
        guard getuid() == 0, let ip = ipPath else { return false }
        let probe = "ansar-probe-\(getpid())"
        defer { _ = try? Subprocess.run(ip, ["netns", "del", probe]) }
        for step in [
            ["netns", "add", probe], ["-n", probe, "link", "add", "br0", "type", "bridge"],
            ["-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
        ] {
            guard let (code, _, _) = try? Subprocess.run(ip, step), code == 0 else { return false }
        }
        return true
    }()

    public static let ipPath: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        access($0, X_OK) == 0
    }

    /// Short and unique, for names the kernel limits to 15 bytes.
    public let tag = String(UInt32.random(in: 0...UInt32.max) & 0xFFFFF, radix: 36)
    public private(set) var namespaces: [String] = []
    private var processes: [Subprocess] = []
    public let scratch: String
    /// Where `ansar` and the other executables run in hosts are.
    public let executables: String
    public var switchNamespace: String { "ansar-\(tag)-sw" }

    public init(executables: String = Subprocess.buildDirectory()) throws {
        self.executables = executables
        var template = Array("/tmp/ansar-hosts-XXXXXX".utf8CString)
        scratch = String(cString: mkdtemp(&template)!)
        try ip(["netns", "add", switchNamespace])
        namespaces.append(switchNamespace)
    }

    /// Runs `ip` with `arguments`; throws with its stderr if it fails.
    public func ip(_ arguments: [String]) throws {
        let (code, _, errors) = try Subprocess.run(Self.ipPath!, arguments)
        guard code == 0 else { throw HostError("ip \(arguments.joined(separator: " ")): \(errors)") }
    }

    /// A LAN: a bridge in the switch namespace.
    public func addLAN(_ number: Int) throws {
        try ip(["-n", switchNamespace, "link", "add", "br\(number)", "type", "bridge"])
        try ip(["-n", switchNamespace, "link", "set", "br\(number)", "up"])
    }

    /// A host with one interface on each of `lans` (LAN number → address/prefix), eth0, eth1…
    @discardableResult
    public func addHost(_ name: String, _ lans: [(lan: Int, address: String)]) throws -> Host {
        let namespace = "ansar-\(tag)-\(name)"
        try ip(["netns", "add", namespace])
        namespaces.append(namespace)
        try ip(["-n", namespace, "link", "set", "lo", "up"])
        for (index, attachment) in lans.enumerated() {
            let outside = port(name, attachment.lan)
            try ip(["link", "add", outside, "type", "veth", "peer", "name", "eth\(index)", "netns", namespace])
            try ip(["link", "set", outside, "netns", switchNamespace])
            try ip(["-n", switchNamespace, "link", "set", outside, "master", "br\(attachment.lan)", "up"])
            try ip(["-n", namespace, "addr", "add", attachment.address, "dev", "eth\(index)"])
            try ip(["-n", namespace, "link", "set", "eth\(index)", "up"])
        }
        return Host(name: name, namespace: namespace, network: self)
    }

    /// The switch side of a host's link to a LAN.
    private func port(_ host: String, _ lan: Int) -> String { "v\(tag)\(host)\(lan)" }

    /// Cuts (or restores) a host's link to a LAN, as pulling its cable would.
    public func setLink(_ host: Host, lan: Int, up: Bool) throws {
        try ip(["-n", switchNamespace, "link", "set", port(host.name, lan), up ? "up" : "down"])
    }

    /// Adds (or removes) a host's route to `network` (a.b.c.d/n) through `gateway`.
    public func setRoute(_ host: Host, to network: String, via gateway: String, present: Bool) throws {
        try ip(["-n", host.namespace, "route", present ? "add" : "del", network] + (present ? ["via", gateway] : []))
    }

    /// Two hosts on LAN 1 (`a` 198.18.1.1, `b` 198.18.1.2), each sending at `rate`: a slow link.
    public func addShapedPair(rate: String) throws -> (a: Host, b: Host) {
        try addLAN(1)
        let a = try addHost("a", [(1, "198.18.1.1/24")])
        let b = try addHost("b", [(1, "198.18.1.2/24")])
        try shape(a, rate: rate)
        try shape(b, rate: rate)
        return (a, b)
    }

    /// Shapes what a host sends out of its interface to a LAN to `rate` (`10mbit`…) with a token
    /// bucket (`tc … tbf`; this kernel has no netem), as a slow link would.
    public func shape(_ host: Host, interface: String = "eth0", rate: String) throws {
        let candidates: [String] = ["/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc", "/bin/tc"]
        guard let tc = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw HostError("no tc (iproute2) to shape links with")
        }
        try ip([
            "netns", "exec", host.namespace, tc, "qdisc", "add", "dev", interface, "root", "tbf",
            "rate", rate, "burst", "32kbit", "latency", "50ms",
        ])
    }

    /// Lets a host forward IPv4 between its interfaces (a router), or stops it (a new namespace
    /// forwards nothing).
    public func setForwarding(_ host: Host, on: Bool) throws {
        try ip(["netns", "exec", host.namespace, "/bin/sh", "-c", "echo \(on ? 1 : 0) > /proc/sys/net/ipv4/ip_forward"])
    }

    /// Keeps `process` to be waited for at teardown.
    public func started(_ process: Subprocess) -> Subprocess {
        processes.append(process)
        return process
    }

    /// Kills every process in the namespaces and deletes them. Bounded: SIGKILL, then each
    /// `ip netns del` (the kernel frees interfaces with their namespace).
    public func tearDown() {
        for namespace in namespaces {
            if let (_, pids, _) = try? Subprocess.run(Self.ipPath!, ["netns", "pids", namespace]) {
                for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { ChildProcess.signal(pid, SIGKILL) }
            }
        }
        for process in processes { _ = process.wait(seconds: 2) }
        for namespace in namespaces.reversed() { _ = try? Subprocess.run(Self.ipPath!, ["netns", "del", namespace]) }
        namespaces.removeAll()
        _ = system("rm -rf \(scratch)")
    }
}

public struct HostError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One namespaced host, with an ansar home of its own.
public struct Host {
    public let name: String
    public let namespace: String
    public unowned let network: TestNetwork

    public var home: String { "\(network.scratch)/\(name)" }

    /// Starts `executable` (from the build folder) inside this host.
    @discardableResult
    public func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws
        -> Subprocess
    {
        network.started(
            try Subprocess(
                TestNetwork.ipPath!, ["netns", "exec", namespace, "\(network.executables)/\(executable)"] + arguments,
                environment: environment))
    }

    /// Runs `ansar` inside this host, with its home; exit status, stdout, stderr.
    public func ansar(_ arguments: [String]) throws -> (Int32, String, String) {
        let process = try start("ansar", arguments + ["--home-path=\(home)"])
        let code = process.wait(seconds: 30)
        return (code, process.output, process.errors)
    }

    /// Starts `ansar` in the foreground inside this host (a directory, a group).
    public func ansarProcess(_ arguments: [String]) throws -> Subprocess {
        try start("ansar", arguments + ["--home-path=\(home)"])
    }

    /// Makes the home (in `realm`'s realm: another host's, or a fresh one), deploys `executable`,
    /// and adds a role of it for each entry of `roles` (name → settings JSON).
    public func makeHome(realmOf realm: Host? = nil, roles: [String: String] = [:], executable: String = "pubsub-node")
        throws
    {
        let (made, _, errors) = try ansar(["create"] + (realm.map { ["--realm-of=\($0.home)/secret"] } ?? []))
        guard made == 0 else { throw HostError("create: \(errors)") }
        guard !roles.isEmpty else { return }
        let dist = "\(home)-dist"
        try SystemAccess.makeDirectories(dist)
        try ChildProcess.copy("\(network.executables)/\(executable)", to: "\(dist)/\(executable)")
        for command in [["deploy", dist]] + roles.keys.sorted().map({ ["add", executable, $0] }) {
            let (code, _, errors) = try ansar(command)
            guard code == 0 else { throw HostError("\(command): \(errors)") }
        }
        for (role, settings) in roles {
            try SystemAccess.writeFileAtomically("\(home)/settings/\(role).json", Array(settings.utf8))
        }
    }
}
