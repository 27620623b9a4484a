import Platform
import Reactor

/// Reconnect delays: exponential, capped, with equal jitter (half the ceiling, plus up to half at
/// random) so that many clients of a restarted server do not return in step. Reset after a good
/// connection. The one backoff of the house: links, connectors and session re-opening use it.
public struct Backoff: Sendable {
    public var initial: Duration
    public var maximum: Duration
    private var attempt = 0
    private var generator: SplitMix

    public init(
        initial: Duration = .milliseconds(50), maximum: Duration = .seconds(5),
        seed: UInt64 = .random(in: 0...UInt64.max)
    ) {
        precondition(initial > .zero && maximum >= initial, "backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        generator = SplitMix(seed: seed)
    }

    /// The ceiling of the next delay: initial × 2^attempt, capped.
    public var ceiling: Duration {
        let shift = min(attempt, 30)
        let scaled = initial * (1 << shift)
        return scaled > maximum ? maximum : scaled
    }

    /// The next delay: uniform in [ceiling/2, ceiling] (jittered, never zero), then the ceiling grows.
    public mutating func next() -> Duration {
        let top = ceiling.nanosecondsClamped
        // Under a simulation the jitter is the seed's, like every other choice.
        let draw = Simulation.current?.next() ?? generator.next()
        let delay = top / 2 + Int64(draw % UInt64(max(1, top / 2 + 1)))
        attempt += 1
        return .nanoseconds(delay)
    }

    /// Back to the initial delay, after a connection that worked.
    public mutating func reset() { attempt = 0 }
}
