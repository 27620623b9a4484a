import AnsarTestKit
import Platform
import Testing

@testable import Reactor

@Suite("Datagram sockets: ordinary sockets of the loop")
struct DatagramTests {
    @Test(
        "a datagram is told as an event, taken with its sender, and the socket closes like any other",
        arguments: backends)
    func receiveOnTheLoop(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        let listener = try reactor.openDatagramSocket()
        let sender = try reactor.openDatagramSocket()
        let port = try reactor.datagramPort(of: listener)
        var recorder = Recorder()
        // Nothing waits yet: no event, and nothing to take.
        #expect(try reactor.receiveDatagram(on: listener) == nil)
        try reactor.sendDatagram([1, 2, 3], on: sender, to: "127.0.0.1", port: port)
        try reactor.sendDatagram([4, 5], on: sender, to: "127.0.0.1", port: port)
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .datagramsReadable(listener) } })
        var taken: [[UInt8]] = []
        while let (bytes, from) = try reactor.receiveDatagram(on: listener) {
            taken.append(bytes)
            #expect(from == .ipv4("127.0.0.1", port: try reactor.datagramPort(of: sender)))
        }
        if taken.count < 2 {
            // The second may come a moment after the first: the reactor tells again.
            recorder.events.removeAll()
            #expect(try spin(reactor, &recorder) { $0.has { $0 == .datagramsReadable(listener) } })
            while let (bytes, _) = try reactor.receiveDatagram(on: listener) { taken.append(bytes) }
        }
        #expect(taken == [[1, 2, 3], [4, 5]])
        // Told again for the next one: the wait re-arms itself.
        recorder.events.removeAll()
        try reactor.sendDatagram([6], on: sender, to: "127.0.0.1", port: port)
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .datagramsReadable(listener) } })
        #expect(try reactor.receiveDatagram(on: listener)?.bytes == [6])
        try reactor.close(listener)
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .closed(listener, discardedBytes: 0) } })
        #expect(throws: ReactorError.closed) { try reactor.receiveDatagram(on: listener) }
        try reactor.close(sender)
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .closed(sender, discardedBytes: 0) } })
    }

    @Test("a stream socket is not a datagram socket", arguments: backends)
    func notADatagramSocket(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        let listener = try reactor.listen(on: .ipv4("127.0.0.1", port: 0))
        #expect(throws: ReactorError.invalidState("not a datagram socket")) {
            try reactor.receiveDatagram(on: listener)
        }
    }
}
