import Logging
import Platform
import Transport

@testable import Actors
@testable import PubSub
@testable import Reactor

/// Many processes — each a real ``Runtime`` over a real ``Reactor``, with its transport, process
/// directory and objects — on one thread, over a ``SimulatedNetwork``, under one ``Simulation``:
/// the seed decides every delay, identifier and choice of which process turns next, so a run
/// replays exactly. Time moves only when no process has anything to do: it jumps to the next
/// timer or arrival.
final class Simulator {
    let seed: UInt64
    let simulation: Simulation
    let network: SimulatedNetwork
    let transport = TransportConfiguration(secret: RealmSecret(hex: String(repeating: "5a", count: 32))!)
    private(set) var processes: [String: SimulatedProcess] = [:]
    /// Process names in the order they were started (the scheduler's draws index into it).
    private(set) var order: [String] = []
    /// Turns taken, all processes together: a run's length.
    private(set) var turns = 0
    /// The limits of every runtime started from now on (``tightenQueues()`` makes them small).
    var limits = RuntimeLimits()

    init(seed: UInt64) {
        self.seed = seed
        simulation = Simulation(seed: seed)
        network = SimulatedNetwork(simulation: simulation)
    }

    var now: Deadline { simulation.now }

    /// Runs `body` with this simulation's clock and randomness on the calling thread; then every
    /// process ends.
    func run<T>(_ body: (Simulator) throws -> T) rethrows -> T {
        try Simulation.run(simulation) {
            defer { for name in order { kill(name) } }
            return try body(self)
        }
    }

    /// Starts a process named `name` on the host with address `host` (its runtime linking to the
    /// group directory at `group`, if given) and makes its objects.
    @discardableResult
    func start(
        _ name: String, on host: String = SimulatedNetwork.defaultHost, group: SocketAddress?,
        objects: (Runtime) -> Void
    ) throws -> SimulatedProcess {
        precondition(processes[name] == nil, "a process named \(name) runs already")
        network.place(name, on: host)
        let process = try SimulatedProcess(
            name: name, network: network, transport: transport, limits: limits, group: group)
        processes[name] = process
        order.append(name)
        objects(process.runtime)
        return process
    }

    /// Full queues everywhere: pipes of a few KiB, a mailbox of a few dozen messages and a link
    /// credit of a few per destination, drawn from the seed (before the processes start). Sends
    /// meet full pipes and spent credit all the time; what they carry must still arrive or be
    /// accounted. Says what it chose.
    @discardableResult
    func tightenQueues() -> String {
        network.pipeCapacity = 2_048 + Int(simulation.below(30_000))
        limits.mailbox = 16 + Int(simulation.below(48))
        limits.linkCredit = 4 + Int(simulation.below(60))
        return "pipes \(network.pipeCapacity) B, mailboxes \(limits.mailbox), credit \(limits.linkCredit)"
    }

    /// Stops turning process `name` until `deadline`: its loop stalls (a long garbage collection,
    /// a blocking call, a stopped VM) while everything else runs.
    func stall(_ name: String, until deadline: Deadline) { processes[name]?.stalledUntil = deadline }

    /// Kills a process: its runtime goes without a word, its connections close as the kernel
    /// would close them.
    /// `silently`: its connections vanish instead (``SimulatedNetwork/vanish(_:)``), so its peers
    /// learn of the death only from their keep-alives.
    func kill(_ name: String, silently: Bool = false) {
        if silently { network.vanish(name) }
        guard let process = processes.removeValue(forKey: name) else { return }
        order.removeAll { $0 == name }
        process.kill()
    }

    /// Runs until `condition` holds or `limit` of virtual time has passed; returns whether it holds.
    @discardableResult
    func run(for limit: Duration, until condition: () -> Bool = { false }) throws -> Bool {
        let end = now + limit
        while true {
            if condition() { return true }
            var busy = false
            // One turn each, in an order the seed draws.
            var names = order
            while !names.isEmpty {
                let name = names.remove(at: Int(simulation.below(UInt64(names.count))))
                guard let process = processes[name], process.stalledUntil <= now else { continue }
                try process.turn()
                turns += 1
                busy = busy || process.busy
            }
            if busy { continue }
            // Nobody can move: the clock jumps to the next thing due (bytes waiting for a stalled
            // process are due already; its end of the stall is what comes next for it).
            let due = [network.nextArrival] + processes.values.flatMap { [$0.nextDue, $0.stalledUntil] }
            let next = due.compactMap { $0 }.filter { $0 > now }.min()
            guard let next, next <= end else {
                simulation.advance(to: end)
                return condition()
            }
            simulation.advance(to: next)
        }
    }
}

/// One simulated process: a runtime on a reactor over the simulated backend.
final class SimulatedProcess {
    let name: String
    let reactor: Reactor
    let runtime: Runtime
    let backend: SimulatedBackend
    private var handler: RuntimeHandler
    /// Not turned before this (see ``Simulator/stall(_:until:)``).
    var stalledUntil = Deadline(nanoseconds: 0)

    init(
        name: String, network: SimulatedNetwork, transport: TransportConfiguration, limits: RuntimeLimits,
        group: SocketAddress?
    ) throws {
        self.name = name
        var made: SimulatedBackend?
        var logger = Logger(label: "sim.\(name)") { label in
            Seeds.logging ? StreamLogHandler.standardOutput(label: label) as LogHandler : SwiftLogNoOpLogHandler()
        }
        if Seeds.logging { logger.logLevel = Logger.Level.debug }
        reactor = try Reactor(limits: Limits(), logger: logger) { limits, memory in
            let backend = SimulatedBackend(process: name, network: network, limits: limits, receiveBuffers: memory)
            made = backend
            return backend
        }
        backend = made!
        runtime = Runtime(reactor: reactor, transport: transport, limits: limits, logger: logger)
        runtime.pubSub.groupAddress = group
        handler = RuntimeHandler(runtime: runtime) { false }
    }

    func turn() throws {
        runtime.runQueued()
        try reactor.turn(&handler, timeout: 0)
    }

    /// Whether it did something in its last turn, or has work it can do without waiting.
    var busy: Bool { backend.lastProduced > 0 || reactor.hasWorkWithoutWaiting || runtime.hasWork }

    /// When its next timer or connect is due.
    var nextDue: Deadline? { [reactor.nextTimerDeadline, backend.nextDue].compactMap { $0 }.min() }

    func kill() { backend.shutdown() }
}

extension Simulation {
    /// One of `items`, drawn from the seed.
    func pick<T>(_ items: [T]) -> T { items[Int(below(UInt64(items.count)))] }
}
