@testable import Actors
import Reactor
import Synchronization
import Testing
import Transport

#if canImport(Glibc)
import Glibc
#endif

struct Hello: Message, Equatable {
    static let typeName = "hello_welcome.Hello"
    var name: String
}

struct Welcome: Message, Equatable {
    static let typeName = "hello_welcome.Welcome"
    var myName: String
    var yourName: String
}

struct Ping: Message, Equatable { var sequence: Int }
struct Pong: Message, Equatable { var sequence: Int }
struct Tick: Message, Equatable {}
struct Tock: Message, Equatable {}

/// A message carrying addresses, for routing tests.
struct Introduce: Message {
    var who: Address
    var others: [Address]
}

/// The result of a test object: what it saw, in order.
struct Seen: Message, Equatable {
    var events: [String]
}

/// A runtime on a fresh reactor, on the calling thread.
func makeRuntime(secret: RealmSecret = testSecret, limits: RuntimeLimits = RuntimeLimits()) throws -> Runtime {
    Runtime(reactor: try Reactor(), transport: TransportConfiguration(secret: secret), limits: limits)
}

let testSecret = RealmSecret(hex: String(repeating: "5a", count: 32))!

/// Runs a sequential main object in a runtime on its own thread (a stand-in for another process
/// that still talks over real sockets); `join` returns what it completed with.
final class RuntimeThread: @unchecked Sendable {
    private final class Result: Sendable { let value = Mutex<(any Message)?>(nil) }
    private let result = Result()
    private var thread = pthread_t()

    init(secret: RealmSecret = testSecret, limits: RuntimeLimits = RuntimeLimits(), _ body: @escaping @Sendable (Mailbox) async throws -> any Message) {
        final class Start: @unchecked Sendable {
            let run: () -> Void
            init(_ run: @escaping () -> Void) { self.run = run }
        }
        let start = Start { [result] in
            let value: any Message
            do {
                let runtime = try makeRuntime(secret: secret, limits: limits)
                value = try runtime.run(body)
            } catch {
                value = Faulted("runtime failed", explanation: "\(error)")
            }
            result.value.withLock { $0 = value }
        }
        let box = Unmanaged.passRetained(start).toOpaque()
        pthread_create(&thread, nil, { argument in
            let start = Unmanaged<AnyObject>.fromOpaque(argument!).takeRetainedValue() as! Start
            start.run()
            return nil
        }, box)
    }

    func join() -> any Message {
        pthread_join(thread, nil)
        return result.value.withLock { $0! }
    }
}

/// A unique abstract Unix socket address for one test.
func uniqueEndpoint(_ name: String) -> SocketAddress {
    try! SocketAddress(parsing: "@ansar-actors-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max))")
}
