import Platform
import Reactor

/// The rule against trickling peers, separate from keep-alive (which a trickler satisfies): while
/// a frame or record is incomplete, its bytes must arrive at a minimum average rate. A sans-I/O
/// state machine fed arrivals and checks.
///
/// The clock starts when an arrival leaves something incomplete and stops when everything is whole
/// again; after `grace`, an average below `bytesPerSecond` since the start closes the connection.
/// Record framing does not count, so a peer cannot keep a frame open with empty records. A check
/// that comes during the owner's own stall, or while the owner stopped reading, starts the clock
/// afresh: unread bytes are not the peer's fault.
public struct MinimumRate: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// The slowest average an incomplete frame may arrive at.
        public var bytesPerSecond: Int
        /// How long an incomplete frame may take before its rate is judged.
        public var grace: Duration

        public init(bytesPerSecond: Int = 1024, grace: Duration = .seconds(2)) {
            precondition(bytesPerSecond > 0 && grace > .zero, "the minimum rate needs bytesPerSecond > 0 and grace > 0")
            self.bytesPerSecond = bytesPerSecond
            self.grace = grace
        }
    }

    public enum Verdict: Equatable, Sendable {
        case fine
        /// The incomplete frame arrived at this average: close the connection.
        case tooSlow(bytesPerSecond: Int)
    }

    public let configuration: Configuration
    /// When the current incomplete stretch began; nil while everything received is whole.
    private var since: Deadline?
    /// Payload bytes received during the stretch.
    private var bytes = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// `payload` bytes arrived; `incomplete` says whether a frame or record is still partial after them.
    public mutating func received(payload: Int, incomplete: Bool, at now: Deadline) {
        guard incomplete else {
            since = nil
            return
        }
        if since == nil {
            since = now
            bytes = 0
        } else {
            bytes += payload
        }
    }

    /// The verdict at `now`. `excused`: this end stalled or stopped reading, so the stretch so far
    /// says nothing about the peer.
    public mutating func check(at now: Deadline, excused: Bool) -> Verdict {
        guard let since else { return .fine }
        if excused {
            self.since = now
            bytes = 0
            return .fine
        }
        guard now >= since + configuration.grace else { return .fine }
        let elapsed = Double(since.nanoseconds(until: now)) / 1e9
        let rate = Int(Double(bytes) / elapsed)
        return rate < configuration.bytesPerSecond ? .tooSlow(bytesPerSecond: rate) : .fine
    }
}
