import Actors
import AnsarTestKit
import Platform
// A pair of processes for link tests across namespaced hosts: a source that sends one bulk message
// and then a sequenced stream as fast as the link takes it (minding linkBusy and Writable), and a
// sink that checks both and reports what arrived. Each says on stderr when it is ready; the
// result is printed as JSON (--pure-object). A crowd opens `count` idle connections to `address`
// and holds them, saying on stderr how many are up.
import ProcessShim
import Reactor
import Transport

#if canImport(Glibc)
    import Glibc
#endif

struct Settings: Codable, Sendable {
    /// "source" (listens) or "sink" (connects).
    var role = "sink"
    /// Source: where to listen; sink: where the source listens.
    var address = ""
    /// The largest that fits a frame (16 MiB) with its field encoding.
    var bulkBytes = (16 << 20) - 64
    /// How long the source streams after the bulk message.
    var seconds = 20.0
    var chunkBytes = 1024
    /// Sink: how long handling one chunk takes (a slow consumer).
    var handleMicroseconds = 0
    /// Source: chunks per second (0: as fast as the link takes them). Paced in 10 ms steps, which
    /// also look for the link's loss.
    var rate = 0
    /// Source: stream until the link is lost (the sink is killed), then account for every chunk.
    var untilLost = false
    /// Sink: say `got N` on stderr after each chunk (what arrived, for a sink that is killed).
    var tellEach = false
    /// Crowd: how many idle connections to open to `address` and hold.
    var count = 1
}

/// The byte at `index` of a bulk message, so the sink can check every one.
func bulkByte(_ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: index &* 31 &+ index >> 8) }

struct Bulk: Message {
    static let typeName = "link.Bulk"
    var payload: [UInt8]
    init(payload: [UInt8]) { self.payload = payload }
    func writeFields(to writer: inout MessageWriter) throws { writer.field("payload", payload) }
    init(fields reader: inout MessageReader) throws { payload = try reader.bytes("payload") }
}

struct Chunk: Message {
    static let typeName = "link.Chunk"
    var sequence: Int
    var payload: [UInt8]
    init(sequence: Int, payload: [UInt8]) {
        self.sequence = sequence
        self.payload = payload
    }
    func writeFields(to writer: inout MessageWriter) throws {
        writer.field("sequence", sequence)
        writer.field("payload", payload)
    }
    init(fields reader: inout MessageReader) throws {
        sequence = try reader.int("sequence")
        payload = try reader.bytes("payload")
    }
}

/// The source is done: chunks 0..<count were sent.
struct Finished: Message {
    static let typeName = "link.Finished"
    var count: Int
}

/// What one side saw. `lost`: links declared lost (Abandoned or Closed before the end).
struct Report: Message {
    static let typeName = "link.Report"
    var bulkIntact = false
    var received = 0
    var gaps = 0
    var lost = 0
    var sent = 0
    var busy = 0
    /// Source, after a loss: chunks the far end never confirmed, and those sent after the loss
    /// (each told with NotDelivered).
    var unconfirmed = 0
    var notDelivered = 0
    /// Source: from sending the bulk message to the sink's word that it arrived whole.
    var bulkMilliseconds = 0.0
    /// Sink: from the first chunk to the last, as they arrived.
    var streamMilliseconds = 0.0
    /// Sink: of that, the time its handler spent on chunks (a slow consumer's own rate).
    var handleMilliseconds = 0.0
}

func say(_ line: String) { SystemAccess.writeStandardError("link-node: \(line)\n") }

Node.run(name: "link-node", settings: Settings(), input: Nothing.self) { mailbox, node in
    let settings = node.settings
    let address = try SocketAddress(parsing: settings.address)
    var report = Report()
    if settings.role == "crowd" {
        // Says `crowd up N failed F lost L` as the count moves, then holds the links until killed.
        let counts = CrowdCounts()
        _ = mailbox.create(Crowd(target: address, count: settings.count, counts: counts))
        var said = ""
        while true {
            _ = try await mailbox.select(Finish.self, timeout: .milliseconds(100))
            let line = "crowd up \(counts.up) failed \(counts.failed) lost \(counts.lost)"
            if line != said {
                say(counts.failed > 0 ? "\(line) (\(counts.lastFailure))" : line)
                said = line
            }
        }
    }
    if settings.role == "source" {
        mailbox.listen(at: address)
        _ = try await mailbox.select(Listening.self, timeout: .seconds(10))
        say("listening")
        _ = try await mailbox.select(Accepted.self, timeout: .seconds(30))
        let peer = mailbox.returnAddress
        // Built in slices, letting the loop serve the link between them: a debug build on a
        // loaded machine takes seconds over 16 MiB, longer than a peer waits for a probe answer.
        var payload: [UInt8] = []
        payload.reserveCapacity(settings.bulkBytes)
        while payload.count < settings.bulkBytes {
            for index in payload.count..<min(payload.count + 65_536, settings.bulkBytes) {
                payload.append(bulkByte(index))
            }
            await Task.yield()
        }
        let bulk = Bulk(payload: payload)
        let bulkSent = Deadline.now()
        try mailbox.send(bulk, to: peer)
        // The stream starts once the bulk message is through (the sink says so).
        guard try await mailbox.select(Ack.self, Abandoned.self, Closed.self, timeout: .seconds(120)) is Ack else {
            report.lost += 1
            return report
        }
        report.bulkMilliseconds = Double(bulkSent.nanoseconds(until: .now())) / 1e6
        say("bulk delivered")
        let chunkPayload = [UInt8](repeating: 0xA5, count: settings.chunkBytes)
        let end = Deadline.after(.nanoseconds(Int64(settings.seconds * 1e9)))
        if settings.rate > 0 {
            // Paced: a step's worth of chunks, then a look for the loss (which also waits out the step).
            var lost: Abandoned?
            while Deadline.now() < end && lost == nil {
                for _ in 0..<max(1, settings.rate / 100) {
                    do {
                        try mailbox.send(
                            Chunk(sequence: report.sent, payload: chunkPayload), to: peer, notifyIfUndelivered: true)
                        report.sent += 1
                    } catch SendRefused.linkBusy {
                        report.busy += 1
                        break
                    }
                }
                let next = try await mailbox.select(
                    Abandoned.self, Closed.self, saving: .only(NotDelivered.self, NotConfirmed.self),
                    timeout: .milliseconds(10))
                lost = next as? Abandoned
                if next is Closed { return report }
            }
            guard let lost, settings.untilLost else { return report }
            report.lost += 1
            report.unconfirmed = lost.unconfirmed.filter { $0.sender == mailbox.address }.reduce(0) { $0 + $1.count }
            // Sends after the loss came back as NotDelivered, each already queued for us.
            var confirmedByNotice = 0
            while true {
                switch try await mailbox.select(NotDelivered.self, NotConfirmed.self, timeout: .seconds(2)) {
                case is NotDelivered: report.notDelivered += 1
                case let notice as NotConfirmed: confirmedByNotice += notice.count
                default:
                    if confirmedByNotice != report.unconfirmed {
                        say("NotConfirmed said \(confirmedByNotice), Abandoned \(report.unconfirmed)")
                    }
                    return report
                }
            }
        }
        streaming: while Deadline.now() < end {
            do {
                try mailbox.send(Chunk(sequence: report.sent, payload: chunkPayload), to: peer)
                report.sent += 1
            } catch SendRefused.linkBusy {
                report.busy += 1
                switch try await mailbox.select(Writable.self, Abandoned.self, Closed.self, timeout: .seconds(30)) {
                case is Writable: continue
                default:
                    report.lost += 1
                    break streaming
                }
            }
        }
        if report.lost == 0 {
            try mailbox.send(Finished(count: report.sent), to: peer)
            switch try await mailbox.select(Report.self, Abandoned.self, Closed.self, timeout: .seconds(60)) {
            case let theirs as Report:
                report.bulkIntact = theirs.bulkIntact
                report.received = theirs.received
                report.gaps = theirs.gaps
                report.streamMilliseconds = theirs.streamMilliseconds
                report.handleMilliseconds = theirs.handleMilliseconds
                report.lost += theirs.lost
                try mailbox.reply(Ack())
            default:
                report.lost += 1
            }
        }
        return report
    }
    mailbox.connect(to: address, backoff: Backoff(initial: .milliseconds(20), maximum: .milliseconds(200)))
    _ = try await mailbox.select(Connected.self, timeout: .seconds(30))
    let source = mailbox.returnAddress
    say("connected")
    var expected = 0
    var firstChunk: Deadline? = nil
    while true {
        switch try await mailbox.select(
            Bulk.self, Chunk.self, Finished.self, Abandoned.self, Closed.self, timeout: .seconds(120))
        {
        case let bulk as Bulk:
            // Checked in slices, for the same reason it was built in slices.
            var intact = bulk.payload.count == settings.bulkBytes
            var checked = 0
            while intact && checked < bulk.payload.count {
                let end = min(checked + 65_536, bulk.payload.count)
                intact = (checked..<end).allSatisfy { bulk.payload[$0] == bulkByte($0) }
                checked = end
                await Task.yield()
            }
            report.bulkIntact = intact
            say("bulk \(bulk.payload.count) bytes")
            try mailbox.send(Ack(), to: source)
        case let chunk as Chunk:
            if settings.handleMicroseconds > 0 {
                let started = Deadline.now()
                usleep(UInt32(settings.handleMicroseconds))
                report.handleMilliseconds += Double(started.nanoseconds(until: .now())) / 1e6
            }
            if firstChunk == nil { firstChunk = .now() }
            report.streamMilliseconds = Double(firstChunk!.nanoseconds(until: .now())) / 1e6
            if chunk.sequence != expected { report.gaps += 1 }
            expected = chunk.sequence + 1
            report.received += 1
            if settings.tellEach { say("got \(report.received) gaps \(report.gaps)") }
        case let finished as Finished:
            if finished.count != expected { report.gaps += 1 }
            try mailbox.send(report, to: source)
            _ = try await mailbox.select(Ack.self, timeout: .seconds(30))
            return report
        default:
            report.lost += 1
            return report
        }
    }
}
