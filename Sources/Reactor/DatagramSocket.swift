import Platform

#if canImport(Glibc)
    import Glibc
#endif

/// A UDP/IPv4 socket for small announcements on the local network (multicast and broadcast
/// beacons). In a reactor (``Reactor/openDatagramSocket(port:)``) it is an ordinary socket of the
/// loop; on its own, a program that has no loop can wait in ``receive(timeout:)``.
public final class DatagramSocket: DatagramChannel, @unchecked Sendable {
    /// One IPv4 interface that is up: its name, address and broadcast address (if it has one).
    public struct Interface: Hashable, Sendable {
        public let name: String
        public let address: String
        public let broadcast: String?
    }

    let fd: Int32
    /// The largest datagram ``receive(timeout:)`` returns; longer ones are cut (and so fail checks).
    public static let maximumDatagram = 1024

    /// A socket bound to `port` on every interface (0: any port, for sending only). Several sockets
    /// of one host may bind the same port: each receives every beacon.
    public init(port: UInt16 = 0) throws(ReactorError) {
        let address = try SocketAddress.Storage(.ipv4("0.0.0.0", port: port))
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system(SystemError(errno, "socket(AF_INET, SOCK_DGRAM)")) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, socklen_t(MemoryLayout<Int32>.size))
        // Beacons also reach a listener on the sending host.
        setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &on, socklen_t(MemoryLayout<Int32>.size))
        var raw = address.raw
        let bound = withUnsafePointer(to: &raw) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, address.length) }
        }
        guard bound == 0 else {
            let error = SystemError(errno, "bind UDP")
            Glibc.close(fd)
            throw .system(error)
        }
    }

    deinit { Glibc.close(fd) }

    /// The port it is bound to (the kernel's choice for port 0).
    public var port: UInt16 {
        var address = SocketAddress.Storage()
        address.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let found = withUnsafeMutablePointer(to: &address.raw) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &address.length) }
        }
        return found == 0 ? address.address()?.port ?? 0 : 0
    }

    /// The IPv4 interfaces that are up, loopback excepted.
    public static func interfaces() -> [Interface] {
        var list: UnsafeMutablePointer<ifaddrs>? = nil
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var found: [Interface] = []
        var cursor = list
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            let flags = Int32(bitPattern: entry.pointee.ifa_flags)
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0
            else { continue }
            let broadcast =
                flags & Int32(IFF_BROADCAST) != 0 ? entry.pointee.ifa_ifu.ifu_broadaddr.flatMap(text(of:)) : nil
            guard let host = text(of: address) else { continue }
            found.append(Interface(name: String(cString: entry.pointee.ifa_name), address: host, broadcast: broadcast))
        }
        return found
    }

    /// The host of an IPv4 address, as text.
    private static func text(of address: UnsafeMutablePointer<sockaddr>) -> String? {
        guard case .ipv4(let host, _)? = SocketAddress.Storage(copying: address)?.address() else { return nil }
        return host
    }

    private static func inAddr(_ host: String) throws(ReactorError) -> in_addr {
        var address = in_addr()
        guard inet_pton(AF_INET, host, &address) == 1 else { throw .invalidAddress("'\(host)' is not an IPv4 address") }
        return address
    }

    /// Receives `group`'s multicast on the interface with address `interface`. Joining twice is
    /// harmless (the kernel says it is in use; that is not an error here).
    public func join(group: String, interface: String) throws(ReactorError) {
        var request = ip_mreq(imr_multiaddr: try Self.inAddr(group), imr_interface: try Self.inAddr(interface))
        guard
            setsockopt(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ip_mreq>.size)) == 0
                || errno == EADDRINUSE
        else {
            throw .system(SystemError(errno, "IP_ADD_MEMBERSHIP"))
        }
    }

    /// Sends one datagram to `host:port`; for a multicast group, out of the interface with address
    /// `interface`. Non-blocking: a full buffer is an error, not a wait.
    public func send(_ bytes: [UInt8], to host: String, port: UInt16, interface: String? = nil) throws(ReactorError) {
        if let interface {
            var outgoing = try Self.inAddr(interface)
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &outgoing, socklen_t(MemoryLayout<in_addr>.size))
        }
        let destination = try SocketAddress.Storage(.ipv4(host, port: port))
        var raw = destination.raw
        let sent = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &raw) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, destination.length)
                }
            }
        }
        guard sent == bytes.count else { throw .system(SystemError(errno, "sendto")) }
    }

    /// Waits up to `timeout` for one datagram; its bytes and the sender's IPv4 address, or nil when
    /// the time passed.
    public func receive(timeout: Duration) throws(ReactorError) -> (bytes: [UInt8], from: String)? {
        let nanoseconds = max(timeout.nanosecondsClamped, 1_000)
        var limit = timeval(tv_sec: Int(nanoseconds / 1_000_000_000), tv_usec: Int(nanoseconds % 1_000_000_000 / 1_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard let (bytes, sender) = try receiveOne(flags: 0), case .ipv4(let host, _) = sender else { return nil }
        return (bytes, host)
    }

    /// The datagram waiting now, if any, and its sender (never waits).
    func receiveWaiting() throws(ReactorError) -> (bytes: [UInt8], from: SocketAddress)? {
        try receiveOne(flags: Int32(MSG_DONTWAIT))
    }

    private func receiveOne(flags: Int32) throws(ReactorError) -> (bytes: [UInt8], from: SocketAddress)? {
        var buffer = [UInt8](repeating: 0, count: Self.maximumDatagram)
        var sender = SocketAddress.Storage()
        sender.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let count = buffer.withUnsafeMutableBytes { bytes in
            withUnsafeMutablePointer(to: &sender.raw) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, bytes.baseAddress, bytes.count, flags, $0, &sender.length)
                }
            }
        }
        guard count >= 0 else {
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return nil }
            throw .system(SystemError(errno, "recvfrom"))
        }
        guard let from = sender.address() else { return nil }
        return (Array(buffer[0..<count]), from)
    }
}

/// What the reactor asks of a datagram socket in its table: the kernel's UDP socket
/// (``DatagramSocket``), or a simulated network's.
protocol DatagramChannel: AnyObject {
    /// The descriptor the socket table holds (the channel closes it when it goes).
    var fd: Int32 { get }
    var port: UInt16 { get }
    func join(group: String, interface: String) throws(ReactorError)
    func send(_ bytes: [UInt8], to host: String, port: UInt16, interface: String?) throws(ReactorError)
    /// The datagram waiting now, if any, and its sender (never waits).
    func receiveWaiting() throws(ReactorError) -> (bytes: [UInt8], from: SocketAddress)?
}
