import Actors
import Logging
import ProcessShim

/// A node to try the process shim with: it greets, optionally waits for Stop, optionally fails.
///
///     greeter --name=Gladys --input-file=visitors.json
///     greeter --wait=30 &; kill -TERM $!        # stops early, says so
///     greeter --wait=30 --threads=3 &; kill -TERM $!   # the same, beside three other runtimes
struct Settings: Codable, Sendable {
    var name = "Buster"
    /// Seconds to wait for Stop before greeting.
    var wait = 0.0
    /// Ignore Stop (a second signal then aborts).
    var stubborn = false
    /// Fail with this exit code instead of greeting (0: don't).
    var failWith = 0
    /// Runtimes on threads of their own beside the main one, each waiting for the main one to
    /// stop it: a signal to the process must reach the main one all the same.
    var threads = 0
}

struct Visitors: Codable, Sendable {
    var names: [String]
}

struct Greeting: Message {
    static let typeName = "greeter.Greeting"
    var myName: String
    var visitors: [String]
    var stopped: Bool
}

struct Nobody: Message {}

/// A helper runtime's main object is running (its loop, signals and all).
struct HelperReady: Message {}

Node.run(
    name: "greeter", about: "Greets its visitors (from the input file).", settings: Settings(), input: Visitors.self
) { mailbox, node in
    let settings = node.settings
    let logger = Logger(label: "greeter")
    if settings.failWith != 0 {
        throw Faulted("asked to fail", explanation: "--fail-with=\(settings.failWith)", exitCode: settings.failWith)
    }
    let main = mailbox.address
    let helpers = (0..<settings.threads).map { _ in
        RuntimeThread { helper in
            try helper.send(HelperReady(), to: main)
            _ = try await helper.select(Stop.self, timeout: .seconds(max(settings.wait, 1) + 5))
            return Ack()
        }
    }
    for _ in helpers { _ = try await mailbox.select(HelperReady.self, timeout: .seconds(10)) }
    defer {
        for helper in helpers {
            if let address = helper.mainAddress() { try? mailbox.send(Stop(), to: address) }
            _ = helper.wait()
        }
    }
    var stopped = false
    if settings.wait > 0 {
        logger.notice("waiting", metadata: ["seconds": "\(settings.wait)"])
        let next =
            settings.stubborn
            ? try await mailbox.select(Nobody.self, timeout: .seconds(settings.wait))
            : try await mailbox.select(Stop.self, timeout: .seconds(settings.wait))
        stopped = next is Stop
    }
    return Greeting(myName: settings.name, visitors: node.input?.names ?? [], stopped: stopped)
}
