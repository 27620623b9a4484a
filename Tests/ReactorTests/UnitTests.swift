import CTestSupport
import InMemoryLogging
import Logging
import Testing

@testable import Reactor

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Pieces without sockets")
struct UnitTests {
    @Test("user data packs kind, 24-bit generation and slot, and rejects unknown kinds")
    func userData() {
        let data = UserData(kind: .receive, slot: 0xDEAD_BEEF, generation: 0x1234_5678)
        let unpacked = UserData(packed: data.packed)
        #expect(unpacked == UserData(kind: .receive, slot: 0xDEAD_BEEF, generation: 0x34_5678))
        #expect(UserData(packed: 0) == nil, "kind 0 is never issued")
        #expect(UserData(packed: UInt64(0xFF) << 56) == nil)
        let old = UserData(kind: .send, slot: 7, generation: 1)
        let new = UserData(kind: .send, slot: 7, generation: 2)
        #expect(old.packed != new.packed, "a reused slot gets different user data")
    }

    @Test(
        "addresses parse, round-trip through sockaddr, and bad ones say why",
        arguments: ["127.0.0.1:80", "[::1]:443", "/run/ansar.sock", "@ansar-abstract", "10.1.2.3:0"])
    func addressRoundTrip(text: String) throws {
        let address = try SocketAddress(parsing: text)
        #expect(address.description == text)
        let storage = try SocketAddress.Storage(address)
        #expect(storage.address() == address)
    }

    @Test(
        "malformed addresses are refused with the text in the error",
        arguments: ["nonsense", "1.2.3.4", "1.2.3.4:99999", "300.1.1.1:80", "[::zz]:1", "@", "host:port"])
    func badAddress(text: String) {
        #expect {
            try SocketAddress(parsing: text)
        } throws: { error in
            guard case .invalidAddress(let why) = error as? ReactorError else { return false }
            return why.contains(text.hasPrefix("@") ? "@" : text.split(separator: ":").first.map(String.init) ?? text)
        }
    }

    @Test("a Unix path longer than sun_path is refused")
    func longPath() {
        let path = "/tmp/" + String(repeating: "x", count: 200)
        #expect(throws: ReactorError.self) { try SocketAddress.Storage(.unix(path: path)) }
    }

    @Test("send queues: all-or-nothing append, gather, partial consume, per-socket and pool limits")
    func sendQueues() throws {
        var limits = Limits()
        limits.sockets = 2
        limits.sendChunks = 4
        limits.sendChunkSize = 64
        limits.sendQueueBytesPerSocket = 200
        var queues = SendQueues(limits: limits)
        defer { queues.deallocate() }
        let data = pattern(150)
        try queues.append(data.span, to: 0)
        #expect(queues.bytes(of: 0) == 150)
        #expect(throws: ReactorError.limitReached(.sendQueueBytes)) { try queues.append(pattern(60).span, to: 0) }
        #expect(queues.bytes(of: 0) == 150, "a refused append adds nothing")
        #expect(throws: ReactorError.limitReached(.sendChunks)) { try queues.append(pattern(100).span, to: 1) }
        #expect(queues.capacity(of: 1) == 64)
        let iovecs = UnsafeMutablePointer<iovec>.allocate(capacity: limits.chunksPerSocket)
        defer { iovecs.deallocate() }
        func gathered() -> [UInt8] {
            let count = queues.gather(0, into: iovecs)
            return (0..<count).flatMap { index in
                Array(UnsafeRawBufferPointer(start: iovecs[index].iov_base, count: iovecs[index].iov_len))
            }
        }
        #expect(gathered() == data)
        queues.consume(70, from: 0)
        #expect(gathered() == Array(data[70...]))
        try queues.append(pattern(10).span, to: 1)
        queues.consume(80, from: 0)
        #expect(queues.bytes(of: 0) == 0)
        #expect(queues.capacity(of: 0) == 192, "all chunks but the one socket 1 holds are back in the pool")
        #expect(queues.discard(1) == 10)
    }

    @Test("bad limits are refused at init")
    func badLimits() {
        var limits = Limits()
        limits.receiveBuffers = 100
        #expect(throws: ReactorError.self) { try Reactor(limits: limits) }
    }

    @Test("ANSAR_REACTOR forces a backend and rejects unknown values")
    func backendChoice() async {
        await #expect(processExitsWith: .success) {
            setenv("ANSAR_REACTOR", "epoll", 1)
            guard (try? Reactor())?.backendKind == .epoll else { exit(2) }
            setenv("ANSAR_REACTOR", "uring", 1)
            guard (try? Reactor())?.backendKind == .uring else { exit(3) }
            setenv("ANSAR_REACTOR", "kqueue", 1)
            do {
                _ = try Reactor()
                exit(4)
            } catch {
                guard case .unavailable(let why) = error as? ReactorError, why.contains("kqueue") else { exit(5) }
            }
            exit(0)
        }
    }

    @Test("io_uring blocked by seccomp, as in a container: automatic falls back to epoll and says why")
    func seccompFallback() async {
        await #expect(processExitsWith: .success) {
            guard ctest_deny_io_uring_setup() == 0 else { exit(2) }
            let log = InMemoryLogHandler()
            let logger = Logger(label: "test") { _ in log }
            guard let reactor = try? Reactor(backend: .automatic, logger: logger), reactor.backendKind == .epoll else {
                exit(3)
            }
            let said = log.entries.contains { entry in
                entry.level == .notice && entry.message.description.contains("using epoll")
                    && entry.metadata["reason"]?.description.contains("Operation not permitted") == true
            }
            guard said else { exit(4) }
            do {
                _ = try Reactor(backend: .uring)
                exit(5)
            } catch {
                guard case .unavailable = error as? ReactorError else { exit(6) }
            }
            exit(0)
        }
    }
}
