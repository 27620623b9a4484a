import AnsarTestKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every process of these tests holds the same realm secret, as a home's processes would.
let realm = ["ANSAR_REALM_SECRET": String(repeating: "7e", count: 32)]

func uniqueAbstract(_ what: String) -> String { "@ansar-\(what)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }

/// A directory process (a group's, or with `role: "host"` a host's), listening at `address`.
func startDirectory(at address: String, role: String = "directory", host: String? = nil) throws -> Subprocess {
    let parent = host.map { ["--host=\($0)"] } ?? []
    return try Subprocess(
        "pubsub-node", ["--role=\(role)", "--group-address=\(address)", "--debug-level=NOTICE"] + parent,
        environment: realm)
}

/// A group directory process at a fresh address, once it is up.
func startGroup() throws -> (address: String, directory: Subprocess) {
    let address = uniqueAbstract("group")
    let directory = try startDirectory(at: address)
    #expect(directory.waitForError(containing: "directory up"))
    return (address, directory)
}

func stop(_ process: Subprocess) {
    process.signal(SIGTERM)
    _ = process.wait()
}

func node(_ arguments: [String], group: String) throws -> Subprocess {
    try Subprocess("pubsub-node", arguments + ["--group-address=\(group)", "--debug-level=NOTICE"], environment: realm)
}

/// A host directory process and two group directories linked to it.
struct HostWithTwoGroups {
    let hostAddress = uniqueAbstract("host")
    let groupA = uniqueAbstract("group-a")
    let groupB = uniqueAbstract("group-b")
    var host: Subprocess
    let directories: [Subprocess]

    init() throws {
        host = try startDirectory(at: hostAddress, role: "host")
        directories = [
            try startDirectory(at: groupA, host: hostAddress), try startDirectory(at: groupB, host: hostAddress),
        ]
        #expect(host.waitForError(containing: "directory up"))
    }

    func stopAll() {
        stop(host)
        directories.forEach(stop)
    }
}

@Suite("Publish and subscribe between real processes of a group")
struct ProcessesTests {
    @Test("a publisher killed with SIGKILL is Dropped; a restarted one is Available again, without polling")
    func killedAndRestarted() throws {
        let (group, directory) = try startGroup()
        defer { stop(directory) }
        let first = try node(["--role=publisher", "--me=first"], group: group)
        let subscriber = try node(["--role=subscriber", "--me=sub", "--sessions=2", "--pure-object"], group: group)
        #expect(subscriber.waitForError(containing: "welcomed"))
        first.signal(SIGKILL)
        #expect(first.wait() == 128 + SIGKILL)
        #expect(subscriber.waitForError(containing: "dropped"))
        let second = try node(["--role=publisher", "--me=second"], group: group)
        #expect(subscriber.wait() == 0)
        #expect(
            subscriber.output
                == #"{"type":"pubsub_node.Seen","value":{"events":["available","first to sub","dropped","available","second to sub"]}}"#
                + "\n")
        second.signal(SIGTERM)
        #expect(second.wait() == 0)
    }

    @Test("a killed process's listings leave the group directory: a later subscriber is offered only live publishers")
    func deadListingsLeave() throws {
        let (group, directory) = try startGroup()
        defer { stop(directory) }
        let dead = try node(["--role=publisher", "--me=dead"], group: group)
        #expect(dead.waitForError(containing: "published"))
        usleep(100_000) // its listing reaches the directory
        dead.signal(SIGKILL)
        _ = dead.wait()
        let live = try node(["--role=publisher", "--me=live"], group: group)
        #expect(live.waitForError(containing: "published"))
        usleep(100_000)
        // A dead listing would be offered too, and end the subscriber with NotAvailable.
        let subscriber = try node(
            ["--role=subscriber", "--me=sub", "--sessions=2", "--endWhenNotAvailable=true", "--pure-object"],
            group: group)
        #expect(subscriber.waitForError(containing: "welcomed"))
        usleep(300_000)
        subscriber.signal(SIGTERM)
        #expect(subscriber.wait() == 0)
        #expect(
            subscriber.output == #"{"type":"pubsub_node.Seen","value":{"events":["available","live to sub"]}}"# + "\n")
        stop(live)
    }

    @Test("subscribers that end cleanly, right after their Welcome, log no warning")
    func cleanExitIsQuiet() throws {
        let (group, directory) = try startGroup()
        defer { stop(directory) }
        // Several publishers: Available for the others still arrives while a subscriber ends.
        let publishers = try (0..<3).map { try node(["--role=publisher", "--me=pub\($0)"], group: group) }
        defer { publishers.forEach(stop) }
        for publisher in publishers { #expect(publisher.waitForError(containing: "published")) }
        let subscribers = try (0..<50).map {
            try node(["--role=subscriber", "--me=sub\($0)", "--sessions=1"], group: group)
        }
        for subscriber in subscribers {
            #expect(subscriber.wait() == 0)
            #expect(subscriber.errors.contains("welcomed"))
            let warnings = subscriber.errors.split(separator: "\n").filter {
                $0.contains(" warning ") || $0.contains(" error ")
            }
            #expect(warnings.isEmpty, "\(warnings)")
        }
    }

    @Test("a frozen publisher (SIGSTOP) is Dropped once the keep-alive gives up on it")
    func frozen() throws {
        let (group, directory) = try startGroup()
        defer { stop(directory) }
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

    @Test(
        "two groups on one host: a subscriber in one finds a HOST-scope publisher in the other through the host directory"
    )
    func twoGroupsOneHost() throws {
        let machine = try HostWithTwoGroups()
        defer { machine.stopAll() }
        let (groupA, groupB) = (machine.groupA, machine.groupB)
        let publisher = try node(["--role=publisher", "--me=a", "--scope=host"], group: groupA)
        let groupOnly = try node(["--role=publisher", "--me=a-group-only", "--name=local"], group: groupA)
        let subscriber = try node(["--role=subscriber", "--me=b", "--scope=host", "--pure-object"], group: groupB)
        let localSearch = try node(["--role=subscriber", "--me=b", "--name=local"], group: groupB)
        #expect(subscriber.wait() == 0)
        #expect(subscriber.output == #"{"type":"pubsub_node.Seen","value":{"events":["available","a to b"]}}"# + "\n")
        #expect(localSearch.waitForError(containing: "subscribed"))
        #expect(!localSearch.errors.contains("welcomed"), "a GROUP-scope listing stays in its group")
        for process in [publisher, groupOnly, localSearch] { stop(process) }
    }

    @Test("a group directory that restarts is re-filled by its members; running sessions carry on")
    func directoryRestarts() throws {
        let address = uniqueAbstract("group")
        var directory = try startDirectory(at: address)
        #expect(directory.waitForError(containing: "directory up"))
        let publisher = try node(["--role=publisher", "--me=p"], group: address)
        let first = try node(["--role=subscriber", "--me=first", "--sessions=2"], group: address)
        #expect(first.waitForError(containing: "welcomed"))
        directory.signal(SIGKILL)
        _ = directory.wait()
        directory = try startDirectory(at: address)
        defer { stop(directory) }
        let second = try node(["--role=subscriber", "--me=second", "--pure-object"], group: address)
        #expect(second.wait() == 0)
        #expect(second.output == #"{"type":"pubsub_node.Seen","value":{"events":["available","p to second"]}}"# + "\n")
        #expect(!first.errors.contains("dropped"), "the first session did not depend on the directory")
        stop(first)
        stop(publisher)
    }

    @Test("a process of another realm is refused by the directory: its listing is never offered")
    func otherRealm() throws {
        let (group, directory) = try startGroup()
        defer { stop(directory) }
        let stranger = try Subprocess(
            "pubsub-node", ["--role=publisher", "--me=stranger", "--group-address=\(group)", "--debug-level=NOTICE"],
            environment: ["ANSAR_REALM_SECRET": String(repeating: "11", count: 32)])
        #expect(stranger.waitForError(containing: "published")) // listed in its own process only
        let member = try node(["--role=publisher", "--me=member"], group: group)
        let subscriber = try node(["--role=subscriber", "--me=sub", "--pure-object"], group: group)
        #expect(subscriber.wait() == 0)
        #expect(
            subscriber.output == #"{"type":"pubsub_node.Seen","value":{"events":["available","member to sub"]}}"# + "\n"
        )
        stop(stranger)
        stop(member)
    }

    @Test("a restarted subscriber finds the publisher again; a restarted host directory is re-filled by the groups")
    func subscriberAndHostRestart() throws {
        var machine = try HostWithTwoGroups()
        defer { machine.stopAll() }
        let (groupA, groupB) = (machine.groupA, machine.groupB)
        let publisher = try node(["--role=publisher", "--me=a", "--scope=host"], group: groupA)
        let once = try node(["--role=subscriber", "--me=once", "--scope=host"], group: groupB)
        once.signal(SIGKILL) // whatever it had, it is gone
        _ = once.wait()
        let again = try node(["--role=subscriber", "--me=again", "--scope=host", "--pure-object"], group: groupB)
        #expect(again.wait() == 0)
        #expect(again.output == #"{"type":"pubsub_node.Seen","value":{"events":["available","a to again"]}}"# + "\n")
        machine.host.signal(SIGKILL)
        _ = machine.host.wait()
        machine.host = try startDirectory(at: machine.hostAddress, role: "host")
        let afterRestart = try node(
            ["--role=subscriber", "--me=later", "--scope=host", "--pure-object"], group: groupB)
        #expect(afterRestart.wait() == 0)
        #expect(
            afterRestart.output == #"{"type":"pubsub_node.Seen","value":{"events":["available","a to later"]}}"# + "\n")
        stop(publisher)
    }
}
