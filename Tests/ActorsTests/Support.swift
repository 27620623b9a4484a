import AnsarTestKit
import Reactor
import Testing
import Transport

@testable import Actors

#if canImport(Glibc)
    import Glibc
#endif

struct Ping: Message, Equatable { var sequence: Int }
struct Pong: Message, Equatable { var sequence: Int }
struct Tick: Message, Equatable {}

/// Bytes, written as one blob (not an array of numbers).
struct Blob: Message {
    var bytes: [UInt8]
    init(bytes: [UInt8]) { self.bytes = bytes }
    func writeFields(to writer: inout MessageWriter) throws { writer.field("bytes", bytes) }
    init(fields reader: inout MessageReader) throws { bytes = try reader.bytes("bytes") }
}
struct Tock: Message, Equatable {}

/// A message carrying addresses, for routing tests.
struct Introduce: Message {
    var who: Address
    var others: [Address]
}

/// What a hostile build would put on the wire, bypassing this runtime's checks: the declaration
/// of `typeName`, then a frame of it with `body`, to the object 0 (the listener's owner) of the
/// peer `mailbox` last heard from. The frame is counted against the link's credit, as any send.
func sendRaw(from mailbox: Mailbox, typeName: String, body: [UInt8]) throws -> Bool {
    let runtime = mailbox.runtime
    guard let id = mailbox.returnAddress.link, let link = runtime.link(id),
        let credit = link.credit.mayGo(to: 0, waiting: mailbox.address)
    else { return false }
    let type = MessageType.identifier(of: typeName)
    try runtime.connections.send(
        FrameHeader(typeID: Runtime.declarationType, bodyLength: 0, destination: UInt64(type)),
        body: Array(typeName.utf8), on: link.connection)
    try runtime.connections.send(
        FrameHeader(typeID: type, bodyLength: 0, destination: 0), body: body, on: link.connection)
    credit.sent(by: mailbox.address)
    return true
}

/// An object that does nothing until it is stopped.
final class Quiet: Object {
    func receive(_ message: any Message, context: Context) throws {
        if message is Stop { context.complete(Ack()) }
    }
}

/// A message carrying another, of any type.
struct Carrier: Message {
    var inner: AnyMessage
}

/// A runtime on a fresh reactor, on the calling thread.

extension RuntimeThread {
    /// A runtime thread in the test realm: a stand-in for another process that still talks over
    /// real sockets.
    convenience init(
        secret: RealmSecret = testSecret, limits: RuntimeLimits = RuntimeLimits(),
        _ body: @escaping @Sendable (Mailbox) async throws -> any Message
    ) {
        self.init(transport: TransportConfiguration(secret: secret), limits: limits, body)
    }

    func join() -> any Message { wait() }
}

/// A unique abstract Unix socket address for one test.
func uniqueEndpoint(_ name: String) -> SocketAddress {
    try! SocketAddress(parsing: "@ansar-actors-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max))")
}

/// Takes `total` Pings, which must arrive in order, answers the last sender with a Pong carrying
/// the count, and completes with Ack (or Faulted, saying what went wrong).
func receiveInOrder(_ mailbox: Mailbox, total: Int) async throws -> any Message {
    var expected = 0
    while expected < total {
        let ping = try expectType(try await mailbox.select(Ping.self, timeout: .seconds(20)), Ping.self)
        guard ping.sequence == expected else {
            return Faulted("out of order", explanation: "\(ping.sequence) for \(expected)")
        }
        expected += 1
    }
    try mailbox.reply(Pong(sequence: expected))
    return Ack()
}

/// Sends Pings 0..<total to `target`, waiting out refusals (Writable for a full connection, a
/// moment for a full cross-thread inbox); returns how many sends were refused.
func sendInOrder(_ mailbox: Mailbox, total: Int, to target: Address) async throws -> Int {
    var refusals = 0
    var sequence = 0
    while sequence < total {
        do {
            try mailbox.send(Ping(sequence: sequence), to: target)
            sequence += 1
        } catch SendRefused.linkBusy {
            refusals += 1
            _ = try expectType(try await mailbox.select(Writable.self, timeout: .seconds(20)), Writable.self)
        } catch SendRefused.threadBusy {
            refusals += 1
            _ = try await mailbox.select(Tick.self, timeout: .milliseconds(1)) // the other thread drains in batches
        }
    }
    return refusals
}

/// A `link-node` source and its sink as real processes over a fresh abstract Unix socket, the sink
/// started once the source listens; each takes `source`/`sink` arguments besides its role.
func startLinkNodes(_ name: String, source: [String], sink: [String]) throws -> (source: Subprocess, sink: Subprocess) {
    let secret = ["ANSAR_REALM_SECRET": String(repeating: "4b", count: 32)]
    let address = "--address=@ansar-\(name)-\(UInt32.random(in: 0...UInt32.max))"
    let sourceProcess = try Subprocess("link-node", ["--role=source", address] + source, environment: secret)
    guard sourceProcess.waitForError(containing: "listening") else {
        throw Faulted("link-node source not listening", explanation: sourceProcess.errors)
    }
    return (sourceProcess, try Subprocess("link-node", ["--role=sink", address] + sink, environment: secret))
}
