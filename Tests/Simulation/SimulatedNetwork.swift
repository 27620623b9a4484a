import Platform

@testable import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// The network between the simulated processes: listeners by address, and connections as pairs
/// of byte pipes whose bytes arrive after a seeded delay. Everything moves on the virtual clock of
/// the thread's ``Simulation``; nothing touches a real network. Faults are the network's to make:
/// a link between two processes is cut (both ends reset), or held (bytes wait until it heals).
final class SimulatedNetwork {
    let simulation: Simulation
    /// Bytes one direction of a connection holds before a send takes no more (a kernel's buffers).
    var pipeCapacity: Int
    /// One way, each segment: `baseDelay` plus up to `jitter`, seeded.
    var baseDelay = Duration.microseconds(30)
    var jitter = Duration.microseconds(200)
    private(set) var listeners: [String: (backend: SimulatedBackend, socket: SocketID)] = [:]
    /// Connections a listener has not accepted yet, by listener.
    var pendingAccepts: [String: [Endpoint]] = [:]
    /// Pairs of processes (by name, in order) whose links hold their bytes until healed.
    private(set) var held: Set<[String]> = []
    private(set) var endpoints: [Endpoint] = []

    init(simulation: Simulation, pipeCapacity: Int = 256 * 1024) {
        self.simulation = simulation
        self.pipeCapacity = pipeCapacity
    }

    var now: Deadline { simulation.now }

    /// When a segment sent now arrives.
    func arrival() -> Deadline {
        now + baseDelay + .nanoseconds(Int64(simulation.below(UInt64(max(1, jitter.nanosecondsClamped)))))
    }

    /// One end of a connection, as a backend holds it.
    final class Endpoint {
        struct Segment {
            var bytes: [UInt8]
            var offset = 0
            let at: Deadline
        }
        let process: String
        let localAddress: SocketAddress
        var peerAddress: SocketAddress
        unowned(unsafe) var peer: Endpoint! = nil
        /// What the peer sent, not yet read here.
        var inbound: [Segment] = []
        var inboundBytes = 0
        /// The peer will send no more: end of stream once `inbound` is read.
        var peerEnded = false
        /// The connection was reset: every operation fails.
        var reset = false
        /// This end is closed (its process let go of it).
        var closed = false
        /// Its host went without a word (power lost, cable pulled): the peer hears no close, and
        /// what it sends goes nowhere.
        var vanished = false

        init(process: String, local: SocketAddress, peer: SocketAddress) {
            self.process = process
            localAddress = local
            peerAddress = peer
        }

        /// Whether bytes are ready to read at `now`.
        func readable(at now: Deadline) -> Bool { inbound.first.map { $0.at <= now } ?? false }
    }

    // MARK: - Hosts

    /// Each process's host, by IPv4 address (one interface each, on 10.0.0.0/16): a host's Unix
    /// socket names are its own, and a TCP listener on 0.0.0.0 answers at its host's address.
    private var hosts: [String: String] = [:]
    static let defaultHost = "10.0.0.1"
    static let broadcast = "10.0.255.255"

    /// Puts `process` (started next under that name) on the host with address `host`.
    func place(_ process: String, on host: String) { hosts[process] = host }
    func host(of process: String) -> String { hosts[process] ?? Self.defaultHost }

    /// The one interface of `process`'s host.
    func interfaces(of process: String) -> [DatagramSocket.Interface] {
        [DatagramSocket.Interface(name: "sim0", address: host(of: process), broadcast: Self.broadcast)]
    }

    /// The host an IPv4 address means to `process`: its own for 0.0.0.0 and loopback.
    func resolve(_ ip: String, from process: String) -> String {
        ip == "0.0.0.0" || ip.hasPrefix("127.") ? host(of: process) : ip
    }

    /// Where `address` is, seen from `process`: a TCP port at an address, or a Unix name on its host.
    func key(_ address: SocketAddress, from process: String) -> String {
        switch address {
        case .ipv4(let ip, let port):
            "tcp \(resolve(ip, from: process)):\(port)"
        default: "\(host(of: process)) \(address)"
        }
    }

    /// Addresses bound, by key; TCP ports of the kernel's choosing come from here.
    private var bound: Set<String> = []
    private var nextPort: UInt16 = 40_000

    /// The next port nobody on any host has bound.
    private func freePort() -> UInt16 {
        while bound.contains(where: { $0.hasSuffix(":\(nextPort)") })
            || datagrams.contains(where: { $0.port == nextPort })
        {
            nextPort &+= 1
        }
        defer { nextPort &+= 1 }
        return nextPort
    }

    /// Takes `address` for `process` (port 0: the next free port): what was bound, or nil when it
    /// is taken.
    func bind(_ address: SocketAddress, by process: String) -> SocketAddress? {
        var address = address
        if case .ipv4(let host, 0) = address { address = .ipv4(host, port: freePort()) }
        guard bound.insert(key(address, from: process)).inserted else { return nil }
        return address
    }

    func unbind(_ address: SocketAddress, by process: String) { bound.remove(key(address, from: process)) }

    func listen(_ address: SocketAddress, backend: SimulatedBackend, socket: SocketID) {
        listeners[key(address, from: backend.process)] = (backend, socket)
    }

    func stopListening(_ address: SocketAddress, by process: String, socket: SocketID) {
        let key = key(address, from: process)
        if listeners[key]?.socket == socket {
            listeners[key] = nil
            for pending in pendingAccepts.removeValue(forKey: key) ?? [] { resetPair(pending) }
        }
    }

    /// A connect from `process` to `address`: the client's end, or nil when nobody listens there.
    func connect(from process: String, to address: SocketAddress, local: SocketAddress) -> Endpoint? {
        let key = key(address, from: process)
        guard let listener = listeners[key] else { return nil }
        var local = local
        var target = address
        if case .ipv4(let ip, let port) = address {
            // TCP: from this host's address and a port of its own, to the listener's host.
            local = .ipv4(host(of: process), port: freePort())
            target = .ipv4(resolve(ip, from: process), port: port)
        }
        let client = Endpoint(process: process, local: local, peer: target)
        let server = Endpoint(process: listener.backend.process, local: target, peer: local)
        client.peer = server
        server.peer = client
        endpoints += [client, server]
        pendingAccepts[key, default: []].append(server)
        return client
    }

    /// Sends `bytes` from `endpoint` to its peer (at most what the pipe takes): how many went.
    func send(_ bytes: UnsafeRawBufferPointer, from endpoint: Endpoint) -> Int {
        let peer = endpoint.peer!
        let room = pipeCapacity - peer.inboundBytes
        guard room > 0 else { return 0 }
        let count = min(room, bytes.count)
        // Bytes to a vanished end wait unacknowledged, as a kernel's would, until the pipe is full.
        let at = peer.vanished || isHeld(endpoint.process, peer.process) ? Deadline.distantFuture : arrival()
        // In order: a segment never arrives before the one sent ahead of it.
        let after = max(at, peer.inbound.last?.at ?? at)
        peer.inbound.append(Endpoint.Segment(bytes: Array(bytes[..<count]), at: after))
        peer.inboundBytes += count
        return count
    }

    /// Both ends of `endpoint`'s connection are reset.
    func resetPair(_ endpoint: Endpoint) {
        for end in [endpoint, endpoint.peer!] {
            end.reset = true
            end.inbound.removeAll()
            end.inboundBytes = 0
        }
    }

    // MARK: - Faults

    /// Cuts every connection between processes `a` and `b`: both ends see a reset.
    func cut(_ a: String, _ b: String) {
        for endpoint in endpoints where endpoint.process == a && endpoint.peer.process == b && !endpoint.reset {
            resetPair(endpoint)
        }
    }

    /// Holds the bytes between `a` and `b` (both ways) until ``heal(_:_:)``: a partition. Each is a
    /// process, or a host by its address (every process there); datagrams between them are lost.
    func hold(_ a: String, _ b: String) { held.insert([a, b].sorted()) }

    /// Lets held bytes go: they arrive from now on, in order.
    func heal(_ a: String, _ b: String) {
        held.remove([a, b].sorted())
        for endpoint in endpoints where !endpoint.vanished && !isHeld(endpoint.process, endpoint.peer.process) {
            var previous = now
            for index in endpoint.inbound.indices where endpoint.inbound[index].at == .distantFuture {
                previous = max(previous, arrival())
                endpoint.inbound[index] = Endpoint.Segment(
                    bytes: endpoint.inbound[index].bytes, offset: endpoint.inbound[index].offset, at: previous)
            }
        }
    }

    /// Whether processes `a` and `b` are apart: held themselves, or their hosts are.
    func isHeld(_ a: String, _ b: String) -> Bool {
        guard !held.isEmpty else { return false }
        return held.contains([a, b].sorted()) || held.contains([host(of: a), host(of: b)].sorted())
    }

    // MARK: - Datagrams

    /// A datagram socket: bound to a port on every address of its host, in the multicast groups it
    /// joined. What arrives waits, bounded as a kernel's receive buffer is: beyond, it is lost.
    final class DatagramEndpoint {
        struct Datagram {
            let bytes: [UInt8]
            let from: SocketAddress
            let at: Deadline
        }
        let process: String
        let port: UInt16
        var groups: Set<String> = []
        var inbound: [Datagram] = []
        var closed = false
        static let capacity = 64

        init(process: String, port: UInt16) {
            self.process = process
            self.port = port
        }

        func readable(at now: Deadline) -> Bool { inbound.first.map { $0.at <= now } ?? false }
    }

    private(set) var datagrams: [DatagramEndpoint] = []

    /// A datagram socket of `process` on `port` (0: a free one). Several may share a port, as
    /// with SO_REUSEPORT: each receives every datagram.
    func openDatagram(for process: String, port: UInt16) -> DatagramEndpoint {
        let endpoint = DatagramEndpoint(process: process, port: port == 0 ? freePort() : port)
        datagrams.append(endpoint)
        return endpoint
    }

    func closeDatagram(_ endpoint: DatagramEndpoint) {
        endpoint.closed = true
        datagrams.removeAll { $0 === endpoint }
    }

    /// Sends `bytes` from `endpoint` to `host:port`: a multicast group reaches every socket on the
    /// port that joined it, the broadcast address every socket on the port, any other address the
    /// sockets of that host. Lost across a partition, or at a full receiver.
    func sendDatagram(_ bytes: [UInt8], from endpoint: DatagramEndpoint, to host: String, port: UInt16) {
        let sender = endpoint.process
        let local = resolve(host, from: sender)
        let from = SocketAddress.ipv4(self.host(of: sender), port: endpoint.port)
        for receiver in datagrams where receiver.port == port && !receiver.closed {
            let reached =
                host.hasPrefix("239.")
                ? receiver.groups.contains(host) : host == Self.broadcast || self.host(of: receiver.process) == local
            guard reached, !isHeld(sender, receiver.process), receiver.inbound.count < DatagramEndpoint.capacity
            else { continue }
            let at = max(arrival(), receiver.inbound.last?.at ?? now) // in order, as on one link
            receiver.inbound.append(DatagramEndpoint.Datagram(bytes: bytes, from: from, at: at))
        }
    }

    /// Every connection of `process` goes silent: nothing more arrives from it, what is sent to it
    /// waits unacknowledged, and no close or reset is ever seen (a machine that lost power).
    func vanish(_ process: String) {
        for endpoint in endpoints where endpoint.process == process { endpoint.vanished = true }
    }

    /// Forgets endpoints both of whose ends are closed.
    func collect() {
        endpoints.removeAll { $0.closed && $0.peer.closed }
    }

    /// The next moment something arrives on the network.
    var nextArrival: Deadline? {
        let bytes = endpoints.compactMap { $0.closed ? nil : $0.inbound.first?.at }.filter { $0 < .distantFuture }
        return (bytes + datagrams.compactMap { $0.inbound.first?.at }).min()
    }
}
