import Testing

@testable import PubSub

@Suite("Simulation: three hosts under LAN directories found by beacon, many seeds")
struct LANScopeTests {
    enum Fault: CaseIterable {
        case partitionHosts, restartLANDirectory, restartHostDirectory, cutHostFromLAN, killAndRestartPublisher,
            cutSubscriberFromPublisher, secondLANDirectory, secondLANDirectoryGoes
    }

    /// The first LAN directory runs on the last host (``GroupScenario/startAll(settlingWithin:)``); a second one, when a fault starts it, on the
    /// first host — a lower address, so by the documented rule every host moves to it, and back
    /// when it goes.
    static let hosts = 3
    static let firstLAN = "lan"
    static let secondLAN = "lan-b"

    @Test(
        "publishers and subscribers on three hosts find each other through host directories and a LAN directory heard by beacon, across partitions between hosts, restarts, cut links and a second LAN directory (split brain): every host follows the lowest address"
    )
    func lanScope() throws {
        try Seeds.each("lan", everyTenth: true) { seed in
            let scenario = try GroupScenario(seed: seed, publishers: 3, subscribers: 3, hosts: Self.hosts)
            try scenario.simulator.run { simulator in
                let random = simulator.simulation
                let first = try scenario.startAll(settlingWithin: .seconds(15))
                #expect(first, scenario.report(seed, "lan", "not settled within 15 s"))
                var partitions: [(String, String)] = []
                for _ in 0..<(1 + random.below(4)) {
                    let fault = random.pick(Fault.allCases)
                    let index = Int(random.below(UInt64(Self.hosts)))
                    let other = (index + 1 + Int(random.below(UInt64(Self.hosts - 1)))) % Self.hosts
                    scenario.journal.note("fault", "\(fault) \(index) \(other)")
                    switch fault {
                    case .partitionHosts:
                        let pair = (GroupScenario.hostAddress(index), GroupScenario.hostAddress(other))
                        simulator.network.hold(pair.0, pair.1)
                        partitions.append(pair)
                    case .restartLANDirectory:
                        try scenario.restart(Self.firstLAN) {
                            try scenario.startLANDirectory(Self.firstLAN, onHost: Self.hosts - 1)
                        }
                    case .restartHostDirectory:
                        try scenario.restart(scenario.hostDirectory(index)) { try scenario.startHostDirectory(index) }
                    case .cutHostFromLAN:
                        for lan in [Self.firstLAN, Self.secondLAN] {
                            simulator.network.cut(scenario.hostDirectory(index), lan)
                        }
                    case .killAndRestartPublisher:
                        try scenario.restart(scenario.publishers[index]) {
                            try scenario.startPublisher(scenario.publishers[index])
                        }
                    case .cutSubscriberFromPublisher:
                        simulator.network.cut(scenario.subscribers[index], scenario.publishers[other])
                    case .secondLANDirectory:
                        if simulator.processes[Self.secondLAN] == nil {
                            try scenario.startLANDirectory(Self.secondLAN, onHost: 0)
                        }
                    case .secondLANDirectoryGoes:
                        scenario.kill(Self.secondLAN)
                    }
                    try simulator.run(for: .milliseconds(Int64(random.below(3_000))))
                }
                for (a, b) in partitions { simulator.network.heal(a, b) }
                scenario.journal.note("fault", "all healed")
                // The winner: the LAN directory of the lowest address that runs.
                let winner = simulator.processes[Self.secondLAN] != nil ? 0 : Self.hosts - 1
                let expected = "\(GroupScenario.hostAddress(winner)):\(GroupScenario.lanAddress.port ?? 0)"
                let settled = try simulator.run(for: .seconds(40)) {
                    scenario.healed
                        && scenario.lanDirectoriesChosen().values.allSatisfy { $0 == expected }
                }
                #expect(
                    settled,
                    scenario.report(
                        seed, "lan",
                        "not settled within 40 s of healing: \(scenario.disagreements()); "
                            + "LAN directories chosen \(scenario.lanDirectoriesChosen()), wanted \(expected)"))
                scenario.checkRules(seed, "lan")
            }
        }
    }
}
