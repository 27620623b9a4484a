// One sender's stream fanned out to N subscribers through the actor layer: N encrypted links from
// the sender's runtime to a receiving runtime on another thread, every message sent to each link
// in turn (a link that is full holds the turn until it is Writable: lossless, in order).
import Actors
import Platform

/// Counts Samples over every link; when all `links` have said Done, answers the last with the total.
final class FanOutCounter: Object {
    let listen: SocketAddress
    let server: ServerThread
    let links: Int
    var samples = 0
    var ended = 0
    var first = Deadline.now()

    init(listen: SocketAddress, server: ServerThread, links: Int) {
        self.listen = listen
        self.server = server
        self.links = links
    }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Sample:
            if samples == 0 { first = .now() }
            samples += 1
        case is Start: context.listen(at: listen)
        case let listening as Listening: server.bound.withLock { $0 = listening.address.description }
        case is Done:
            ended += 1
            guard ended == links else { return }
            let seconds = Double(first.nanoseconds(until: .now())) / 1e9
            try context.reply(Measured(messages: samples, seconds: seconds, allocations: 0, times: []))
            context.complete(Ack())
        default: break
        }
    }
}

/// Opens `links` connections, then sends each message to every one of them for `seconds`.
final class FanOutSender: Object {
    let server: SocketAddress
    let links: Int
    let seconds: Double
    let sample = Sample(payload: [UInt8](repeating: 0x5A, count: 64))
    var peers: [Address] = []
    var next = 0
    var sending = true
    var farewells = 0
    var refusals = 0

    init(server: SocketAddress, links: Int, seconds: Double) {
        self.server = server
        self.links = links
        self.seconds = seconds
    }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start:
            // A listener turns away unproved connections beyond a few per source: the backoff retries.
            for _ in 0..<links {
                context.connect(to: server, backoff: Backoff(initial: .milliseconds(20), maximum: .seconds(1)))
            }
        case is Connected:
            peers.append(context.returnAddress)
            guard peers.count == links else { return }
            context.startTimer(Done(), after: .nanoseconds(Int64(seconds * 1e9)))
            pump(context)
        case is Writable: pump(context)
        case is Done:
            sending = false
            pump(context)
        case let measured as Measured: context.complete(measured)
        case let failed as NotConnected:
            refusals += 1
            if refusals > 100 * links { fail("fan-out sender: \(failed.reason)") }
        default: break
        }
    }

    private func pump(_ context: Context) {
        guard peers.count == links else { return }
        do {
            if sending {
                while true {
                    try context.send(sample, to: peers[next])
                    next = next + 1 == links ? 0 : next + 1
                }
            }
            while farewells < links {
                try context.send(Done(), to: peers[farewells])
                farewells += 1
            }
        } catch {
            return // linkBusy: that link's Writable resumes the turn
        }
    }
}

/// Aggregate messages per second delivered to `links` subscribers on one receiving runtime.
func actorFanOut(links: Int, seconds: Double) -> Double {
    let server = ServerThread { FanOutCounter(listen: .ipv4("127.0.0.1", port: 0), server: $0, links: links) }
    let address = server.address()
    do {
        guard
            let measured = try actorRuntime().run(FanOutSender(server: address, links: links, seconds: seconds))
                as? Measured
        else { fail("actor fan-out ended early") }
        server.join()
        return Double(measured.messages) / measured.seconds
    } catch {
        fail("actor fan-out: \(error)")
    }
}
