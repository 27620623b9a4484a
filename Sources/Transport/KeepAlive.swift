import Platform
import Reactor

/// Keep-alive for one end of a connection, as a sans-I/O state machine fed time and signs of life.
///
/// A sign of life is authenticated progress in either direction: a record received, or bytes the
/// peer took from our send queue (its TCP acknowledged them, or its process read them). After
/// `probeAfter` without one the end sends a probe (a control record the peer's transport answers
/// itself, ahead of any queued data); the peer is lost only when that probe — sent while this end
/// was running — has had a whole answer window (`deadline − probeAfter`) without a sign of life.
///
/// The end never blames its peer for its own stall: a check that comes late (the loop did not
/// turn: a blocking handler, a loaded machine, a stopped process) proves nothing about the peer,
/// so it probes afresh and judges only after a full answer window in which it was running.
public struct KeepAlive: Sendable {
    /// How long a quiet connection waits before a probe, and how long a probe may go unanswered.
    public struct Configuration: Sendable, Equatable {
        /// Quiet after which a probe is sent.
        public var probeAfter: Duration
        /// Quiet after which a peer that did not answer the probe is lost: `probeAfter` plus the
        /// answer window.
        public var deadline: Duration

        public init(probeAfter: Duration = .milliseconds(500), deadline: Duration = .milliseconds(1500)) {
            precondition(probeAfter > .zero && deadline > probeAfter, "keep-alive needs 0 < probeAfter < deadline")
            self.probeAfter = probeAfter
            self.deadline = deadline
        }

        /// How long a probe may go unanswered.
        public var answerWindow: Duration { deadline - probeAfter }

        /// How late a check may come before it counts as this end's own stall: a quarter of the
        /// answer window, so a stall that could have hidden an answer is never judged.
        public var stallAllowance: Duration { answerWindow / 4 }
    }

    /// What ``check(at:)`` asks the connection to do.
    public enum Action: Equatable, Sendable {
        /// Nothing to do until ``armNextCheck()``.
        case wait
        /// Send a probe now.
        case probe
        /// No sign of life for this long, and a probe went unanswered: give up on the connection.
        case lost(silence: Duration)
    }

    /// The timings in force.
    public let configuration: Configuration
    private var lastHeard: Deadline
    /// When the unanswered probe was sent, if one is out.
    private var probeSent: Deadline?
    /// When the owner was last told to check, to recognise a check that comes late.
    private var due: Deadline?

    public init(configuration: Configuration = Configuration(), now: Deadline) {
        self.configuration = configuration
        lastHeard = now
    }

    /// A sign of life from the peer. True when it answers a probe: the check armed for the end of
    /// the probe's answer window is then too late (the next probe is due `probeAfter` after this),
    /// so the owner arms it again (``armNextCheck()``) — once per answered probe, not per record.
    @discardableResult
    public mutating func heard(at now: Deadline) -> Bool {
        lastHeard = now
        defer { probeSent = nil }
        return probeSent != nil
    }

    /// When ``check(at:)`` next has something to decide; the owner arms its timer for it, and a
    /// check that comes much later than this counts as the owner's own stall.
    public mutating func armNextCheck() -> Deadline {
        let next = probeSent.map { $0 + configuration.answerWindow } ?? lastHeard + configuration.probeAfter
        due = next
        return next
    }

    /// True when a check at `now` comes so late that this end must have stalled.
    public func isLate(at now: Deadline) -> Bool {
        guard let due else { return false }
        return now > due + configuration.stallAllowance
    }

    /// What to do at `now`.
    public mutating func check(at now: Deadline) -> Action {
        if isLate(at: now) {
            // We did not run when we meant to: an answer may be waiting unread. Ask again.
            probeSent = now
            return .probe
        }
        if let sent = probeSent {
            guard now >= sent + configuration.answerWindow else { return .wait }
            return .lost(silence: Duration.nanoseconds(Int64(lastHeard.nanoseconds(until: now))))
        }
        guard now >= lastHeard + configuration.probeAfter else { return .wait }
        probeSent = now
        return .probe
    }
}
