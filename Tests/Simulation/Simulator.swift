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

    /// Starts a process named `name` (its runtime linking to the group directory at `group`, if
    /// given) and makes its objects.
    @discardableResult
    func start(_ name: String, group: SocketAddress?, objects: (Runtime) -> Void) throws -> SimulatedProcess {
        precondition(processes[name] == nil, "a process named \(name) runs already")
        let process = try SimulatedProcess(name: name, network: network, transport: transport, group: group)
        processes[name] = process
        order.append(name)
        objects(process.runtime)
        return process
    }

    /// Stops turning process `name` until `deadline`: its loop stalls (a long garbage collection,
    /// a blocking call, a stopped VM) while everything else runs.
    func stall(_ name: String, until deadline: Deadline) { processes[name]?.stalledUntil = deadline }

    /// Kills a process: its runtime goes without a word, its connections close as the kernel
    /// would close them.
    func kill(_ name: String) {
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

    init(name: String, network: SimulatedNetwork, transport: TransportConfiguration, group: SocketAddress?) throws {
        self.name = name
        var made: SimulatedBackend?
        let logger = Logger(label: "sim.\(name)") { _ in SwiftLogNoOpLogHandler() }
        reactor = try Reactor(limits: Limits(), logger: logger) { limits, memory in
            let backend = SimulatedBackend(process: name, network: network, limits: limits, receiveBuffers: memory)
            made = backend
            return backend
        }
        backend = made!
        runtime = Runtime(reactor: reactor, transport: transport, logger: logger)
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
