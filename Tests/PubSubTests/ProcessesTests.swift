import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Every process of these tests holds the same realm secret, as a home's processes would.
let realm = ["ANSAR_REALM_SECRET": String(repeating: "7e", count: 32)]

/// A group directory process; `stop()` ends it.
func startGroup() throws -> (address: String, directory: Subprocess) {
    let address = "@ansar-pubsub-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let directory = try Subprocess("pubsub-node", ["--role=directory", "--group-address=\(address)", "--debug-level=NOTICE"], environment: realm)
    return (address, directory)
}

func node(_ arguments: [String], group: String) throws -> Subprocess {
    try Subprocess("pubsub-node", arguments + ["--group-address=\(group)", "--debug-level=NOTICE"], environment: realm)
}

@Suite("Publish and subscribe between real processes of a group")
struct ProcessesTests {
    @Test("a publisher killed with SIGKILL is Dropped; a restarted one is Available again, without polling")
    func killedAndRestarted() throws {
        let (group, directory) = try startGroup()
        defer {
            directory.signal(SIGTERM)
            _ = directory.wait()
        }
        #expect(directory.waitForError(containing: "directory up"))
        let first = try node(["--role=publisher", "--me=first"], group: group)
        let subscriber = try node(["--role=subscriber", "--me=sub", "--sessions=2", "--pure-object"], group: group)
        #expect(subscriber.waitForError(containing: "welcomed"))
        first.signal(SIGKILL)
        #expect(first.wait() == 128 + SIGKILL)
        #expect(subscriber.waitForError(containing: "dropped"))
        let second = try node(["--role=publisher", "--me=second"], group: group)
        #expect(subscriber.wait() == 0)
        #expect(subscriber.output == #"{"type":"pubsub_node.Seen","value":{"events":["available","first to sub","dropped","available","second to sub"]}}"# + "\n")
        second.signal(SIGTERM)
        #expect(second.wait() == 0)
    }

    @Test("a frozen publisher (SIGSTOP) is Dropped once the keep-alive gives up on it")
    func frozen() throws {
        let (group, directory) = try startGroup()
        defer {
            directory.signal(SIGTERM)
            _ = directory.wait()
        }
        #expect(directory.waitForError(containing: "directory up"))
        let publisher = try node(["--role=publisher", "--me=frozen"], group: group)
        let subscriber = try node(["--role=subscriber", "--me=sub", "--sessions=2"], group: group)
        #expect(subscriber.waitForError(containing: "welcomed"))
        publisher.signal(SIGSTOP)
        #expect(subscriber.waitForError(containing: "dropped", seconds: 10))
        #expect(subscriber.errors.contains("process lost") || subscriber.errors.contains("publisher gone"))
        publisher.signal(SIGKILL)
        publisher.signal(SIGCONT)
        _ = publisher.wait()
        subscriber.signal(SIGTERM)
        #expect(subscriber.wait() == 0)
    }
}
