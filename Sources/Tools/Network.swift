import Actors
import ArgumentParser
import Logging
import PubSub
import Reactor
import Transport

/// The running group's directory address and the home's realm, for commands that join the group.
func runningGroupAddress(_ home: Home) throws(ToolError) -> (SocketAddress, TransportConfiguration) {
    guard let state = home.runningGroup(), case .string(let text)? = state["group"], let address = try? SocketAddress(parsing: text) else {
        throw ToolError("no group is running in \(home.path): `ansar start` it first")
    }
    return (address, TransportConfiguration(secret: try home.secret()))
}

/// Runs `body` as the main object of a runtime in the home's realm; its value.
func joinGroup(
    _ transport: TransportConfiguration, group: SocketAddress? = nil, _ body: @escaping @Sendable (Mailbox) async throws -> any Message
) throws(ToolError) -> any Message {
    do {
        let runtime = Runtime(reactor: try Reactor(), transport: transport)
        runtime.groupAddress = group
        return try runtime.run(body)
    } catch {
        throw ToolError("cannot reach the group: \(error)")
    }
}

struct Network: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the running group's directory: its address, its parent, what it lists and searches.",
        discussion: "Example: ansar network --json")
    @OptionGroup var home: HomeOption
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        try perform { () throws(ToolError) in
            let (group, transport) = try runningGroupAddress(try Home.open(home.homePath))
            let answer = try joinGroup(transport) { mailbox in
                mailbox.connect(to: group)
                guard try await mailbox.select(Connected.self, NotConnected.self, timeout: .seconds(5)) is Connected else {
                    return Faulted("cannot connect to the group directory at \(group)")
                }
                return try await mailbox.ask(NetworkEnquiry(), to: mailbox.returnAddress, expecting: NetworkReport.self, timeout: .seconds(5))
            }
            guard let report = answer as? NetworkReport else { throw ToolError("the group directory did not answer: \(Printing.human(answer))") }
            if json {
                print(Printing.json(report).description)
                return
            }
            // The lineage, this group's directory first, one indent per level up.
            for (depth, level) in ([report] + report.above).enumerated() {
                let indent = String(repeating: "  ", count: depth)
                print("\(indent)+ \(level.scope) \(level.address)")
                if let parent = level.parent, !level.parentLinked { print("\(indent)  parent \(parent) (not linked)") }
                print("\(indent)  links \(level.members), sessions \(level.sessions)")
                for listing in level.listings { print("\(indent)  listing \(listing)") }
                for search in level.searches { print("\(indent)  search \(search)") }
            }
        }
    }
}

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look for a service by name in the running group; say whether and how fast it was found.",
        discussion: "Exit status 1 if it is not found within the time. Example: ansar ping hello-welcome")
    @OptionGroup var home: HomeOption
    @Argument(help: "The service's name.") var name: String
    @Option(help: "Seconds to look for it.") var seconds = 2.0

    func run() throws {
        try perform { () throws(ToolError) in
            let (group, transport) = try runningGroupAddress(try Home.open(home.homePath))
            let name = self.name
            let seconds = self.seconds
            let answer = try joinGroup(transport, group: group) { mailbox in
                let started = Deadline.now()
                mailbox.subscribe(name, scope: .group)
                let found = try await mailbox.select(Available.self, NotSubscribed.self, timeout: .nanoseconds(Int64(seconds * 1e9)))
                switch found {
                case is Available: return PingFound(milliseconds: Double(started.nanoseconds(until: .now())) / 1e6)
                case let refused as NotSubscribed: return Faulted(refused.reason)
                default: return Faulted("service \(name) not found within \(seconds) s")
                }
            }
            guard let found = answer as? PingFound else { throw ToolError((answer as? Faulted)?.description ?? Printing.human(answer)) }
            print("\(name): found in \(String(format1: found.milliseconds)) ms")
        }
    }
}

/// What `ping` completes with when it finds the service.
struct PingFound: Message {
    static let typeName = "ansar.tools.PingFound"
    var milliseconds: Double
}

struct HostDirectory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "directory",
        abstract: "Run the machine's HOST directory: the groups that link to it (`--host`) see each other's HOST-scope services.",
        discussion: "In the foreground until Ctrl-C, or with --background until `ansar directory --stop`. Example: ansar directory --background")
    @OptionGroup var home: HomeOption
    @Option(help: "Where it listens.") var address = GroupDirectory.hostAddress.description
    @Flag(help: "Run in the background; return once it listens.") var background = false
    @Flag(help: "Stop the directory running in the background.") var stop = false

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            let state = "\(home.path)/tmp/directory.json"
            if stop {
                guard let json = try? JSON(objectAt: state), case .integer(let pid)? = json["pid"], ChildProcess.isAlive(Int32(pid)) else {
                    throw ToolError("no directory is running from \(home.path)")
                }
                ChildProcess.signal(Int32(pid), SIGTERM)
                return
            }
            guard let listen = try? SocketAddress(parsing: address) else { throw ToolError("invalid address \(address): use host:port, /path or @name") }
            if background {
                guard let ansar = ChildProcess.currentExecutable() else { throw ToolError("cannot find the ansar executable") }
                ChildProcess.remove(state)
                let log = "\(home.path)/logs/directory.log"
                do {
                    _ = try ChildProcess.spawn(
                        ansar, arguments: ["directory", "--home-path=\(home.path)", "--address=\(address)"], environment: ChildProcess.currentEnvironment(),
                        stdout: log, stderr: log, detached: true)
                } catch {
                    throw ToolError("cannot start the directory: \(error)")
                }
                let deadline = Deadline.after(.seconds(10))
                while Deadline.now() < deadline {
                    if SystemAccess.exists(state) { return }
                    usleep(2_000)
                }
                throw ToolError("the directory did not come up within 10 s: see \(log)")
            }
            let secret = try home.secret()
            LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
            _ = try joinGroup(TransportConfiguration(secret: secret)) { mailbox in
                mailbox.create(GroupDirectory(listening: listen, scope: .host) { bound in
                    let json = JSON.object([("pid", .integer(Int64(ChildProcess.currentProcessID()))), ("address", .string(bound))])
                    try? json.store(at: state)
                })
                _ = try await mailbox.select(Stop.self)
                ChildProcess.remove(state)
                return Ack()
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
