// reactor-echo: an echo server and its client on one reactor, talking over loopback TCP and a
// Unix socket. It prints what it did, step by step, and how long the round trips took.
import Platform
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Both ends of the conversation: the listener echoes what it accepts; the client sends a few
/// greetings, checks each echo and closes.
struct Echo: ReactorHandler {
    let greetings = ["hello", "from", "the", "ansar", "reactor"]
    var client: SocketID? = nil
    var next = 0
    var pending: [UInt8] = []
    var sentAt = Deadline.now()
    var roundTrips: [UInt64] = []
    var failure: String? = nil

    mutating func handle(_ event: ReactorEvent, reactor: Reactor) {
        switch event {
        case .accepted(let socket, _):
            print("  server: accepted \(socket)")
            try? reactor.startReceiving(socket)
        case .connected(let socket):
            print("  client: connected \(socket)")
            try? reactor.startReceiving(socket)
            sendNext(on: socket, reactor: reactor)
        case .connectFailed(_, let error), .acceptFailed(_, let error):
            failure = "\(error)"
            reactor.stop()
        case .receiveEnded(let socket, let error):
            if socket == client { break }
            print("  server: \(socket) ended (\(error.map { "\($0)" } ?? "end of stream")), closing")
            try? reactor.close(socket)
        case .closed(let socket, _):
            if socket == client { reactor.stop() }
        default:
            break
        }
    }

    mutating func received(_ bytes: Span<UInt8>, on socket: SocketID, reactor: Reactor) {
        if socket != client {
            try? reactor.send(bytes, on: socket) // the server side: echo
            return
        }
        for index in bytes.indices { pending.append(bytes[index]) }
        let expected = Array(greetings[next].utf8)
        guard pending.count >= expected.count else { return }
        roundTrips.append(Deadline.now().nanoseconds - sentAt.nanoseconds)
        print("  client: echo \"\(String(decoding: pending, as: UTF8.self))\"")
        if pending != expected { failure = "echo mismatch" }
        pending.removeAll()
        next += 1
        if next < greetings.count {
            sendNext(on: socket, reactor: reactor)
        } else {
            try? reactor.shutdownWrite(socket)
            try? reactor.close(socket)
        }
    }

    mutating func sendNext(on socket: SocketID, reactor: Reactor) {
        sentAt = Deadline.now()
        try? reactor.send(Array(greetings[next].utf8), on: socket)
    }
}

func converse(over address: SocketAddress) throws(ReactorError) -> Bool {
    let reactor = try Reactor()
    let listener = try reactor.listen(on: address)
    let bound = try reactor.localAddress(of: listener)
    print("reactor-echo over \(bound) (\(reactor.backendKind) backend)")
    var echo = Echo()
    echo.client = try reactor.connect(to: bound, deadline: .after(.seconds(2)))
    try reactor.run(&echo, until: .after(.seconds(5)))
    if let failure = echo.failure {
        print("  failed: \(failure)")
        return false
    }
    guard echo.next == echo.greetings.count else {
        print("  failed: only \(echo.next) of \(echo.greetings.count) echoes within 5 s")
        return false
    }
    let micros = echo.roundTrips.map { Double($0) / 1000 }
    print("  \(micros.count) round trips, fastest \(micros.min()!) µs, slowest \(micros.max()!) µs")
    return true
}

var ok = true
do {
    ok = try converse(over: SocketAddress(parsing: "127.0.0.1:0")) && ok
    ok = try converse(over: SocketAddress(parsing: "@ansar-reactor-echo-\(getpid())")) && ok
} catch {
    print("reactor-echo: \(error)")
    ok = false
}
exit(ok ? 0 : 1)
