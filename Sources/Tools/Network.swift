import ArgumentParser
import Logging
import Platform
import ProcessShim

#if canImport(Glibc)
    import Glibc
#endif

/// The running group's directory address and the home's realm, for commands that join the group.
func runningGroupAddress(_ home: Home) throws(ToolError) -> (SocketAddress, RealmSecret) {
    guard let state = home.runningGroup(), case .string(let text)? = state["group"],
        let address = try? SocketAddress(parsing: text)
    else {
        throw ToolError("no group is running in \(home.path): `ansar start` it first")
    }
    return (address, try home.secret())
}

/// Runs `body` as the main object of a runtime in the home's realm; its value.
func joinGroup(
    _ secret: RealmSecret, tuning: Tuning = Tuning(), group: SocketAddress? = nil, signals: [Int32] = [],
    _ body: @escaping @Sendable (Mailbox) async throws -> any Message
) throws(ToolError) -> any Message {
    do {
        let runtime = try tuning.makeRuntime(secret: secret)
        runtime.pubSub.groupAddress = group
        runtime.extraSignals = signals
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
            let (group, secret) = try runningGroupAddress(try Home.open(home.homePath))
            let answer = try joinGroup(secret) { mailbox in
                mailbox.connect(to: group)
                guard try await mailbox.select(Connected.self, NotConnected.self, timeout: .seconds(5)) is Connected
                else {
                    return Faulted("cannot connect to the group directory at \(group)")
                }
                return try await mailbox.ask(
                    NetworkEnquiry(), to: mailbox.returnAddress, expecting: NetworkReport.self, timeout: .seconds(5))
            }
            guard let report = answer as? NetworkReport else {
                throw ToolError("the group directory did not answer: \(Printing.human(answer))")
            }
            if json {
                print(Printing.json(report).description)
                return
            }
            // The lineage, this group's directory first, one indent per level up; each level says
            // where it listens and where it reaches its parent.
            for (depth, level) in ([report] + report.above).enumerated() {
                let indent = String(repeating: "  ", count: depth)
                print("\(indent)+ \(level.scope) \(level.address)")
                if let parent = level.parent {
                    print("\(indent)  parent \(parent)\(level.parentLinked ? "" : " (not linked)")")
                }
                if let relay = level.relay { print("\(indent)  relay \(relay)") }
                if level.lanDirectoriesHeard.count > 1, let winner = level.lanDirectoriesHeard.first {
                    print(
                        "\(indent)  split brain: LAN directories \(level.lanDirectoriesHeard.joined(separator: ", ")) "
                            + "of this realm heard; \(winner) wins (lowest address)")
                }
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
    @Option(help: "How far to look: group, host, lan or wan (the group must be linked that far: `ansar start --host`).")
    var scope = "group"
    @Flag(help: "Print the answer as JSON: name, milliseconds.") var json = false

    func run() throws {
        try perform { () throws(ToolError) in
            guard let scope = Scope(named: scope), scope >= .group else {
                throw ToolError("unknown scope \(self.scope): use group, host, lan or wan")
            }
            let (group, secret) = try runningGroupAddress(try Home.open(home.homePath))
            let name = self.name
            let search: Search
            do {
                search = try Search(parsing: name)
            } catch {
                throw ToolError("\(error)")
            }
            let seconds = self.seconds
            let answer = try joinGroup(secret, group: group) { mailbox in
                let started = Deadline.now()
                mailbox.subscribe(search, scope: scope)
                let found = try await mailbox.select(
                    Available.self, NotSubscribed.self, timeout: .nanoseconds(Int64(seconds * 1e9)))
                switch found {
                case is Available: return PingFound(milliseconds: Double(started.nanoseconds(until: .now())) / 1e6)
                case let refused as NotSubscribed: return Faulted(refused.reason)
                default: return Faulted("service \(name) not found within \(seconds) s")
                }
            }
            guard let found = answer as? PingFound else {
                throw ToolError((answer as? Faulted)?.description ?? Printing.human(answer))
            }
            if json {
                print(
                    JSON.object([("name", .string(name)), ("milliseconds", .double(found.milliseconds))]).description)
            } else {
                print("\(name): found in \(String(format1: found.milliseconds)) ms")
            }
        }
    }
}

/// What `ping` completes with when it finds the service.
struct PingFound: Message {
    static let typeName = "ansar.tools.PingFound"
    var milliseconds: Double
}
