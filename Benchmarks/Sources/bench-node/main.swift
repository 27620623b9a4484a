import Actors
import Platform
// A role for the across-hosts benchmark: a publisher that answers pings, or a subscriber that
// reports, on stderr with the monotonic clock (one clock for every namespace of the machine), when
// it is offered the service and when it loses it, and times round trips over each session.
import ProcessShim
import PubSub
import Reactor

struct Settings: Codable, Sendable {
    var role = "subscriber"
    var scope = "lan"
    /// Subscriber: round trips to time over each session (0: none).
    var pings = 0
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

Node.run(name: "bench-node", settings: Settings(), input: Nothing.self) { mailbox, node in
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
