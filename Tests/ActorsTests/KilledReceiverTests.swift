import AnsarTestKit
import Reactor
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A receiver killed in the middle of a stream, as real processes (`link-node`).
@Suite("A killed receiver: every message accounted for")
struct KilledReceiverTests {
    @Test(
        "SIGKILL of a receiver mid-stream (50 k msg/s): the sender's count of what was not confirmed covers sent − received, and nothing confirmed went missing"
    )
    func killedMidStream() throws {
        let (source, sink) = try startLinkNodes(
            "killed-receiver",
            source: [
                "--seconds=120", "--bulk-bytes=16", "--chunk-bytes=64", "--rate=50000", "--until-lost", "--pure-object",
            ],
            sink: ["--bulk-bytes=16", "--tell-each"])
        #expect(sink.waitForError(containing: "got 20000 ", seconds: 120), "the stream is under way")
        sink.signal(SIGKILL)
        _ = sink.wait(seconds: 30)
        #expect(source.wait(seconds: 120) == 0, "\(source.errors)")
        // What the sink had taken when it died: its last whole line.
        let lines = sink.errors.split(separator: "\n").filter { $0.hasPrefix("link-node: got ") }
        let last = lines.last.map { $0.split(separator: " ") } ?? []
        let received = last.count == 5 ? Int(last[2]) ?? -1 : -1
        #expect(last.count == 5 && last[4] == "0", "no gap before the kill: \(lines.last ?? "nothing")")
        let report = source.output
        let sent = Int(jsonNumber("sent", in: report) ?? -1)
        let unconfirmed = Int(jsonNumber("unconfirmed", in: report) ?? -1)
        let notDelivered = Int(jsonNumber("notDelivered", in: report) ?? -1)
        #expect(report.contains(#""lost":1"#), "the loss was seen: \(report)")
        #expect(!source.errors.contains("NotConfirmed said"), "NotConfirmed and Abandoned agree: \(source.errors)")
        let confirmed = sent - unconfirmed - notDelivered
        #expect(received >= 20_000 && sent >= received, "sent \(sent), received \(received)")
        #expect(
            confirmed <= received,
            "nothing confirmed went missing: confirmed \(confirmed), received \(received), \(report)")
        // What was taken but not yet confirmed when the sink died: at most its window for us.
        #expect(
            received - confirmed <= 4_096, "the gap is the last unconfirmed window: \(received - confirmed), \(report)")
        #expect(unconfirmed > 0 || notDelivered > 0, "the sender heard of the loss: \(report)")
    }
}
