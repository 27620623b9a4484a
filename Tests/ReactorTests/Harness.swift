import AnsarTestKit
import Platform
import Testing

@testable import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Both backends: every behaviour test runs on each.
let backends: [BackendKind] = [.uring, .epoll]

func makeReactor(_ kind: BackendKind, limits: Limits = Limits()) throws -> Reactor {
    try Reactor(limits: limits, backend: kind == .uring ? .uring : .epoll)
}

/// A handler that records everything and lets a test script its reactions.
struct Recorder: ReactorHandler {
    var events: [ReactorEvent] = []
    var bytes: [SocketID: [UInt8]] = [:]
    var onEvent: ((ReactorEvent, Reactor, inout Recorder) -> Void)? = nil
    var onReceive: ((SocketID, Reactor, inout Recorder) -> Void)? = nil
    /// Echo everything received on these sockets.
    var echoing: Set<SocketID> = []
    /// Start receiving on every accepted socket.
    var receiveAccepted = true

    mutating func handle(_ event: ReactorEvent, reactor: Reactor) {
        events.append(event)
        if case .accepted(let socket, _) = event, receiveAccepted {
            try? reactor.startReceiving(socket)
        }
        if let onEvent {
            onEvent(event, reactor, &self)
        }
    }

    mutating func received(_ span: Span<UInt8>, on socket: SocketID, reactor: Reactor) {
        if echoing.contains(socket) {
            try? reactor.send(span, on: socket)
        }
        var copy = bytes[socket] ?? []
        for index in span.indices { copy.append(span[index]) }
        bytes[socket] = copy
        if let onReceive { onReceive(socket, reactor, &self) }
    }

    func accepted() -> [SocketID] {
        events.compactMap { if case .accepted(let socket, _) = $0 { socket } else { nil } }
    }

    func has(_ predicate: (ReactorEvent) -> Bool) -> Bool { events.contains(where: predicate) }
}

/// Runs loop turns until `condition` holds or `limit` passes; returns whether it held. Never a
/// sleep: each turn blocks in the kernel until something happens or 10 ms pass.
@discardableResult
func spin<H: ReactorHandler>(
    _ reactor: Reactor, _ handler: inout H, within limit: Duration = .seconds(10), until condition: (H) -> Bool
) throws -> Bool {
    let deadline = Deadline.after(limit)
    while !condition(handler) {
        if Deadline.now() >= deadline { return false }
        try reactor.turn(&handler, timeout: 10_000_000)
    }
    return true
}

/// A listener on an ephemeral loopback port and a client connected to it, with the server side
/// accepted and both receiving.
func connectedPair(
    _ reactor: Reactor, _ recorder: inout Recorder, address: String = "127.0.0.1:0"
) throws -> (listener: SocketID, client: SocketID, server: SocketID) {
    let listener = try reactor.listen(on: SocketAddress(parsing: address))
    let client = try reactor.connect(to: reactor.localAddress(of: listener), deadline: .after(.seconds(5)))
    try reactor.startReceiving(client)
    let ok = try spin(reactor, &recorder) { $0.has { $0 == .connected(client) } && !$0.accepted().isEmpty }
    #expect(ok, "connect and accept within the deadline")
    return (listener, client, recorder.accepted().last!)
}

/// A deterministic byte pattern, so a receiver can check order and content.
func pattern(_ count: Int, seed: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &+ seed) &* 31 &+ ($0 >> 8)) }
}
