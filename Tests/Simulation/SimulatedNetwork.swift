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
    let pipeCapacity: Int
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

        init(process: String, local: SocketAddress, peer: SocketAddress) {
            self.process = process
            localAddress = local
            peerAddress = peer
        }

        /// Whether bytes are ready to read at `now`.
        func readable(at now: Deadline) -> Bool { inbound.first.map { $0.at <= now } ?? false }
    }

    static func key(_ address: SocketAddress) -> String {
        switch address {
        case .ipv4(_, let port): "tcp:\(port)" // every simulated host answers on every address
        default: "\(address)"
        }
    }

    /// Addresses bound, by key; TCP ports of the kernel's choosing come from here.
    private var bound: Set<String> = []
    private var nextPort: UInt16 = 40_000

    /// Takes `address` (port 0: the next free port): what was bound, or nil when it is taken.
    func bind(_ address: SocketAddress) -> SocketAddress? {
        var address = address
        if case .ipv4(let host, 0) = address {
            while bound.contains("tcp:\(nextPort)") { nextPort &+= 1 }
            address = .ipv4(host, port: nextPort)
        }
        guard bound.insert(Self.key(address)).inserted else { return nil }
        return address
    }

    func unbind(_ address: SocketAddress) { bound.remove(Self.key(address)) }

    func listen(_ address: SocketAddress, backend: SimulatedBackend, socket: SocketID) {
        listeners[Self.key(address)] = (backend, socket)
    }

    func stopListening(_ address: SocketAddress, socket: SocketID) {
        let key = Self.key(address)
        if listeners[key]?.socket == socket {
            listeners[key] = nil
            for pending in pendingAccepts.removeValue(forKey: key) ?? [] { resetPair(pending) }
        }
    }

    /// A connect from `process` to `address`: the client's end, or nil when nobody listens there.
    func connect(from process: String, to address: SocketAddress, local: SocketAddress) -> Endpoint? {
        let key = Self.key(address)
        guard let listener = listeners[key] else { return nil }
        let client = Endpoint(process: process, local: local, peer: address)
        let server = Endpoint(process: listener.backend.process, local: address, peer: local)
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
        let at = isHeld(endpoint.process, peer.process) ? Deadline.distantFuture : arrival()
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

    /// Holds the bytes between `a` and `b` (both ways) until ``heal(_:_:)``: a partition.
    func hold(_ a: String, _ b: String) { held.insert([a, b].sorted()) }

    /// Lets held bytes go: they arrive from now on, in order.
    func heal(_ a: String, _ b: String) {
        held.remove([a, b].sorted())
        for endpoint in endpoints where Set([endpoint.process, endpoint.peer.process]) == Set([a, b]) {
            var previous = now
            for index in endpoint.inbound.indices where endpoint.inbound[index].at == .distantFuture {
                previous = max(previous, arrival())
                endpoint.inbound[index] = Endpoint.Segment(
                    bytes: endpoint.inbound[index].bytes, offset: endpoint.inbound[index].offset, at: previous)
            }
        }
    }

    func isHeld(_ a: String, _ b: String) -> Bool { !held.isEmpty && held.contains([a, b].sorted()) }

    /// Forgets endpoints both of whose ends are closed.
    func collect() {
        endpoints.removeAll { $0.closed && $0.peer.closed }
    }

    /// The next moment something arrives on the network.
    var nextArrival: Deadline? {
        endpoints.compactMap { $0.closed ? nil : $0.inbound.first?.at }.filter { $0 < .distantFuture }.min()
    }
}
