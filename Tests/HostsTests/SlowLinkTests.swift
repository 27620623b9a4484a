import AnsarTestKit
import Reactor
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Liveness and delivery over a link slower than the transport's records: two namespaced hosts on
/// one LAN whose interfaces send at 10 Mbit/s (`tc … tbf`), the `link-node` source on one and its
/// sink on the other.
@Suite(
    "Slow links across namespaced hosts", .serialized,
    .enabled(if: TestNetwork.available, "needs root, iproute2 and network namespaces with bridges and veth"))
struct SlowLinkTests {
    @Test(
        "over 10 Mbit/s: a 16 MiB message arrives intact, then 20 s of a saturating 1 KiB stream — no link lost, no gap"
    )
    func shapedLink() throws {
        let network = try TestNetwork()
        defer { network.tearDown() }
        let (a, b) = try network.addShapedPair(rate: "10mbit")
        let secret = ["ANSAR_REALM_SECRET": String(repeating: "5d", count: 32)]
        let source = try a.start(
            "link-node", ["--role=source", "--address=198.18.1.1:4100", "--seconds=20", "--pure-object"],
            environment: secret)
        #expect(source.waitForError(containing: "listening"))
        let sink = try b.start(
            "link-node", ["--role=sink", "--address=198.18.1.1:4100", "--pure-object"], environment: secret)
        // 16 MiB alone needs ~14 s at 10 Mbit/s; then 20 s of stream.
        defer { print("slow link: \(source.output)") }
        #expect(source.wait(seconds: 180) == 0, "\(source.errors)")
        #expect(sink.wait(seconds: 60) == 0, "\(sink.errors)")
        let report = source.output
        #expect(report.contains(#""bulkIntact":true"#), "\(report)")
        #expect(report.contains(#""lost":0"#), "no link declared lost on either side: \(report)")
        #expect(report.contains(#""gaps":0"#), "\(report)")
        let sent = Int(jsonNumber("sent", in: report) ?? -1), received = Int(jsonNumber("received", in: report) ?? -1)
        #expect(sent > 1000 && received == sent, "every sequence number arrives: \(report)")
        #expect(
            Int(jsonNumber("busy", in: report) ?? -1) > 0,
            "the stream saturated the link (the source was held back): \(report)")
        #expect(!source.errors.contains("peer silent") && !sink.errors.contains("peer silent"))
    }
}
