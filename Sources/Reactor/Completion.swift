import CShims
import Glibc

/// One finished kernel operation, copied out of the completion queue (or synthesised by the epoll
/// backend) during the reap phase and acted on during the run phase, never inside reaping.
struct Completion {
    static let noBuffer: UInt16 = .max

    var userData: UserData
    /// The syscall's result: a count or descriptor when ≥ 0, `-errno` when negative.
    var result: Int32
    /// True while a multishot operation stays armed after this completion.
    var more: Bool
    /// The receive buffer holding the data, or ``noBuffer``.
    var buffer: UInt16

    init(_ userData: UserData, result: Int32, more: Bool = false, buffer: UInt16 = Completion.noBuffer) {
        self.userData = userData
        self.result = result
        self.more = more
        self.buffer = buffer
    }
}

/// Which kernel interface a reactor drives.
public enum BackendKind: String, Sendable {
    case uring, epoll
}

/// What a backend must do; the reactor core keeps all socket, buffer and timer state and calls
/// these in its submit phase, then `wait` in its reap phase. Results come back only as completions.
protocol ReactorBackend: AnyObject {
    var kind: BackendKind { get }
    /// Makes `fd` usable for operations on `socket` (io_uring: registered file; epoll: interest).
    func register(fd: Int32, socket: SocketID) throws(ReactorError)
    /// Forgets `fd`; called once no operation on it is in flight.
    func deregister(fd: Int32, socket: SocketID)
    /// Arms a multishot accept: one completion per accepted descriptor.
    func armAccept(fd: Int32, socket: SocketID)
    /// Arms a multishot receive into the shared receive buffers.
    func armReceive(fd: Int32, socket: SocketID)
    /// Arms one completion for when `fd` has something to read (a datagram socket, whose owner
    /// then takes the datagrams itself with their senders' addresses).
    func armReadable(fd: Int32, socket: SocketID)
    /// Starts a non-blocking connect to the address held in `address`.
    func connect(fd: Int32, socket: SocketID, address: UnsafePointer<sockaddr>, length: socklen_t)
    /// Sends the iovecs of `message`, which stays valid until the send completes.
    func send(fd: Int32, socket: SocketID, message: UnsafeMutablePointer<msghdr>)
    /// Cancels the socket's in-flight operations of these kinds; each still completes (ECANCELED).
    func cancel(fd: Int32, socket: SocketID, kinds: OperationKinds)
    /// Arms one read of `buffer` on a signalfd or eventfd; completes with `kind`.
    func armRead(fd: Int32, kind: OperationKind, buffer: UnsafeMutableRawBufferPointer)
    /// Cancels the armed signalfd or eventfd read of `kind` (at shutdown).
    func cancelRead(kind: OperationKind)
    /// Returns a receive buffer once the owner has seen its bytes.
    func recycle(buffer: UInt16)
    /// Submits everything queued, waits up to `timeout` nanoseconds (nil: until something completes,
    /// 0: not at all) and appends at most `limit` completions.
    func wait(timeout: UInt64?, into ready: inout [Completion], limit: Int) throws(ReactorError)
    /// Releases kernel resources.
    func shutdown()

    // What the reactor asks of a connected socket's kernel state; a simulated network answers
    // these itself (the defaults below ask the kernel).
    /// Bytes the peer has not taken yet of what was sent on `fd`.
    func unsentBytes(fd: Int32) -> Int
    /// Bytes waiting to be read on `fd`.
    func unreadBytes(fd: Int32) -> Int
    /// Half-closes `fd`'s sending side: the peer reads end of stream after what was sent.
    func shutdownWrite(fd: Int32)
    /// Binds `fd` to `address`: 0, or the errno.
    func bind(fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t) -> Int32
    /// `fd`'s own address or its peer's, when the backend knows them better than the kernel (nil: ask it).
    func address(fd: Int32, peer: Bool) -> SocketAddress?
    /// A datagram socket bound to `port` (0: any), for the socket table.
    func openDatagram(port: UInt16) throws(ReactorError) -> any DatagramChannel
    /// The IPv4 interfaces that are up, loopback excepted.
    func networkInterfaces() -> [DatagramSocket.Interface]
}

extension ReactorBackend {
    func unsentBytes(fd: Int32) -> Int { max(0, Int(cshims_socket_unsent(fd))) }
    func unreadBytes(fd: Int32) -> Int { max(0, Int(cshims_socket_unread(fd))) }
    func shutdownWrite(fd: Int32) { Glibc.shutdown(fd, Int32(SHUT_WR)) }
    func bind(fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t) -> Int32 {
        Glibc.bind(fd, address, length) == 0 ? 0 : errno
    }
    func address(fd: Int32, peer: Bool) -> SocketAddress? { nil }
    func openDatagram(port: UInt16) throws(ReactorError) -> any DatagramChannel { try DatagramSocket(port: port) }
    func networkInterfaces() -> [DatagramSocket.Interface] { DatagramSocket.interfaces() }
}
