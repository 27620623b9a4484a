import Actors
import Foundation
import Platform
import Testing

@testable import PubSub
@testable import Reactor

/// The seeds a run takes: `ANSAR_SIM_SEED` replays one, `ANSAR_SIM_SEEDS` sets how many
/// (`make simulate SEEDS=N`), else a few hundred for `make test`.
enum Seeds {
    static var chosen: [UInt64] {
        let environment = ProcessInfo.processInfo.environment
        if let one = environment["ANSAR_SIM_SEED"].flatMap({ UInt64($0, radix: 16) }) { return [one] }
        let count = environment["ANSAR_SIM_SEEDS"].flatMap { Int($0) } ?? 200
        let first = environment["ANSAR_SIM_FIRST"].flatMap { UInt64($0, radix: 16) } ?? 0x5EED_0000
        return (0..<UInt64(count)).map { first &+ $0 }
    }

    /// Whether to print each run's events (a replay does).
    static var verbose: Bool { !(ProcessInfo.processInfo.environment["ANSAR_SIM_VERBOSE"] ?? "").isEmpty }

    /// Whether every process logs, at debug level, to standard output (`ANSAR_SIM_LOG=1`, with a
    /// replayed seed: the wall-clock times in its lines are not the simulation's).
    static var logging: Bool { !(ProcessInfo.processInfo.environment["ANSAR_SIM_LOG"] ?? "").isEmpty }

    /// Runs `body` for each chosen seed (`everyTenth`: a tenth of them, for a heavy scenario),
    /// then says how fast they went: the simulator's own benchmark figure.
    static func each(_ scenario: String, everyTenth: Bool = false, _ body: (UInt64) throws -> Void) rethrows {
        let seeds = everyTenth ? Array(chosen.prefix(max(1, chosen.count / 10))) : chosen
        let start = ContinuousClock.now
        for seed in seeds { try body(seed) }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            "simulation \(scenario): \(seeds.count) seeds in \(String(format: "%.1f", seconds)) s, "
                + "\(Int(Double(seeds.count) / max(seconds, 0.001) * 60)) seeds/min")
    }

    static func replay(_ seed: UInt64, _ scenario: String) -> String {
        "make simulate SEED=\(String(seed, radix: 16)) SCENARIO=\(scenario)"
    }
}

/// Processes of one realm: a group directory, publishers, subscribers on one simulated host — or
/// several groups under a host directory, or several hosts under a LAN directory.
struct GroupScenario {
    let simulator: Simulator
    let journal: Journal
    let group: SocketAddress
    let publishers: [String]
    let subscribers: [String]
    /// Each publisher process's publishing object, and each host's directory object.
    final class Objects {
        var of: [String: Address] = [:]
        var hostDirectories: [String: ScopeDirectory] = [:]
        var burst = 1
    }
    private let objects = Objects()
    var publisherObjects: [String: Address] { objects.of }

    /// How many names each publisher lists.
    let names: Int

    /// How many groups: with more than one, their directories link to a host directory and the
    /// members list and search at HOST scope, the i-th of each kind in group i % groups.
    let groups: Int
    static let host = SocketAddress.unixAbstract(name: "ansar-sim-host")

    /// How many hosts: with more than one, each has one group and a host directory that finds the
    /// LAN directory by its beacons, and the members list and search at LAN scope, the i-th of
    /// each kind on host i % hosts.
    let hosts: Int
    static let beaconPort = LANBeacon.defaultPort
    static let lanAddress = SocketAddress.ipv4("0.0.0.0", port: ScopeDirectory.lanPort)

    init(seed: UInt64, publishers: Int, subscribers: Int, names: Int = 1, groups: Int = 1, hosts: Int = 1) throws {
        self.names = names
        self.hosts = hosts
        self.groups = hosts > 1 ? hosts : groups
        let simulator = Simulator(seed: seed)
        self.simulator = simulator
        // A name in the simulated network only: no kernel ever sees it.
        group = .unixAbstract(name: "ansar-sim-group")
        let simulation = simulator.simulation
        journal = Journal { simulation.now }
        self.publishers = (0..<publishers).map { "p\($0)" }
        self.subscribers = (0..<subscribers).map { "s\($0)" }
    }

    var scope: Scope { hosts > 1 ? .lan : groups > 1 ? .host : .group }

    /// Group `index`'s directory process and address (group 0's: "directory", the group address).
    static func directory(_ index: Int) -> String { index == 0 ? "directory" : "directory-\(index)" }
    func address(ofGroup index: Int) -> SocketAddress {
        index == 0 ? group : .unixAbstract(name: "ansar-sim-group-\(index)")
    }

    /// Host `index`'s address, and its host directory's process.
    static func hostAddress(_ index: Int) -> String { "10.0.0.\(index + 1)" }
    func hostDirectory(_ index: Int) -> String { hosts > 1 ? "host-\(index)" : "host" }

    /// The number of a member named by kind and number ("p1", "s0").
    static func number(of member: String) -> Int { Int(member.dropFirst()) ?? 0 }

    /// The group a member belongs to, and the host it runs on.
    func group(of member: String) -> SocketAddress { address(ofGroup: Self.number(of: member) % groups) }
    func host(of member: String) -> String { Self.hostAddress(Self.number(of: member) % hosts) }

    func startDirectory(_ index: Int = 0) throws {
        let parent =
            hosts > 1 ? ScopeDirectory.hostAddress(of: simulator.transport.secret) : groups > 1 ? Self.host : nil
        try simulator.start(Self.directory(index), on: Self.hostAddress(index % hosts), group: nil) { runtime in
            _ = runtime.create(ScopeDirectory(listening: address(ofGroup: index), scope: .group, parent: parent))
        }
    }

    /// Host `index`'s directory: with several hosts, at the usual address of its own host, finding
    /// its LAN directory by beacon.
    func startHostDirectory(_ index: Int = 0) throws {
        let name = hostDirectory(index)
        try simulator.start(name, on: Self.hostAddress(index), group: nil) { runtime in
            let directory =
                hosts > 1
                ? ScopeDirectory(
                    listening: ScopeDirectory.hostAddress(of: simulator.transport.secret), scope: .host,
                    links: .init(discoverOnPort: Self.beaconPort))
                : ScopeDirectory(listening: Self.host, scope: .host)
            objects.hostDirectories[name] = directory
            _ = runtime.create(directory)
        }
    }

    /// A LAN directory named `name` on host `index`, announcing itself by beacon.
    func startLANDirectory(_ name: String, onHost index: Int) throws {
        try simulator.start(name, on: Self.hostAddress(index), group: nil) { runtime in
            _ = runtime.create(
                ScopeDirectory(listening: Self.lanAddress, scope: .lan, links: .init(beaconPort: Self.beaconPort)))
        }
    }

    /// The LAN directory each running host directory links to (or is looking for).
    func lanDirectoriesChosen() -> [String: String] {
        objects.hostDirectories.filter { simulator.processes[$0.key] != nil }
            .mapValues { $0.links.parent?.description ?? "none" }
    }

    /// Full queues everywhere (``Simulator/tightenQueues()``). Before anything starts.
    func tightenQueues() { journal.note("fault", "tight: \(simulator.tightenQueues())") }

    /// Publishers send `burst` messages a tick (every 20 ms): a subscriber that stops taking them
    /// spends its link's credit within a few hundred milliseconds, and its publisher meets a busy
    /// link until it drains. Before the publishers start.
    func sendInBursts(of burst: Int) {
        objects.burst = burst
        journal.note("fault", "bursts of \(burst)")
    }

    func startPublisher(_ name: String) throws {
        try simulator.start(name, on: host(of: name), group: group(of: name)) { runtime in
            objects.of[name] = runtime.create(
                SimulatedPublisher(
                    name, names: self.names(of: name), scope: scope, journal: journal, burst: objects.burst))
        }
    }

    func startSubscriber(_ name: String) throws {
        try simulator.start(name, on: host(of: name), group: group(of: name)) { runtime in
            _ = runtime.create(SimulatedSubscriber(name, prefix: "svc-", scope: scope, journal: journal))
        }
    }

    /// Every subscriber has exactly one open session with each live publisher.
    func names(of publisher: String) -> [ServiceName] {
        names == 1
            ? [try! ServiceName("svc-\(publisher)")] : (0..<names).map { try! ServiceName("svc-\(publisher)-\($0)") }
    }

    /// Settled with every publisher, and both ends of every session agree: where a run must end up
    /// once its faults heal.
    var healed: Bool { settled(live: publishers) && disagreements().isEmpty }

    func settled(live: [String]) -> Bool {
        let wanted = Dictionary(uniqueKeysWithValues: live.flatMap(names(of:)).map { ($0.text, 1) })
        return subscribers.allSatisfy { journal.openSessions(of: $0) == wanted }
    }

    /// The publisher `name` retracts, and publishes again after `delay`.
    func retract(_ name: String, publishingAgainAfter delay: Duration) {
        guard let process = simulator.processes[name], let object = publisherObjects[name] else { return }
        try? process.runtime.notify(RetractNow(publishAgainAfter: delay), to: object, from: .none)
    }

    /// A hostile member: subscriber `name` tells the process of one of its publishers, as if it
    /// were a directory or that session's subscriber, that another subscriber's session with it is
    /// over or carries on elsewhere. Refused there; nothing may change.
    func forge(from name: String) {
        guard let process = simulator.processes[name],
            let mine = journal.subscribers[name]?.values.first(where: { $0.ended == nil })
        else { return }
        let theirs = subscribers.filter { $0 != name }.flatMap { other in
            (journal.subscribers[other] ?? [:]).filter { $0.value.ended == nil && $0.value.name == mine.name }.keys
        }
        guard let victim = theirs.min() else { return }
        let directory = Address(object: 0, via: mine.publisher)
        journal.note(name, "forges the end of session \(victim)")
        try? process.runtime.notify(
            CloseSession(session: victim, reason: "forged", entry: 1), to: directory, from: .none)
        try? process.runtime.notify(CloseSession(session: victim, reason: "forged"), to: directory, from: .none)
        try? process.runtime.notify(SessionKept(session: victim, matchedAs: 1), to: directory, from: .none)
    }

    /// Kills process `name` (`silently`: its connections vanish, see
    /// ``Simulator/kill(_:silently:)``), lets up to `pause` pass (drawn from the seed), and starts
    /// it again.
    func restart(
        _ name: String, silently: Bool = false, pausingUpTo pause: Duration = .milliseconds(300),
        _ start: () throws -> Void
    ) throws {
        kill(name, silently: silently)
        try simulator.run(for: .nanoseconds(Int64(simulator.simulation.below(UInt64(pause.nanosecondsClamped)))))
        try start()
    }

    /// Kills a process; its objects' open sessions end with it (in the journal: nobody is told).
    func kill(_ name: String, silently: Bool = false) {
        simulator.kill(name, silently: silently)
        for (session, end) in journal.publishers[name, default: [:]] where end.ended == nil {
            journal.publishers[name]![session]!.ended = ("killed", end.sent)
            journal.publishers[name]![session]!.killedAt = simulator.now
        }
        for (session, end) in journal.subscribers[name, default: [:]] where end.ended == nil {
            journal.subscribers[name]![session]!.ended = "killed"
        }
        journal.note(name, "killed")
    }

    /// Both ends of every session agree: each one open at a subscriber is open at its publisher,
    /// and the other way round.
    func disagreements() -> [String] {
        var open: [UInt64: String] = [:]
        for (publisher, sessions) in journal.publishers {
            for (session, end) in sessions where end.ended == nil { open[session] = publisher }
        }
        var found: [String] = []
        for subscriber in subscribers {
            for (session, end) in journal.subscribers[subscriber, default: [:]] where end.ended == nil {
                if open.removeValue(forKey: session) == nil {
                    found.append("\(subscriber): session \(session) open here, not at its publisher")
                }
            }
        }
        for (session, publisher) in open {
            found.append("\(publisher): session \(session) open here, not at its subscriber")
        }
        return found
    }

    /// Starts the directories, then the publishers, then the subscribers; runs until every
    /// subscriber has its sessions, at most `limit`. Whether they all do.
    func startAll(settlingWithin limit: Duration) throws -> Bool {
        if hosts > 1 {
            // On the last host: a second LAN directory elsewhere has a lower address and wins.
            try startLANDirectory("lan", onHost: hosts - 1)
            for index in 0..<hosts { try startHostDirectory(index) }
        } else if groups > 1 {
            try startHostDirectory()
        }
        for index in 0..<groups { try startDirectory(index) }
        for name in publishers { try startPublisher(name) }
        for name in subscribers { try startSubscriber(name) }
        return try simulator.run(for: limit) { settled(live: publishers) }
    }

    /// Open sessions that received nothing between two looks (``receivedSoFar()``).
    static func stalled(before: [String: [UInt64: Int]], after: [String: [UInt64: Int]]) -> [String] {
        after.flatMap { subscriber, sessions in
            sessions.compactMap { session, count in
                count > (before[subscriber]?[session] ?? 0) ? nil : "\(subscriber): session \(session) stalled"
            }
        }
    }

    /// Messages received so far on each open session, by subscriber and session.
    func receivedSoFar() -> [String: [UInt64: Int]] {
        journal.subscribers.mapValues { sessions in sessions.filter { $0.value.ended == nil }.mapValues(\.received) }
    }

    /// How soon a subscriber must hear that its publisher's process died: at once when the kernel
    /// closes its connections, within the keep-alive's deadline (1.5 s) and a margin when a
    /// partition keeps the close from arriving.
    static let detectionBound = Duration.seconds(3)

    /// The rules every run keeps, checked at its end: what each object saw (the journal's
    /// violations) and, for every session that ended at its publisher, that the subscriber had
    /// every message but those the publisher was told were not confirmed.
    func broken() -> [String] {
        var broken = journal.violations
        for (publisher, sessions) in journal.publishers {
            for (session, end) in sessions {
                let late = subscribers.compactMap { journal.subscribers[$0]?[session]?.late }.first ?? 0
                let received = subscribers.compactMap { journal.subscribers[$0]?[session]?.received }.first ?? 0
                if received > end.sent {
                    broken.append("\(publisher): session \(session) received \(received) of \(end.sent) sent")
                }
                // The publisher's own end comes after everything it sent first.
                if let before = end.retractedAfter,
                    let subscriber = subscribers.compactMap({ journal.subscribers[$0]?[session] }).first,
                    let reason = subscriber.ended, reason == "ended by the other end" || reason == "publisher gone",
                    subscriber.receivedAtEnd < before
                {
                    broken.append(
                        "\(publisher): session \(session) ended at its subscriber after \(subscriber.receivedAtEnd) "
                            + "of the \(before) sent before the publisher retracted")
                }
                // No Available for a publisher dead longer than it takes to notice.
                if let killed = end.killedAt,
                    let subscriber = subscribers.compactMap({ journal.subscribers[$0]?[session] }).first
                {
                    let noticed = subscriber.ended == nil ? simulator.now : subscriber.endedAt ?? killed
                    if killed + Self.detectionBound < noticed {
                        broken.append(
                            "\(publisher): session \(session) still open at its subscriber "
                                + "\((noticed.nanoseconds - killed.nanoseconds) / 1_000_000) ms after its publisher died"
                        )
                    }
                }
                if let ended = end.ended, received < end.sent - ended.unconfirmed {
                    broken.append(
                        "\(publisher): session \(session) lost \(end.sent - received) of \(end.sent), "
                            + "\(ended.unconfirmed) reported unconfirmed, \(late) late")
                }
            }
        }
        return broken
    }

    func report(_ seed: UInt64, _ scenario: String, _ what: String) -> Comment {
        let tail = journal.events.suffix(40).joined(separator: "\n")
        return "\(what)\nreplay: \(Seeds.replay(seed, scenario))\nlast events:\n\(tail)"
    }

    /// The end of every run: its events when replaying, and the rules of ``broken()`` checked.
    func checkRules(_ seed: UInt64, _ scenario: String, sourceLocation: SourceLocation = #_sourceLocation) {
        if Seeds.verbose { print(journal.events.joined(separator: "\n")) }
        let broken = broken()
        #expect(
            broken.isEmpty, report(seed, scenario, broken.joined(separator: "\n")), sourceLocation: sourceLocation)
    }
}

@Suite("Simulation: a group on one host, many seeds")
struct GroupSimulationTests {
    @Test("publishers and subscribers start in a seeded order: each subscriber gets one session per publisher")
    func startInAnyOrder() throws {
        try Seeds.each("start") { seed in
            let scenario = try GroupScenario(seed: seed, publishers: 2, subscribers: 2)
            try scenario.simulator.run { simulator in
                // The directory, publishers and subscribers start in an order the seed draws.
                var starting = ["directory"] + scenario.publishers + scenario.subscribers
                while !starting.isEmpty {
                    let name = starting.remove(at: Int(simulator.simulation.below(UInt64(starting.count))))
                    if name == "directory" {
                        try scenario.startDirectory()
                    } else if name.hasPrefix("p") {
                        try scenario.startPublisher(name)
                    } else {
                        try scenario.startSubscriber(name)
                    }
                    try simulator.run(for: .milliseconds(Int64(simulator.simulation.below(50))))
                }
                let settled = try simulator.run(for: .seconds(10)) { scenario.settled(live: scenario.publishers) }
                // Messages flow for a while on every session.
                try simulator.run(for: .milliseconds(200))
                if Seeds.verbose {
                    print("turns \(simulator.turns), virtual \(simulator.now.nanoseconds / 1_000_000) ms")
                }
                #expect(settled, scenario.report(seed, "start", "not settled within 10 s"))
                scenario.checkRules(seed, "start")
            }
        }
    }
}

@Suite("Simulation: a group under faults, many seeds")
struct GroupFaultTests {
    /// What may go wrong between two moments of a run.
    enum Fault: CaseIterable {
        case cutMemberFromDirectory, cutSubscriberFromPublisher, partitionFromDirectory, killAndRestartPublisher,
            publisherVanishes, restartDirectory, publisherRetracts, forgedControl
    }

    @Test(
        "links cut, partitions that heal, publishers and the directory killed and restarted: after the faults, one session per publisher, both ends agree, messages flow"
    )
    func faultsThenHeal() throws {
        try Seeds.each("faults") { seed in
            let scenario = try GroupScenario(seed: seed, publishers: 2, subscribers: 2)
            try scenario.simulator.run { simulator in
                let random = simulator.simulation
                // Half the seeds: full queues everywhere, all the time.
                if random.below(2) == 0 { scenario.tightenQueues() }
                _ = try scenario.startAll(settlingWithin: .seconds(5))
                var held: [(String, String)] = []
                for _ in 0..<(1 + random.below(4)) {
                    let members = scenario.publishers + scenario.subscribers
                    let member = random.pick(members)
                    let fault = random.pick(Fault.allCases)
                    scenario.journal.note("fault", "\(fault) \(member)")
                    switch fault {
                    case .cutMemberFromDirectory:
                        simulator.network.cut(member, "directory")
                    case .cutSubscriberFromPublisher:
                        let subscriber = random.pick(scenario.subscribers)
                        let publisher = random.pick(scenario.publishers)
                        simulator.network.cut(subscriber, publisher)
                    case .partitionFromDirectory:
                        simulator.network.hold(member, "directory")
                        held.append((member, "directory"))
                    case .killAndRestartPublisher:
                        let publisher = random.pick(scenario.publishers)
                        try scenario.restart(publisher) { try scenario.startPublisher(publisher) }
                    case .publisherVanishes:
                        // Its peers hear nothing: no close, no reset. It comes back after up to 2 s.
                        let publisher = random.pick(scenario.publishers)
                        try scenario.restart(publisher, silently: true, pausingUpTo: .seconds(2)) {
                            try scenario.startPublisher(publisher)
                        }
                    case .publisherRetracts:
                        let publisher = random.pick(scenario.publishers)
                        scenario.retract(publisher, publishingAgainAfter: .milliseconds(Int64(random.below(500))))
                    case .forgedControl:
                        scenario.forge(
                            from: random.pick(scenario.subscribers))
                    case .restartDirectory:
                        try scenario.restart("directory") { try scenario.startDirectory() }
                    }
                    try simulator.run(for: .milliseconds(Int64(random.below(1_500))))
                }
                for (a, b) in held { simulator.network.heal(a, b) }
                scenario.journal.note("fault", "all healed")
                let settled = try simulator.run(for: .seconds(30)) {
                    scenario.healed
                }
                let before = scenario.receivedSoFar()
                try simulator.run(for: .milliseconds(300))
                let after = scenario.receivedSoFar()
                let stalled = GroupScenario.stalled(before: before, after: after)
                #expect(
                    settled,
                    scenario.report(seed, "faults", "not settled within 30 s of healing: \(scenario.disagreements())"))
                #expect(stalled.isEmpty, scenario.report(seed, "faults", stalled.joined(separator: "\n")))
                scenario.checkRules(seed, "faults")
            }
        }
    }
}

@Suite("Simulation: a group refilled over its links' credit, many seeds")
struct GroupRefillTests {
    @Test(
        "two publishers of 300 names each, the directory restarted: every subscriber gets all 600 sessions back"
    )
    func refillOverCredit() throws {
        // Heavier than the others: a tenth of the seeds.
        try Seeds.each("refill", everyTenth: true) { seed in
            let scenario = try GroupScenario(seed: seed, publishers: 2, subscribers: 2, names: 300)
            try scenario.simulator.run { simulator in
                if simulator.simulation.below(2) == 0 { scenario.tightenQueues() }
                let first = try scenario.startAll(settlingWithin: .seconds(20))
                #expect(first, scenario.report(seed, "refill", "not settled within 20 s"))
                scenario.kill("directory")
                try simulator.run(for: .milliseconds(Int64(simulator.simulation.below(300))))
                try scenario.startDirectory()
                let again = try simulator.run(for: .seconds(30)) {
                    scenario.healed
                }
                #expect(again, scenario.report(seed, "refill", "not settled within 30 s of the directory's restart"))
                scenario.checkRules(seed, "refill")
            }
        }
    }
}

@Suite("Simulation: a process whose loop stalls, many seeds")
struct StallTests {
    @Test(
        "a stall shorter than the keep-alive deadline ends nothing, nor does a jump of everyone's clock; a longer stall lets its peers go, and it comes back"
    )
    func stalls() throws {
        try Seeds.each("stall") { seed in
            let scenario = try GroupScenario(seed: seed, publishers: 2, subscribers: 2)
            try scenario.simulator.run { simulator in
                let random = simulator.simulation
                // Half the seeds: full queues, and a stalled subscriber is a slow consumer whose
                // link's credit runs out.
                if random.below(2) == 0 {
                    scenario.tightenQueues()
                    scenario.sendInBursts(of: 3 + Int(random.below(6)))
                }
                let settled = try scenario.startAll(settlingWithin: .seconds(5))
                #expect(settled, scenario.report(seed, "stall", "not settled within 5 s"))
                let everyone = ["directory"] + scenario.publishers + scenario.subscribers
                // A short stall: the peers hear nothing for up to 1 s (they give up after 1.5 s),
                // and the stalled process must not blame them for its own lateness either.
                let short = random.pick(everyone)
                let ends = scenario.journal.endsSoFar
                let shortStall = Duration.milliseconds(Int64(100 + random.below(900)))
                scenario.journal.note("fault", "\(short) stalls \(shortStall)")
                simulator.stall(short, until: simulator.now + shortStall)
                let before = scenario.receivedSoFar()
                try simulator.run(for: shortStall + .seconds(2))
                let after = scenario.receivedSoFar()
                #expect(
                    scenario.journal.endsSoFar == ends,
                    scenario.report(seed, "stall", "a session ended over a \(shortStall) stall of \(short)"))
                let stalled = GroupScenario.stalled(before: before, after: after)
                #expect(stalled.isEmpty, scenario.report(seed, "stall", stalled.joined(separator: "\n")))
                // The clock jumps for everyone at once (a VM paused and resumed), by up to 5 s:
                // every process finds its timers late and its peers silent, and none may blame
                // another for what happened to all.
                let jump = Duration.milliseconds(Int64(100 + random.below(4_900)))
                let endsBeforeJump = scenario.journal.endsSoFar
                scenario.journal.note("fault", "the clock jumps \(jump)")
                random.advance(to: simulator.now + jump)
                try simulator.run(for: .seconds(2))
                #expect(
                    scenario.journal.endsSoFar == endsBeforeJump,
                    scenario.report(seed, "stall", "a session ended over a clock jump of \(jump)"))
                // A long one: the peers let it go; when it turns again, all comes back.
                let long = random.pick(everyone)
                let longStall = Duration.milliseconds(Int64(3_000 + random.below(2_000)))
                scenario.journal.note("fault", "\(long) stalls \(longStall)")
                simulator.stall(long, until: simulator.now + longStall)
                try simulator.run(for: longStall)
                let back = try simulator.run(for: .seconds(30)) {
                    scenario.healed
                }
                #expect(back, scenario.report(seed, "stall", "not back within 30 s of a \(longStall) stall of \(long)"))
                scenario.checkRules(seed, "stall")
            }
        }
    }
}

@Suite("Simulation: two groups on one host, HOST scope, many seeds")
struct HostScopeTests {
    enum Fault: CaseIterable {
        case restartHostDirectory, restartGroupDirectory, cutGroupFromHost, killAndRestartPublisher,
            cutSubscriberFromPublisher
    }

    @Test(
        "publishers and subscribers in two groups find each other through the host directory, across its restarts and cut links"
    )
    func hostScope() throws {
        try Seeds.each("host", everyTenth: true) { seed in
            let scenario = try GroupScenario(seed: seed, publishers: 2, subscribers: 2, groups: 2)
            try scenario.simulator.run { simulator in
                let random = simulator.simulation
                let first = try scenario.startAll(settlingWithin: .seconds(10))
                #expect(first, scenario.report(seed, "host", "not settled within 10 s"))
                for _ in 0..<(1 + random.below(3)) {
                    let fault = random.pick(Fault.allCases)
                    let index = Int(random.below(2))
                    scenario.journal.note("fault", "\(fault) \(index)")
                    switch fault {
                    case .restartHostDirectory:
                        try scenario.restart("host") { try scenario.startHostDirectory() }
                    case .restartGroupDirectory:
                        try scenario.restart(GroupScenario.directory(index)) { try scenario.startDirectory(index) }
                    case .cutGroupFromHost:
                        simulator.network.cut(GroupScenario.directory(index), "host")
                    case .killAndRestartPublisher:
                        try scenario.restart(scenario.publishers[index]) {
                            try scenario.startPublisher(scenario.publishers[index])
                        }
                    case .cutSubscriberFromPublisher:
                        simulator.network.cut(scenario.subscribers[index], scenario.publishers[1 - index])
                    }
                    try simulator.run(for: .milliseconds(Int64(random.below(1_500))))
                }
                let settled = try simulator.run(for: .seconds(30)) {
                    scenario.healed
                }
                #expect(
                    settled,
                    scenario.report(seed, "host", "not settled within 30 s: \(scenario.disagreements())"))
                scenario.checkRules(seed, "host")
            }
        }
    }
}
