import Actors
import CBaseline
// Publish/subscribe: discovery, loss and return, and a round trip over a session. Each "process"
// is a runtime on its own thread with its own connections (real sockets through a real group
// directory); times are taken inside those runtimes.
import Platform
import PubSub
import Reactor
import Synchronization
import Transport

#if canImport(Glibc)
    import Glibc
#endif

struct PubSubTimes: Message {
    var subscriberStartToAvailable: Double
    var publisherEndToDropped: Double
    var publisherStartToAvailable: Double
}

let benchGroupSecret = TransportConfiguration(secret: benchRealm)

/// A group directory on a runtime thread of its own, until ``stopDirectory(_:)``.
func groupDirectory(at group: SocketAddress) -> RuntimeThread {
    RuntimeThread(transport: benchGroupSecret) { mailbox in
        mailbox.create(ScopeDirectory(listening: group))
        _ = try await mailbox.select(Stop.self)
        return Ack()
    }
}

func stopDirectory(_ directory: RuntimeThread) {
    if let directoryMain = directory.mainAddress() {
        _ = RuntimeThread { mailbox in
            try mailbox.send(Stop(), to: directoryMain)
            return Ack()
        }.wait()
    }
    _ = directory.wait()
}

/// A publisher of `name`, handler style like the direct round trip's server: answers BenchPing,
/// ends on Stop; says when it is listed.
final class BenchPublisher: Object {
    static var messageTypes: [any Message.Type] { [BenchPing.self] }
    let name: ServiceName
    let listed: Listed?

    init(_ name: ServiceName, listed: Listed?) {
        self.name = name
        self.listed = listed
    }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start: context.publish(name, scope: .group)
        case is Published: listed?.flag.store(true, ordering: .releasing)
        case let ping as BenchPing: try context.reply(BenchPong(sequence: ping.sequence))
        case is Stop, is Done: context.complete(Ack()) // Done from a subscriber, over its session
        default: break
        }
    }
}

/// Runs a BenchPublisher as the main object of a runtime thread.
func benchPublisher(_ name: ServiceName, listed: Listed? = nil) -> @Sendable (Mailbox) async throws -> any Message {
    { mailbox in
        guard let publisher = mailbox.create(BenchPublisher(name, listed: listed)) else {
            return Faulted("no publisher")
        }
        while true {
            let message = try await mailbox.select(Stop.self, Completed.self)
            if message is Completed { return Ack() }
            try mailbox.send(Stop(), to: publisher)
        }
    }
}

final class Listed: Sendable {
    let flag = Atomic<Bool>(false)
    func wait() {
        for _ in 0..<100_000 where !flag.load(ordering: .acquiring) { usleep(100) }
    }
}

func milliseconds(since start: Deadline) -> Double { Double(start.nanoseconds(until: .now())) / 1e6 }

/// One discovery trial: a publisher is listed, a subscriber starts (→ Available), the publisher's
/// runtime ends (→ Dropped), a new publisher starts (→ Available).
func pubSubTrial(group: SocketAddress, trial: Int) -> PubSubTimes {
    let name: ServiceName = try! ServiceName("bench-\(trial)")
    let listed = Listed()
    let first = RuntimeThread(transport: benchGroupSecret, groupAddress: group, benchPublisher(name, listed: listed))
    listed.wait()
    guard let firstMain = first.mainAddress() else { fail("publisher did not start") }
    let subscriber = RuntimeThread(transport: benchGroupSecret, groupAddress: group) { mailbox in
        let started = Deadline.now()
        mailbox.subscribe(.exact(name), scope: .group)
        guard try await mailbox.select(Available.self, timeout: .seconds(10)) is Available else {
            return Faulted("no Available")
        }
        let discovery = milliseconds(since: started)
        let ended = Deadline.now()
        try mailbox.send(Stop(), to: firstMain)
        guard try await mailbox.select(Dropped.self, timeout: .seconds(10)) is Dropped else {
            return Faulted("no Dropped")
        }
        let loss = milliseconds(since: ended)
        let restarted = Deadline.now()
        let second = RuntimeThread(transport: benchGroupSecret, groupAddress: group, benchPublisher(name))
        guard try await mailbox.select(Available.self, timeout: .seconds(10)) is Available else {
            return Faulted("no second Available")
        }
        let comeback = milliseconds(since: restarted)
        // By its thread's address: Stop is for objects of this process, it never crosses a link.
        guard let secondMain = second.mainAddress() else { return Faulted("the second publisher did not start") }
        try mailbox.send(Stop(), to: secondMain)
        _ = second
        return PubSubTimes(
            subscriberStartToAvailable: discovery, publisherEndToDropped: loss, publisherStartToAvailable: comeback)
    }
    let result = subscriber.wait()
    guard let times = result as? PubSubTimes else { fail("pub-sub trial \(trial) failed: \(result)") }
    _ = first.wait()
    return times
}

/// Ping-pong between a subscriber and the publisher it found: over the session's own connection.
func sessionPingPong(group: SocketAddress, count: Int) -> Measured {
    let publisher = RuntimeThread(transport: benchGroupSecret, groupAddress: group, benchPublisher("bench-session"))
    do {
        let runtime = Runtime(reactor: try Reactor(backend: .uring), transport: benchGroupSecret)
        runtime.pubSub.groupAddress = group
        guard
            let measured = try runtime.run(PingClient(.subscribe("bench-session"), farewell: Done(), count: count))
                as? Measured
        else { fail("session ping-pong ended early") }
        _ = publisher.wait()
        return measured
    } catch {
        fail("session ping-pong: \(error)")
    }
}
