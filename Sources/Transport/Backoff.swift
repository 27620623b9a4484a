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
        let delay = top / 2 + Int64(generator.next() % UInt64(max(1, top / 2 + 1)))
        attempt += 1
        return .nanoseconds(delay)
    }

    /// Back to the initial delay, after a connection that worked.
    public mutating func reset() { attempt = 0 }
}

/// A small, seedable generator: jitter needs spread, not secrecy.
struct SplitMix: Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
