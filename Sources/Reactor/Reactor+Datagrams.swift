import Platform

extension Reactor {
    /// A UDP/IPv4 socket bound to `port` on every interface (0: the kernel's choice), for small
    /// announcements on the local network (multicast and broadcast beacons). It is in the socket
    /// table like any other: ``ReactorEvent/datagramsReadable(_:)`` says when datagrams wait, and
    /// ``close(_:)`` ends it.
    public func openDatagramSocket(port: UInt16 = 0) throws(ReactorError) -> SocketID {
        checkThread()
        let socket = try backend.openDatagram(port: port)
        let id = try allocateSocket(fd: socket.fd, state: .datagram, isTCP: false)
        datagramSockets[id.index] = socket
        armReadable(id.index)
        return id
    }

    /// The next datagram waiting on `socket` — its bytes and its sender — or nil when none waits.
    public func receiveDatagram(on socket: SocketID) throws(ReactorError) -> (bytes: [UInt8], from: SocketAddress)? {
        checkThread()
        return try datagramSocket(socket).receiveWaiting()
    }

    /// Sends one datagram to `host:port` (for a multicast group, out of the interface with address
    /// `interface`). A full socket buffer is an error, not a wait.
    public func sendDatagram(
        _ bytes: [UInt8], on socket: SocketID, to host: String, port: UInt16, interface: String? = nil
    ) throws(ReactorError) {
        checkThread()
        try datagramSocket(socket).send(bytes, to: host, port: port, interface: interface)
    }

    /// Receives `group`'s multicast on the interface with address `interface` (joining twice is
    /// harmless).
    public func joinMulticastGroup(_ group: String, interface: String, on socket: SocketID) throws(ReactorError) {
        checkThread()
        try datagramSocket(socket).join(group: group, interface: interface)
    }

    /// The port a datagram socket is bound to.
    public func datagramPort(of socket: SocketID) throws(ReactorError) -> UInt16 {
        try datagramSocket(socket).port
    }

    /// The IPv4 interfaces that are up, loopback excepted: where beacons go out and are heard.
    public func networkInterfaces() -> [DatagramSocket.Interface] {
        checkThread()
        return backend.networkInterfaces()
    }

    private func datagramSocket(_ socket: SocketID) throws(ReactorError) -> any DatagramChannel {
        let slot = try self.slot(of: socket)
        guard let datagram = datagramSockets[slot] else { throw .invalidState("not a datagram socket") }
        return datagram
    }

    func armReadable(_ slot: Int) {
        sockets[slot].inFlight += 1
        backend.armReadable(fd: sockets[slot].fd, socket: socketID(slot))
    }
}
