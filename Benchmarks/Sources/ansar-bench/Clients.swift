import CBaseline
import Platform
import Reactor

/// The timings of a ping-pong: round trips after a warm-up, and the heap allocations made while
/// they were timed (all threads).
struct RoundTripLog {
    let warmup: Int
    let count: Int
    var times: [UInt64] = []
    var done = 0
    var sentAt = Deadline.now()
    var allocationsAtStart: UInt64 = 0
    var allocationsAtEnd: UInt64 = 0

    init(warmup: Int, count: Int) {
        self.warmup = warmup
        self.count = count
        times.reserveCapacity(count)
    }

    var allocations: UInt64 { allocationsAtEnd - allocationsAtStart }

    mutating func sent() { sentAt = Deadline.now() }

    /// Records an echo; true when the last round trip is done.
    mutating func echoed() -> Bool {
        let now = Deadline.now()
        if done == warmup { allocationsAtStart = cbaseline_allocations() }
        if done >= warmup { times.append(now.nanoseconds - sentAt.nanoseconds) }
        done += 1
        guard done == warmup + count else { return false }
        allocationsAtEnd = cbaseline_allocations()
        return true
    }
}

/// Sends `size` bytes, waits for them to come back, repeats; records each round trip.
struct PingPongClient: ReactorHandler {
    let message: [UInt8]
    var log: RoundTripLog
    var echoed = 0
    var failure: ReactorError? = nil

    init(size: Int, warmup: Int, count: Int) {
        message = Array(repeating: 0x5A, count: size)
        log = RoundTripLog(warmup: warmup, count: count)
    }

    mutating func handle(_ event: ReactorEvent, reactor: Reactor) {
        switch event {
        case .connected(let socket):
            try? reactor.startReceiving(socket)
            ping(socket, reactor)
        case .connectFailed(_, let error), .sendFailed(_, let error, _):
            failure = error
            reactor.stop()
        case .receiveEnded(let socket, _):
            try? reactor.close(socket)
        case .closed:
            reactor.stop()
        default:
            break
        }
    }

    mutating func ping(_ socket: SocketID, _ reactor: Reactor) {
        log.sent()
        do { try reactor.send(message.span, on: socket) } catch {
            failure = error
            reactor.stop()
        }
    }

    mutating func received(_ bytes: Span<UInt8>, on socket: SocketID, reactor: Reactor) {
        echoed += bytes.count
        guard echoed >= message.count else { return }
        echoed -= message.count
        if log.echoed() {
            try? reactor.shutdownWrite(socket)
        } else {
            ping(socket, reactor)
        }
    }
}

/// Sends length-prefixed frames as fast as the send queue takes them for `seconds`, then ends the stream.
struct FrameSender: ReactorHandler {
    let frame: [UInt8]
    let end: Deadline
    var finished = false

    init(size: Int, seconds: Double) {
        var frame = withUnsafeBytes(of: UInt32(size).littleEndian) { Array($0) }
        frame += Array(repeating: 0xA5, count: size)
        self.frame = frame
        end = .after(.nanoseconds(Int64(seconds * 1e9)))
    }

    mutating func handle(_ event: ReactorEvent, reactor: Reactor) {
        switch event {
        case .connected(let socket):
            try? reactor.startReceiving(socket)
            pump(socket, reactor)
        case .writable(let socket):
            pump(socket, reactor)
        case .receiveEnded(let socket, _):
            try? reactor.close(socket)
        case .closed, .connectFailed, .sendFailed:
            reactor.stop()
        default:
            break
        }
    }

    /// Fills the send queue until it refuses (then `.writable` calls again) or time is up.
    mutating func pump(_ socket: SocketID, _ reactor: Reactor) {
        guard !finished else { return }
        while true {
            var refused = false
            for _ in 0..<256 {
                do { try reactor.send(frame.span, on: socket) } catch {
                    refused = true
                    break
                }
            }
            if Deadline.now() >= end {
                finished = true
                try? reactor.shutdownWrite(socket)
                return
            }
            if refused { return }
        }
    }

    mutating func received(_ bytes: Span<UInt8>, on socket: SocketID, reactor: Reactor) {}
}
