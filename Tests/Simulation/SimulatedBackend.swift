import CShims
import Platform

@testable import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// A reactor backend over the ``SimulatedNetwork``: the reactor makes its sockets as usual (real
/// descriptors, bound for real, so addresses stay unique), but nothing is connected, sent or
/// received through the kernel. Completions come from the network, on the virtual clock, and
/// `wait` never blocks: the simulator moves the clock when no process has anything to do.
final class SimulatedBackend: ReactorBackend {
    let kind = BackendKind.epoll
    let process: String
    let network: SimulatedNetwork

    private struct Slot {
        var generation: UInt32 = 0
        var fd: Int32 = -1
        var accept = false
        var receive = false
        var readable = false
        var listening: SocketAddress? = nil
        /// A connect under way: its outcome, due at a time.
        var connect: (due: Deadline, endpoint: SimulatedNetwork.Endpoint?)? = nil
        var send: UnsafeMutablePointer<msghdr>? = nil
        var endpoint: SimulatedNetwork.Endpoint? = nil
    }

    private var slots: [Slot]
    /// The slots in use, in order: a turn looks at these only.
    private var active: [Int] = []
    private var byDescriptor: [Int32: SimulatedNetwork.Endpoint] = [:]
    /// What each listening descriptor is bound to, in the network.
    private var boundAddresses: [Int32: SocketAddress] = [:]
    /// Accepted connections handed out as descriptors the reactor has not registered yet.
    private var accepted: [Int32: SimulatedNetwork.Endpoint] = [:]
    /// Datagram sockets by descriptor.
    private var datagrams: [Int32: SimulatedNetwork.DatagramEndpoint] = [:]
    private var produced: [Completion] = []
    private var freeBuffers: [UInt16]
    private let receiveBuffers: UnsafeMutableRawPointer
    private let receiveBufferSize: Int
    private var reads: [(fd: Int32, kind: OperationKind, buffer: UnsafeMutableRawBufferPointer)] = []
    /// Completions produced by the last `wait`: whether the process did anything.
    private(set) var lastProduced = 0

    init(process: String, network: SimulatedNetwork, limits: Limits, receiveBuffers: UnsafeMutableRawPointer) {
        self.process = process
        self.network = network
        slots = Array(repeating: Slot(), count: limits.sockets)
        freeBuffers = (0..<UInt16(limits.receiveBuffers)).reversed()
        self.receiveBuffers = receiveBuffers
        receiveBufferSize = limits.receiveBufferSize
    }

    private func data(_ kind: OperationKind, _ socket: SocketID) -> UserData {
        UserData(kind: kind, slot: socket.slot, generation: socket.generation)
    }

    private func data(_ kind: OperationKind, slot: Int) -> UserData {
        UserData(kind: kind, slot: UInt32(slot), generation: slots[slot].generation)
    }

    func register(fd: Int32, socket: SocketID) throws(ReactorError) {
        slots[socket.index] = Slot(generation: socket.generation, fd: fd)
        let place = active.firstIndex { $0 > socket.index } ?? active.endIndex
        if !active.contains(socket.index) { active.insert(socket.index, at: place) }
        if let endpoint = accepted.removeValue(forKey: fd) {
            slots[socket.index].endpoint = endpoint
            byDescriptor[fd] = endpoint
        }
    }

    func deregister(fd: Int32, socket: SocketID) {
        let slot = slots[socket.index]
        if let address = slot.listening { network.stopListening(address, by: process, socket: socket) }
        if let address = boundAddresses.removeValue(forKey: fd) { network.unbind(address, by: process) }
        if let datagram = datagrams.removeValue(forKey: fd) { network.closeDatagram(datagram) }
        if let endpoint = slot.endpoint ?? slot.connect?.endpoint { release(endpoint) }
        byDescriptor[fd] = nil
        slots[socket.index] = Slot(generation: socket.generation &+ 1)
        active.removeAll { $0 == socket.index }
    }

    /// This end lets go: the peer reads end of stream after what was sent (or a reset, if this
    /// end left bytes unread, as a kernel would).
    private func release(_ endpoint: SimulatedNetwork.Endpoint) {
        guard !endpoint.closed else { return }
        endpoint.closed = true
        if endpoint.vanished {
            // The peer keeps what was already on its way, and hears nothing more.
            network.collect()
            return
        }
        if endpoint.inboundBytes > 0 && !endpoint.reset {
            network.resetPair(endpoint)
        } else {
            endpoint.peer.peerEnded = true
        }
        network.collect()
    }

    func armAccept(fd: Int32, socket: SocketID) {
        slots[socket.index].accept = true
        if slots[socket.index].listening == nil, let address = boundAddresses[fd] {
            slots[socket.index].listening = address
            network.listen(address, backend: self, socket: socket)
        }
    }

    func armReceive(fd: Int32, socket: SocketID) { slots[socket.index].receive = true }

    func armReadable(fd: Int32, socket: SocketID) { slots[socket.index].readable = true }

    func openDatagram(port: UInt16) throws(ReactorError) -> any DatagramChannel {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system(SystemError(errno, "socket(AF_UNIX, SOCK_DGRAM)")) }
        let endpoint = network.openDatagram(for: process, port: port)
        datagrams[fd] = endpoint
        return SimulatedDatagramSocket(fd: fd, endpoint: endpoint, network: network)
    }

    func networkInterfaces() -> [DatagramSocket.Interface] { network.interfaces(of: process) }

    func connect(fd: Int32, socket: SocketID, address: UnsafePointer<sockaddr>, length: socklen_t) {
        guard let target = Self.socketAddress(address, length) else {
            produced.append(Completion(data(.connect, socket), result: -EAFNOSUPPORT))
            return
        }
        let local = SocketAddress.unixAbstract(name: "sim-\(process)-\(fd)")
        let endpoint = network.connect(from: process, to: target, local: local)
        slots[socket.index].connect = (network.arrival(), endpoint)
    }

    func send(fd: Int32, socket: SocketID, message: UnsafeMutablePointer<msghdr>) {
        slots[socket.index].send = message
        trySend(socket.index)
    }

    private func trySend(_ slot: Int) {
        guard let message = slots[slot].send else { return }
        guard let endpoint = slots[slot].endpoint, !endpoint.reset, !endpoint.peer.closed || endpoint.peer.vanished
        else {
            slots[slot].send = nil
            let reset = slots[slot].endpoint?.reset ?? true
            produced.append(Completion(data(.send, slot: slot), result: reset ? -ECONNRESET : -EPIPE))
            return
        }
        var total = 0
        let vectors = UnsafeBufferPointer(start: message.pointee.msg_iov, count: Int(message.pointee.msg_iovlen))
        for vector in vectors {
            let bytes = UnsafeRawBufferPointer(start: vector.iov_base, count: vector.iov_len)
            let sent = network.send(bytes, from: endpoint)
            total += sent
            if sent < bytes.count { break }
        }
        guard total > 0 else { return } // the pipe is full: tried again as it drains
        slots[slot].send = nil
        produced.append(Completion(data(.send, slot: slot), result: Int32(total)))
    }

    func cancel(fd: Int32, socket: SocketID, kinds: OperationKinds) {
        guard slots[socket.index].generation == socket.generation else { return }
        func cancelled(_ kind: OperationKind) {
            produced.append(Completion(data(kind, socket), result: -ECANCELED))
        }
        if kinds.contains(.accept) && slots[socket.index].accept {
            slots[socket.index].accept = false
            cancelled(.accept)
        }
        if kinds.contains(.receive) && slots[socket.index].receive {
            slots[socket.index].receive = false
            cancelled(.receive)
        }
        if kinds.contains(.connect), let connect = slots[socket.index].connect {
            slots[socket.index].connect = nil
            if let endpoint = connect.endpoint { release(endpoint) }
            cancelled(.connect)
        }
        if kinds.contains(.readable) && slots[socket.index].readable {
            slots[socket.index].readable = false
            cancelled(.readable)
        }
        if kinds.contains(.send) && slots[socket.index].send != nil {
            slots[socket.index].send = nil
            cancelled(.send)
        }
    }

    func armRead(fd: Int32, kind: OperationKind, buffer: UnsafeMutableRawBufferPointer) {
        if !reads.contains(where: { $0.fd == fd }) { reads.append((fd, kind, buffer)) }
    }

    func cancelRead(kind: OperationKind) { reads.removeAll { $0.kind == kind } }

    func recycle(buffer id: UInt16) { freeBuffers.append(id) }

    func shutdown() {
        // The process is gone: its connections close as a kernel would close them.
        for index in active {
            if let endpoint = slots[index].endpoint ?? slots[index].connect?.endpoint { release(endpoint) }
            if let address = slots[index].listening {
                network.stopListening(
                    address, by: process, socket: SocketID(slot: UInt32(index), generation: slots[index].generation))
            }
        }
        for datagram in datagrams.values { network.closeDatagram(datagram) }
        datagrams.removeAll()
        for address in boundAddresses.values { network.unbind(address, by: process) }
        boundAddresses.removeAll()
        for endpoint in accepted.values { release(endpoint) }
        accepted.removeAll()
    }

    func unsentBytes(fd: Int32) -> Int { byDescriptor[fd]?.peer.inboundBytes ?? 0 }
    func unreadBytes(fd: Int32) -> Int { byDescriptor[fd]?.inboundBytes ?? 0 }
    func shutdownWrite(fd: Int32) { byDescriptor[fd]?.peer.peerEnded = true }
    /// Addresses are the network's: nothing is bound in the kernel, so simulations never meet
    /// each other or a real process there.
    func bind(fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t) -> Int32 {
        guard let wanted = Self.socketAddress(address, length) else { return EAFNOSUPPORT }
        guard let bound = network.bind(wanted, by: process) else { return EADDRINUSE }
        boundAddresses[fd] = bound
        if address.pointee.sa_family == sa_family_t(AF_UNIX) {
            // The kernel lets a Unix socket listen only once bound: to a name of its own choosing
            // (autobind), which nobody else asks for.
            var unnamed = sockaddr()
            unnamed.sa_family = sa_family_t(AF_UNIX)
            _ = Glibc.bind(fd, &unnamed, socklen_t(MemoryLayout<sa_family_t>.size))
        }
        return 0
    }

    func address(fd: Int32, peer: Bool) -> SocketAddress? {
        peer ? byDescriptor[fd]?.peerAddress : (boundAddresses[fd] ?? byDescriptor[fd]?.localAddress)
    }

    static func socketAddress(_ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> SocketAddress? {
        var storage = SocketAddress.Storage()
        withUnsafeMutableBytes(of: &storage.raw) {
            $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(length)))
        }
        storage.length = length
        return storage.address()
    }

    /// The earliest moment one of this process's operations completes by itself.
    var nextDue: Deadline? { active.compactMap { slots[$0].connect?.due }.min() }

    func wait(timeout nanoseconds: UInt64?, into ready: inout [Completion], limit: Int) throws(ReactorError) {
        let now = network.now
        for slot in active where slots[slot].fd >= 0 {
            if let connect = slots[slot].connect, connect.due <= now {
                slots[slot].connect = nil
                if let endpoint = connect.endpoint, !endpoint.reset {
                    slots[slot].endpoint = endpoint
                    byDescriptor[slots[slot].fd] = endpoint
                    produced.append(Completion(data(.connect, slot: slot), result: 0))
                } else {
                    produced.append(Completion(data(.connect, slot: slot), result: -ECONNREFUSED))
                }
            }
            if slots[slot].accept, let address = slots[slot].listening {
                let key = network.key(address, from: process)
                while let endpoint = network.pendingAccepts[key]?.first {
                    network.pendingAccepts[key]!.removeFirst()
                    let fd = socket(AF_UNIX, cshims_sock_stream() | cshims_sock_nonblock_cloexec(), 0)
                    guard fd >= 0 else {
                        network.resetPair(endpoint)
                        continue
                    }
                    accepted[fd] = endpoint
                    produced.append(Completion(data(.accept, slot: slot), result: fd, more: true))
                }
            }
            if slots[slot].readable, datagrams[slots[slot].fd]?.readable(at: now) == true {
                slots[slot].readable = false
                produced.append(Completion(data(.readable, slot: slot), result: 0))
            }
            if slots[slot].send != nil { trySend(slot) }
            if slots[slot].receive, let endpoint = slots[slot].endpoint { receive(slot, endpoint, now: now) }
        }
        // A wake-up or signal read completes once per arming, like an io_uring read.
        reads.removeAll { read in
            let count = Glibc.read(read.fd, read.buffer.baseAddress, read.buffer.count)
            guard count > 0 else { return false }
            produced.append(Completion(UserData(kind: read.kind, slot: 0, generation: 0), result: Int32(count)))
            return true
        }
        let taken = min(produced.count, limit - ready.count)
        lastProduced = taken
        ready.append(contentsOf: produced[..<taken])
        produced.removeFirst(taken)
    }

    private func receive(_ slot: Int, _ endpoint: SimulatedNetwork.Endpoint, now: Deadline) {
        if endpoint.reset {
            slots[slot].receive = false
            produced.append(Completion(data(.receive, slot: slot), result: -ECONNRESET))
            return
        }
        while endpoint.readable(at: now), let buffer = freeBuffers.popLast() {
            let target = UnsafeMutableRawBufferPointer(
                start: receiveBuffers + Int(buffer) * receiveBufferSize, count: receiveBufferSize)
            var filled = 0
            while filled < receiveBufferSize, endpoint.readable(at: now) {
                let segment = endpoint.inbound[0]
                let count = min(receiveBufferSize - filled, segment.bytes.count - segment.offset)
                segment.bytes.withUnsafeBytes {
                    UnsafeMutableRawBufferPointer(rebasing: target[filled..<(filled + count)])
                        .copyMemory(
                            from: UnsafeRawBufferPointer(rebasing: $0[segment.offset..<(segment.offset + count)]))
                }
                filled += count
                endpoint.inboundBytes -= count
                if segment.offset + count == segment.bytes.count {
                    endpoint.inbound.removeFirst()
                } else {
                    endpoint.inbound[0].offset += count
                }
            }
            produced.append(Completion(data(.receive, slot: slot), result: Int32(filled), more: true, buffer: buffer))
        }
        if endpoint.inbound.isEmpty && endpoint.peerEnded {
            slots[slot].receive = false
            produced.append(Completion(data(.receive, slot: slot), result: 0))
        }
    }
}

/// A datagram socket of the simulated network, in a reactor's socket table under a descriptor
/// of its own that the kernel never sends on.
final class SimulatedDatagramSocket: DatagramChannel {
    let fd: Int32
    let endpoint: SimulatedNetwork.DatagramEndpoint
    let network: SimulatedNetwork

    init(fd: Int32, endpoint: SimulatedNetwork.DatagramEndpoint, network: SimulatedNetwork) {
        self.fd = fd
        self.endpoint = endpoint
        self.network = network
    }

    deinit { Glibc.close(fd) }

    var port: UInt16 { endpoint.port }

    func join(group: String, interface: String) throws(ReactorError) { endpoint.groups.insert(group) }

    func send(_ bytes: [UInt8], to host: String, port: UInt16, interface: String?) throws(ReactorError) {
        network.sendDatagram(bytes, from: endpoint, to: host, port: port)
    }

    func receiveWaiting() throws(ReactorError) -> (bytes: [UInt8], from: SocketAddress)? {
        guard endpoint.readable(at: network.now) else { return nil }
        let datagram = endpoint.inbound.removeFirst()
        return (datagram.bytes, datagram.from)
    }
}
