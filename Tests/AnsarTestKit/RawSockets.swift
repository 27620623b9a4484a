import Platform

#if canImport(Glibc)
    import Glibc
#endif

// Plain sockets made without any reactor, for tests that play a peer the reactor does not control.

/// A plain blocking TCP socket bound to 127.0.0.1 on an ephemeral port, made without the reactor
/// (to play a peer the reactor does not control). Returns the descriptor and the port.
public func rawLoopbackSocket() -> (fd: Int32, port: UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = loopback(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            _ = bind(fd, $0, length)
            _ = getsockname(fd, $0, &length)
        }
    }
    return (fd, UInt16(bigEndian: address.sin_port))
}

/// A blocking connect to 127.0.0.1:`port` from outside the reactor; the descriptor, or -1.
public func rawConnect(port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = loopback(port: port)
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    if result != 0 {
        close(fd)
        return -1
    }
    return fd
}

/// A non-blocking connect to 127.0.0.1:`port` from `source` (another loopback address, so that
/// many sources can be played from one machine); the descriptor. For strangers that connect and
/// then say nothing.
public func rawConnect(port: UInt16, from source: String) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    func address(_ host: String, _ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }
    var local = address(source, 0)
    var remote = address("127.0.0.1", port)
    let length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &local) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafePointer(to: &remote) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
    }
    return fd
}

private func loopback(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    address.sin_port = port.bigEndian
    return address
}

/// A plain TCP forwarder on 127.0.0.1 (a port of the kernel's choosing) that passes one accepted
/// connection's bytes to 127.0.0.1:`target` and back, on a thread of its own, until either end
/// closes: a proxy that can reflect a process's connection back to its own listener.
public final class TCPForwarder: Sendable {
    public let port: UInt16
    private let listener: Int32

    public init(to target: UInt16) {
        let (fd, port) = rawLoopbackSocket()
        listen(fd, 1)
        listener = fd
        self.port = port
        _ = ThreadStarter.start {
            let inbound = accept(fd, nil, nil)
            let outbound = rawConnect(port: target)
            guard inbound >= 0, outbound >= 0 else { return }
            var polled = [inbound, outbound].map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            var buffer = [UInt8](repeating: 0, count: 65536)
            pumping: while poll(&polled, 2, 30_000) > 0 {
                for (from, to) in [(inbound, outbound), (outbound, inbound)] {
                    let index = from == inbound ? 0 : 1
                    guard polled[index].revents != 0 else { continue }
                    let count = read(from, &buffer, buffer.count)
                    if count <= 0 { break pumping }
                    _ = write(to, buffer, count)
                }
            }
            close(inbound)
            close(outbound)
        }
    }

    deinit { close(listener) }
}
