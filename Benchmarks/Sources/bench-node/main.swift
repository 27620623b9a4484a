import Actors
import Platform
// A role for the across-hosts benchmark: a publisher that answers pings, or a subscriber that
// reports, on stderr with the monotonic clock (one clock for every namespace of the machine), when
// it is offered the service and when it loses it, and times round trips over each session.
import ProcessShim
import PubSub
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

struct Settings: Codable, Sendable {
    var role = "subscriber"
    var scope = "lan"
    /// Subscriber: round trips to time over each session (0: none).
    var pings = 0
    /// Listener: the TCP port it accepts (and closes) connections on.
    var port: UInt16 = 32199
    /// Probe: the IPv4 address it connects to, every 5 ms, until one gets through.
    var target = ""
}

struct Ping: Message {
    static let typeName = "bench.Ping"
    var payload: [UInt8]
}

struct Pong: Message {
    static let typeName = "bench.Pong"
    var payload: [UInt8]
}

func report(_ line: String) { SystemAccess.writeStandardError("bench \(line)\n") }

/// Accepts and closes connections until killed: what a probe reaches.
func listenForProbes(port: UInt16) -> Never {
    var yes: Int32 = 1
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    listen(fd, 64)
    report("listening \(port)")
    while true {
        let peer = accept(fd, nil, nil)
        if peer >= 0 { close(peer) }
    }
}

/// Connects to `target` every 5 ms, each try given 5 ms; reports the first that gets through.
func probe(_ target: String, port: UInt16) {
    while true {
        let started = Deadline.now()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, target, &address.sin_addr)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        var failure: Int32 = -1
        var size = socklen_t(MemoryLayout<Int32>.size)
        if poll(&poller, 1, 5) == 1 { getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &size) }
        close(fd)
        if failure == 0 {
            report("passes \(Deadline.now().nanoseconds)")
            return
        }
        let spent = started.nanoseconds(until: .now())
        if spent < 5_000_000 { usleep(UInt32((5_000_000 - spent) / 1_000)) }
    }
}

Node.run(name: "bench-node", settings: Settings(), input: Nothing.self) { mailbox, node in
    if node.settings.role == "listener" { listenForProbes(port: node.settings.port) }
    if node.settings.role == "probe" {
        probe(node.settings.target, port: node.settings.port)
        return Ack()
    }
    let scope = Scope(named: node.settings.scope) ?? .lan
    if node.settings.role == "publisher" {
        mailbox.publish("bench-service", scope: scope)
        while true {
            switch try await mailbox.select(Ping.self, Published.self, Delivered.self, Dropped.self, Stop.self) {
            case let ping as Ping: try mailbox.reply(Pong(payload: ping.payload))
            case is Stop: return Ack()
            default: continue
            }
        }
    }
    mailbox.subscribe("bench-service", scope: scope)
    while true {
        switch try await mailbox.select(Available.self, Dropped.self, NotAvailable.self, Subscribed.self, Stop.self) {
        case is Available:
            report("available \(Deadline.now().nanoseconds)")
            let publisher = mailbox.returnAddress
            guard node.settings.pings > 0 else { continue }
            var times: [UInt64] = []
            let payload = [UInt8](repeating: 7, count: 64)
            for _ in 0..<node.settings.pings {
                let sent = Deadline.now()
                _ = try await mailbox.ask(
                    Ping(payload: payload), to: publisher, expecting: Pong.self, timeout: .seconds(5))
                times.append(sent.nanoseconds(until: .now()))
            }
            times.sort()
            report("rtt-p50-ns \(times[times.count / 2])")
        case is Dropped: report("dropped \(Deadline.now().nanoseconds)")
        case let missing as NotAvailable: report("not-available \(missing.reason)")
        case is Stop: return Ack()
        default: continue
        }
    }
}
