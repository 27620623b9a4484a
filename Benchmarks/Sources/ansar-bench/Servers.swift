import Platform
import Reactor
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where a server thread's listener ended up, handed to the client thread.
final class Rendezvous: Sendable {
    private let address = Mutex<SocketAddress?>(nil)

    func publish(_ bound: SocketAddress) { address.withLock { $0 = bound } }

    func wait() -> SocketAddress {
        while true {
            if let bound = address.withLock({ $0 }) { return bound }
            sched_yield()
        }
    }
}

/// Runs `body` on a new thread; returns a function that joins it.
func onThread(_ body: @escaping @Sendable () -> Void) -> () -> Void {
    final class Box: @unchecked Sendable { // handed to exactly one thread, then released
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    pthread_create(
        &thread, nil,
        { argument in
            Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
            return nil
        }, box)
    return { pthread_join(thread, nil) }
}

/// Echoes every byte back; ends when its one connection ends.
struct EchoServer: ReactorHandler {
    mutating func handle(_ event: ReactorEvent, reactor: Reactor) {
        switch event {
        case .accepted(let socket, _): try? reactor.startReceiving(socket)
        case .receiveEnded(let socket, _): try? reactor.close(socket)
        case .closed: reactor.stop()
        default: break
        }
    }

    mutating func received(_ bytes: Span<UInt8>, on socket: SocketID, reactor: Reactor) {
        try? reactor.send(bytes, on: socket)
    }
}

/// Counts length-prefixed frames (4-byte little-endian length, then the payload) until the stream ends.
struct FrameCounter: ReactorHandler {
    var messages: UInt64 = 0
    var first: Deadline? = nil
    var elapsed: Double = 0
    private var need = 4
    private var inHeader = true
    private var header: UInt32 = 0
    private var headerFill = 0

    mutating func handle(_ event: ReactorEvent, reactor: Reactor) {
        switch event {
        case .accepted(let socket, _): try? reactor.startReceiving(socket)
        case .receiveEnded(let socket, _):
            elapsed = Double(Deadline.now().nanoseconds - (first ?? .now()).nanoseconds) / 1e9
            try? reactor.close(socket)
        case .closed: reactor.stop()
        default: break
        }
    }

    mutating func received(_ bytes: Span<UInt8>, on socket: SocketID, reactor: Reactor) {
        if first == nil { first = .now() }
        var at = 0
        let count = bytes.count
        while at < count {
            // Whole header in this buffer: read it in one load, as the C baseline's memcpy does.
            if inHeader && headerFill == 0 && at + 4 <= count {
                let length = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
                at += 4
                if length == 0 {
                    messages += 1
                } else {
                    inHeader = false
                    need = Int(UInt32(littleEndian: length))
                }
                continue
            }
            let take = min(need, count - at)
            if inHeader {
                for index in 0..<take {
                    header |= UInt32(bytes[at + index]) << (8 * UInt32(headerFill + index))
                }
                headerFill += take
            }
            at += take
            need -= take
            if need == 0 {
                if inHeader && header > 0 {
                    inHeader = false
                    need = Int(header)
                } else {
                    messages += 1
                    inHeader = true
                    need = 4
                }
                header = 0
                headerFill = 0
            }
        }
    }
}

/// Starts a server reactor on its own thread; returns its address and a join.
func startServer<Handler: ReactorHandler & SendableMetatype>(
    backend: Reactor.BackendChoice, address: SocketAddress, handler: @escaping @Sendable () -> Handler,
    report: @escaping @Sendable (Handler) -> Void = { _ in }
) -> (SocketAddress, () -> Void) {
    let rendezvous = Rendezvous()
    let join = onThread {
        do {
            let reactor = try Reactor(backend: backend)
            let listener = try reactor.listen(on: address)
            rendezvous.publish(try reactor.localAddress(of: listener))
            var server = handler()
            try reactor.run(&server)
            report(server)
        } catch {
            fatalError("benchmark server: \(error)")
        }
    }
    return (rendezvous.wait(), join)
}
