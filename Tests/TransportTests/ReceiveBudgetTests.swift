import AnsarTestKit
import Platform
import Reactor
import Testing

@testable import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// Unfinished frames are bounded over all connections, not only one by one.
@Suite("The transport's receive budget")
struct ReceiveBudgetTests {
    /// Sends `bytes` through `peer`'s socket as far as it takes them, running `bench` when full.
    static func send(_ bytes: [UInt8], from peer: RawPeer, to bench: Bench) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                Glibc.send(peer.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
            }
            if n > 0 { offset += n } else { try bench.spin(within: .milliseconds(5)) { _ in false } }
        }
    }

    /// Records of at most 64 KiB carrying a frame of `length` body bytes, cut after `sent` of them.
    static func partialFrame(_ length: Int, sent: Int, through peer: RawPeer) -> [UInt8] {
        var plain: [UInt8] = []
        FrameHeader(typeID: 9, bodyLength: length).write(into: &plain)
        plain += [UInt8](repeating: 0x5A, count: sent)
        return stride(from: 0, to: plain.count, by: 64 << 10).flatMap { start in
            peer.record(Array(plain[start..<min(plain.count, start + (64 << 10))]))
        }
    }

    @Test(
        "two members each holding part of a large frame: past the budget the larger holder goes; the other finishes its frame"
    )
    func largestHolderGoes() throws {
        let server = try Bench(.epoll) { $0.receiveMemory = 3 << 20 }
        let port = try #require(try server.listen().port)
        let (big, small) = (try RawPeer(port: port), try RawPeer(port: port))
        #expect(try big.handshake(secret: Bench.realm, bench: server))
        #expect(try small.handshake(secret: Bench.realm, bench: server))
        try Self.send(Self.partialFrame(8 << 20, sent: 2 << 20, through: big), from: big, to: server)
        #expect(try server.spin { _ in server.connections.receiveHeld >= 2 << 20 }, "the server holds the first part")
        let length = 3 << 19 // 1.5 MiB: the two together are over the budget
        try Self.send(Self.partialFrame(length + 16, sent: length, through: small), from: small, to: server)
        #expect(try big.closedByPeer(bench: server), "the larger holder is let go")
        #expect(
            server.recorder.has {
                if case .abandoned(_, .receiveMemoryFull) = $0 {
                    true
                } else if case .closed(_, .receiveMemoryFull) = $0 {
                    true
                } else {
                    false
                }
            })
        try Self.send(small.record([UInt8](repeating: 0x5A, count: 16)), from: small, to: server)
        #expect(try server.spin { $0.frames.contains { $0.1.typeID == 9 && $0.2.count == length + 16 } })
        #expect(server.connections.receiveHeld == 0)
    }
}
