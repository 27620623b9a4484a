#if canImport(Glibc)
    import Glibc
#endif

/// A deterministic world for the thread that installs it: a virtual monotonic clock that moves
/// only when told, and a seeded source of random identifiers. The simulator runs many runtimes on
/// one thread under one of these, so that a seed replays exactly; every other thread keeps the
/// real clock and real randomness.
public final class Simulation {
    /// The virtual time, in nanoseconds; starts at one second so that "zero" never means now.
    public private(set) var now = Deadline(nanoseconds: 1_000_000_000)
    private var generator: SplitMix

    public init(seed: UInt64) { generator = SplitMix(seed: seed) }

    /// Moves the clock forward (never back) to `deadline`.
    public func advance(to deadline: Deadline) {
        if deadline > now { now = deadline }
    }

    /// The next of the seeded sequence: random enough for identifiers and choices.
    public func next() -> UInt64 { generator.next() }

    /// A number in `0..<bound`.
    public func below(_ bound: UInt64) -> UInt64 { bound == 0 ? 0 : next() % bound }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The simulation of the calling thread, if one is installed.
    @inline(__always)
    public static var current: Simulation? {
        guard let pointer = pthread_getspecific(key) else { return nil }
        return Unmanaged<Simulation>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Runs `body` with `simulation` installed on this thread.
    public static func run<T>(_ simulation: Simulation, _ body: () throws -> T) rethrows -> T {
        let retained = Unmanaged.passRetained(simulation)
        pthread_setspecific(key, retained.toOpaque())
        defer {
            pthread_setspecific(key, nil)
            retained.release()
        }
        return try body()
    }
}
