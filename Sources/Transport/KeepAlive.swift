import Reactor

/// Keep-alive for one end of a connection, as a sans-I/O state machine fed time and traffic.
///
/// Every byte from the peer counts as a sign of life, so a busy connection never probes. After
/// `probeAfter` of silence the end sends a probe (a control frame the peer's transport answers
/// itself) and repeats it each `probeAfter`; after `deadline` of silence the peer is declared lost.
/// Both ends run one, so a frozen or vanished peer is noticed from either side.
public struct KeepAlive: Sendable {
    /// How long silence may last before a probe, and before the peer is lost.
    public struct Configuration: Sendable, Equatable {
        /// Silence after which a probe is sent.
        public var probeAfter: Duration
        /// Silence after which the peer is lost. The default detects a dead peer within 2 s.
        public var deadline: Duration

        public init(probeAfter: Duration = .milliseconds(500), deadline: Duration = .milliseconds(1500)) {
            precondition(probeAfter > .zero && deadline > probeAfter, "keep-alive needs 0 < probeAfter < deadline")
            self.probeAfter = probeAfter
            self.deadline = deadline
        }
    }

    /// What ``check(at:)`` asks the connection to do.
    public enum Action: Equatable, Sendable {
        /// Nothing to do until ``nextCheck``.
        case wait
        /// Send a probe now.
        case probe
        /// The peer has been silent for this long: give up on the connection.
        case lost(silence: Duration)
    }

    /// The timings in force.
    public let configuration: Configuration
    private var lastHeard: Deadline
    private var lastProbe: Deadline?

    public init(configuration: Configuration = Configuration(), now: Deadline) {
        self.configuration = configuration
        lastHeard = now
    }

    /// Anything arrived from the peer.
    public mutating func heard(at now: Deadline) {
        lastHeard = now
        lastProbe = nil
    }

    /// When ``check(at:)`` next has something to decide.
    public var nextCheck: Deadline {
        let lost = lastHeard + configuration.deadline
        let probe = (lastProbe ?? lastHeard) + configuration.probeAfter
        return min(lost, probe)
    }

    /// What to do at `now`.
    public mutating func check(at now: Deadline) -> Action {
        let silence = Duration.nanoseconds(Int64(lastHeard.nanoseconds(until: now)))
        if silence >= configuration.deadline { return .lost(silence: silence) }
        if now >= (lastProbe ?? lastHeard) + configuration.probeAfter {
            lastProbe = now
            return .probe
        }
        return .wait
    }
}
