#if canImport(Glibc)
    import Glibc
#endif

/// A point on the monotonic clock, in nanoseconds. Timers and connect deadlines use it; the
/// resolution is the kernel's (nanoseconds), far finer than the microsecond the reactor promises.
public struct Deadline: Comparable, Hashable, Sendable, CustomStringConvertible {
    public let nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The current monotonic time (the virtual one, on a thread running a ``Simulation``).
    public static func now() -> Deadline {
        if let simulation = Simulation.current { return simulation.now }
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Deadline(nanoseconds: UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec))
    }

    /// `now() + duration`; a negative duration means now.
    public static func after(_ duration: Duration) -> Deadline { now() + duration }

    /// A deadline that never comes.
    public static let distantFuture = Deadline(nanoseconds: .max)

    public static func + (lhs: Deadline, rhs: Duration) -> Deadline {
        let delta = rhs.nanosecondsClamped
        if delta <= 0 { return lhs }
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(UInt64(delta))
        return Deadline(nanoseconds: overflow ? .max : sum)
    }

    /// Nanoseconds from `self` until `later`, zero when `later` has passed.
    public func nanoseconds(until later: Deadline) -> UInt64 {
        later.nanoseconds > nanoseconds ? later.nanoseconds - nanoseconds : 0
    }

    public static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public var description: String { "Deadline(\(nanoseconds) ns)" }
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to Int64.
    public var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = product.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return sum
    }
}
