import AnsarTestKit
import Platform
import Reactor
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A consumer slower than its producer, as real processes over a Unix socket (`link-node`).
@Suite("A slow consumer is slowed, never dropped")
struct SlowConsumerTests {
    @Test(
        "a sink taking 1 ms a message while its source floods for 30 s: no link lost, no gap, the source held back by linkBusy/Writable, memory flat"
    )
    func slowConsumer() throws {
        let (source, sink) = try startLinkNodes(
            "slow-consumer", source: ["--seconds=30", "--bulk-bytes=1024", "--pure-object"],
            sink: ["--bulk-bytes=1024", "--handle-microseconds=1000", "--pure-object"])
        // Memory, sampled while the flood lasts (a measurement, not a wait for anything): each
        // process's largest footprint in the first third against the rest.
        var early = (source: 0, sink: 0), late = (source: 0, sink: 0)
        let started = Deadline.now()
        while let sourceKiB = source.residentKiB, let sinkKiB = sink.residentKiB {
            let elapsed = Double(started.nanoseconds(until: .now())) / 1e9
            if elapsed < 10 {
                early = (max(early.source, sourceKiB), max(early.sink, sinkKiB))
            } else {
                late = (max(late.source, sourceKiB), max(late.sink, sinkKiB))
            }
            if elapsed > 300 { break }
            usleep(250_000)
        }
        #expect(source.wait(seconds: 300) == 0, "\(source.errors)")
        #expect(sink.wait(seconds: 60) == 0, "\(sink.errors)")
        let report = source.output
        #expect(report.contains(#""lost":0"#), "no link declared lost on either side: \(report)")
        #expect(report.contains(#""gaps":0"#), "\(report)")
        #expect(report.contains(#""bulkIntact":true"#), "\(report)")
        let sent = Int(jsonNumber("sent", in: report) ?? -1), received = Int(jsonNumber("received", in: report) ?? -1),
            busy = Int(jsonNumber("busy", in: report) ?? -1)
        #expect(sent > 1000 && received == sent, "every message arrives: \(report)")
        #expect(busy > 0, "the source was held back: \(report)")
        #expect(!source.errors.contains("peer silent") && !sink.errors.contains("peer silent"))
        // Held back by credit, neither side's queues grow with the flood: memory plateaus.
        #expect(
            late.source <= early.source + 32 * 1024,
            "source \(early.source) KiB in the first 10 s, \(late.source) KiB later")
        #expect(late.sink <= early.sink + 32 * 1024, "sink \(early.sink) KiB in the first 10 s, \(late.sink) KiB later")
        #expect(early.source > 0 && late.sink > 0, "sampled")
    }
}
