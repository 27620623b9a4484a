// The actor layer: local dispatch, request/response between two runtimes, one-way between them.
import Actors
import CBaseline
import Platform
import PubSub
import Reactor
import Synchronization
import Transport

#if canImport(Glibc)
    import Glibc
#endif

struct Count: Message { var value: Int }
struct Next: Message {}
struct Done: Message {}

/// 64 B (or more) of payload, with its fields written by hand: the fast path.
struct Sample: Message {
    var payload: [UInt8]
    init(payload: [UInt8]) { self.payload = payload }
    func writeFields(to writer: inout MessageWriter) throws { writer.field("payload", payload) }
    init(fields reader: inout MessageReader) throws { payload = try reader.bytes("payload") }
}

/// The same message through `Codable`, the default path.
struct CodableSample: Message { var payload: [UInt8] }

struct BenchPing: Message {
    var sequence: Int
    init(sequence: Int) { self.sequence = sequence }
    func writeFields(to writer: inout MessageWriter) throws { writer.field("sequence", sequence) }
    init(fields reader: inout MessageReader) throws { sequence = try reader.int("sequence") }
}

struct BenchPong: Message {
    var sequence: Int
    init(sequence: Int) { self.sequence = sequence }
    func writeFields(to writer: inout MessageWriter) throws { writer.field("sequence", sequence) }
    init(fields reader: inout MessageReader) throws { sequence = try reader.int("sequence") }
}

/// What a benchmark object measured, returned as its completion value.
struct Measured: Message {
    var messages: Int
    var seconds: Double
    var allocations: UInt64
    var times: [UInt64]
}

func actorRuntime() throws -> Runtime {
    Runtime(reactor: try Reactor(backend: .uring), transport: transportConfiguration(encrypted: true))
}

// MARK: Local dispatch

/// Counts Count messages; tells the sender after each batch.
final class DispatchCounter: Object {
    let batch: Int
    var count = 0
    init(batch: Int) { self.batch = batch }

    func receive(_ message: any Message, context: Context) throws {
        guard let counted = message as? Count else { return }
        count += counted.value
        if count % batch == 0 { try context.reply(Next()) }
    }
}

/// Sends `total` messages to a counter in batches, one batch per Next.
final class DispatchDriver: Object {
    let total: Int
    let batch = 1000
    var counter = Address.none
    var sent = 0
    var started = Deadline.now()
    var allocationsBefore: UInt64 = 0

    init(total: Int) { self.total = total }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start:
            counter = context.create(DispatchCounter(batch: batch))!
            started = .now()
            allocationsBefore = cbaseline_allocations()
            try sendBatch(context)
        case is Next:
            if sent >= total {
                let allocations = cbaseline_allocations() - allocationsBefore
                let seconds = Double(started.nanoseconds(until: .now())) / 1e9
                context.complete(Measured(messages: sent, seconds: seconds, allocations: allocations, times: []))
            } else {
                try sendBatch(context)
            }
        default:
            break
        }
    }

    private func sendBatch(_ context: Context) throws {
        for _ in 0..<batch { try context.send(Count(value: 1), to: counter) }
        sent += batch
    }
}

func localDispatch(total: Int) -> Measured {
    do {
        guard let measured = try actorRuntime().run(DispatchDriver(total: total)) as? Measured else {
            fail("local dispatch ended early")
        }
        return measured
    } catch {
        fail("local dispatch: \(error)")
    }
}

// MARK: Two runtimes

/// Runs a server object in a runtime on its own thread; returns the address it listens on (from
/// its Listening message) and a join.
final class ServerThread: Sendable {
    let bound = Mutex<String?>(nil)
    private let joined = Mutex<(@Sendable () -> Void)?>(nil)

    init(_ make: @escaping @Sendable (ServerThread) -> any Object) {
        let join = ThreadStarter.start { [self] in
            do {
                _ = try actorRuntime().run(make(self))
            } catch {
                fail("actor server: \(error)")
            }
        }
        joined.withLock { $0 = join }
    }

    func address() -> SocketAddress {
        for _ in 0..<10_000 {
            if let text = bound.withLock({ $0 }) { return try! SocketAddress(parsing: text) }
            usleep(1000)
        }
        fail("actor server did not listen")
    }

    func join() { joined.withLock { $0 }?() }
}

/// Answers BenchPing with BenchPong; counts Samples; ends on Done.
final class BenchServer: Object {
    let listen: SocketAddress
    let server: ServerThread
    var samples = 0
    var first = Deadline.now()

    init(listen: SocketAddress, server: ServerThread) {
        self.listen = listen
        self.server = server
    }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case let ping as BenchPing: try context.reply(BenchPong(sequence: ping.sequence))
        case is Sample, is CodableSample:
            if samples == 0 { first = .now() }
            samples += 1
        case is Start: context.listen(at: listen)
        case let listening as Listening: server.bound.withLock { $0 = listening.address.description }
        case is Done:
            let seconds = Double(first.nanoseconds(until: .now())) / 1e9
            try context.reply(Measured(messages: samples, seconds: seconds, allocations: 0, times: []))
            context.complete(Ack())
        default: break
        }
    }
}

/// Ping-pong through the actor layer: timed round trips after a warm-up.
final class PingClient: Object {
    /// How the client finds its server: by address, or by name through a directory.
    enum Server {
        case connect(SocketAddress)
        case subscribe(Search)
    }

    static var messageTypes: [any Message.Type] { [BenchPong.self] }

    let server: Server
    /// What the server is sent once the round trips are done.
    let farewell: any Message
    let count: Int
    var peer = Address.none
    var sequence = 0
    var sentAt = Deadline.now()
    var times: [UInt64] = []
    var allocationsBefore: UInt64 = 0

    init(_ server: Server, farewell: any Message, count: Int) {
        self.server = server
        self.farewell = farewell
        self.count = count
        times.reserveCapacity(count)
    }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start:
            switch server {
            case .connect(let address): context.connect(to: address)
            case .subscribe(let name): context.subscribe(name, scope: .group)
            }
        case is Connected, is Available:
            peer = context.returnAddress
            try ping(context)
        case is BenchPong:
            let elapsed = sentAt.nanoseconds(until: .now())
            if sequence > warmup { times.append(elapsed) }
            if sequence == warmup { allocationsBefore = cbaseline_allocations() }
            if times.count == count {
                let allocations = cbaseline_allocations() - allocationsBefore
                try context.send(farewell, to: peer)
                context.complete(Measured(messages: count, seconds: 0, allocations: allocations, times: times))
            } else {
                try ping(context)
            }
        case let failed as NotConnected: fail("actor ping client: \(failed.reason)")
        default: break
        }
    }

    private func ping(_ context: Context) throws {
        sequence += 1
        sentAt = .now()
        try context.send(BenchPing(sequence: sequence), to: peer)
    }
}

func actorPingPong(unixSocket: Bool, count: Int) -> Measured {
    let listen: SocketAddress =
        unixSocket ? .unixAbstract(name: "ansar-bench-actors-\(getpid())") : .ipv4("127.0.0.1", port: 0)
    let server = ServerThread { BenchServer(listen: listen, server: $0) }
    let address = server.address()
    do {
        guard
            let measured = try actorRuntime().run(PingClient(.connect(address), farewell: Done(), count: count))
                as? Measured
        else {
            fail("actor ping-pong ended early")
        }
        server.join()
        return measured
    } catch {
        fail("actor ping-pong: \(error)")
    }
}

/// Streams Samples until its time is up, waiting for Writable whenever the connection is full.
final class SampleSender<Payload: Message>: Object {
    let server: SocketAddress
    let seconds: Double
    let sample: Payload
    var peer = Address.none
    var sending = true

    init(server: SocketAddress, seconds: Double, sample: Payload) {
        self.server = server
        self.seconds = seconds
        self.sample = sample
    }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start: context.connect(to: server)
        case is Connected:
            peer = context.returnAddress
            context.startTimer(Done(), after: .nanoseconds(Int64(seconds * 1e9)))
            pump(context)
        case is Writable: pump(context)
        case is Done:
            sending = false
            try? context.send(Done(), to: peer) // the queue may be full: sent again on Writable
        case let measured as Measured: context.complete(measured)
        case let failed as NotConnected: fail("actor one-way sender: \(failed.reason)")
        default: break
        }
    }

    private func pump(_ context: Context) {
        guard sending else {
            try? context.send(Done(), to: peer)
            return
        }
        while true {
            do {
                try context.send(sample, to: peer)
            } catch {
                return // linkBusy: Writable follows
            }
        }
    }
}

func actorOneWay(size: Int, seconds: Double, codable: Bool) -> (messages: UInt64, elapsed: Double) {
    let server = ServerThread { BenchServer(listen: .ipv4("127.0.0.1", port: 0), server: $0) }
    let address = server.address()
    let payload = [UInt8](repeating: 0x5A, count: size)
    do {
        let sender: any Object =
            codable
            ? SampleSender(server: address, seconds: seconds, sample: CodableSample(payload: payload))
            : SampleSender(server: address, seconds: seconds, sample: Sample(payload: payload))
        guard let measured = try actorRuntime().run(sender) as? Measured else {
            fail("actor one-way ended early")
        }
        server.join()
        return (UInt64(measured.messages), measured.seconds)
    } catch {
        fail("actor one-way: \(error)")
    }
}
