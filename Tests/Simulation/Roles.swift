import Actors
import Platform
import PubSub

/// A numbered message of a session: the subscriber checks none comes twice, out of order, or
/// after the session ended.
struct Numbered: Message {
    static let typeName = "sim.Numbered"
    var session: UInt64
    var sequence: Int
}

struct SendDue: Message {
    static let typeName = "sim.SendDue"
}

/// From the scenario: the publisher retracts its names, and publishes them again `after` that long.
struct RetractNow: Message {
    static let typeName = "sim.RetractNow"
    var publishAgainAfter: Duration
}

struct PublishAgain: Message {
    static let typeName = "sim.PublishAgain"
}

/// What every simulated object saw, in the order it saw it, and what broke a rule.
final class Journal {
    struct PublisherEnd {
        var sent = 0
        var ended: (reason: String, unconfirmed: Int)? = nil
        /// The publisher retracted after sending this many: all must arrive before the end.
        var retractedAfter: Int? = nil
        /// When its process was killed.
        var killedAt: Deadline? = nil
    }

    struct SubscriberEnd {
        let name: String
        /// Who speaks for the publisher: an address over the link to its process.
        let publisher: Address
        var received = 0
        var ended: String? = nil
        /// How many had arrived when the end did, and when; how many came after it.
        var receivedAtEnd = 0
        var late = 0
        var endedAt: Deadline? = nil
    }

    /// Sessions ended so far, at either end.
    var endsSoFar: Int {
        publishers.values.reduce(0) { $0 + $1.values.filter { $0.ended != nil }.count }
            + subscribers.values.reduce(0) { $0 + $1.values.filter { $0.ended != nil }.count }
    }

    /// By (publisher, session).
    var publishers: [String: [UInt64: PublisherEnd]] = [:]
    /// By (subscriber, session).
    var subscribers: [String: [UInt64: SubscriberEnd]] = [:]
    private(set) var violations: [String] = []
    private(set) var events: [String] = []
    let now: () -> Deadline

    init(now: @escaping () -> Deadline) { self.now = now }

    func note(_ who: String, _ what: String) {
        events.append("\(now().nanoseconds / 1_000_000) ms \(who): \(what)")
    }

    func violated(_ who: String, _ rule: String) {
        note(who, "VIOLATION \(rule)")
        violations.append("\(who): \(rule)")
    }

    /// A subscriber's open sessions, by the name they are for.
    func openSessions(of subscriber: String) -> [String: Int] {
        var count: [String: Int] = [:]
        for end in subscribers[subscriber, default: [:]].values where end.ended == nil {
            count[end.name, default: 0] += 1
        }
        return count
    }
}

/// Publishes `names`; to each session's subscriber it sends `burst` numbered messages every
/// `interval` (until the link is busy).
final class SimulatedPublisher: Object {
    static var messageTypes: [any Message.Type] { [Numbered.self] }
    let me: String
    let names: [ServiceName]
    let journal: Journal
    let interval: Duration
    let burst: Int
    private var subscribers: [UInt64: Address] = [:]
    /// Sessions it retracted from: no more is sent on them.
    private var retracted: Set<UInt64> = []

    let scope: Scope

    init(
        _ me: String, names: [ServiceName], scope: Scope = .group, journal: Journal,
        interval: Duration = .milliseconds(20), burst: Int = 1
    ) {
        self.me = me
        self.burst = burst
        self.names = names
        self.scope = scope
        self.journal = journal
        self.interval = interval
    }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start:
            for name in names { context.publish(name, scope: scope) }
            context.startTimer(SendDue(), after: interval, repeating: true)
        case let delivered as Delivered:
            journal.note(me, "Delivered #\(delivered.session)")
            // A session lost with its link opens again under the same number: after its end.
            if subscribers[delivered.session] != nil {
                journal.violated(me, "Delivered twice for open session \(delivered.session)")
            }
            subscribers[delivered.session] = context.returnAddress
            journal.publishers[me, default: [:]][delivered.session] = Journal.PublisherEnd()
        case let dropped as Dropped:
            journal.note(me, "Dropped #\(dropped.session) \(dropped.reason) unconfirmed \(dropped.unconfirmed)")
            ended(dropped.session, dropped.reason, dropped.unconfirmed)
        case let cleared as Cleared:
            ended(cleared.session, "cleared", 0)
        case let unconfirmed as NotConfirmed:
            journal.note(me, "NotConfirmed \(unconfirmed.count) to \(unconfirmed.destination): \(unconfirmed.reason)")
        case let retract as RetractNow:
            journal.note(me, "retracts")
            for session in subscribers.keys where !retracted.contains(session) {
                retracted.insert(session)
                journal.publishers[me]![session]!.retractedAfter = journal.publishers[me]![session]!.sent
            }
            context.retract()
            context.startTimer(PublishAgain(), after: retract.publishAgainAfter)
        case is PublishAgain:
            for name in names { context.publish(name, scope: scope) }
        case is SendDue:
            for (session, address) in subscribers.sorted(by: { $0.key < $1.key }) where !retracted.contains(session) {
                do {
                    for _ in 0..<burst {
                        let next = journal.publishers[me]?[session]?.sent ?? 0
                        try context.send(Numbered(session: session, sequence: next), to: address)
                        if Seeds.verbose { journal.note(me, "sent #\(session) \(next)") }
                        journal.publishers[me]![session]!.sent += 1
                    }
                } catch {
                    // A busy link: tried again at the next tick. A link gone: the session's end
                    // is on its way (nothing was sent, so nothing is owed).
                    if Seeds.verbose { journal.note(me, "send to #\(session) refused: \(error)") }
                    if error != .linkBusy(address) && error != .linkClosed(address) {
                        journal.violated(me, "send refused: \(error)")
                    }
                }
            }
        default:
            break
        }
    }

    private func ended(_ session: UInt64, _ reason: String, _ unconfirmed: Int) {
        guard subscribers.removeValue(forKey: session) != nil else {
            return journal.violated(me, "an end for session \(session) it did not have")
        }
        retracted.remove(session)
        journal.publishers[me]![session]!.ended = (reason, unconfirmed)
    }
}

/// Subscribes to every name with `prefix`; checks each session's numbered messages.
final class SimulatedSubscriber: Object {
    static var messageTypes: [any Message.Type] { [Numbered.self] }
    let me: String
    let prefix: String
    let journal: Journal
    let scope: Scope

    init(_ me: String, prefix: String, scope: Scope = .group, journal: Journal) {
        self.me = me
        self.prefix = prefix
        self.scope = scope
        self.journal = journal
    }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start:
            context.subscribe(.prefix(prefix), scope: scope)
        case let available as Available:
            journal.note(me, "Available #\(available.session) \(available.name)")
            if let end = journal.subscribers[me]?[available.session], end.ended == nil {
                journal.violated(me, "Available twice for open session \(available.session)")
            }
            journal.subscribers[me, default: [:]][available.session] = Journal.SubscriberEnd(
                name: available.name.text, publisher: context.returnAddress)
        case let dropped as Dropped:
            journal.note(me, "Dropped #\(dropped.session) \(dropped.reason)")
            guard journal.subscribers[me]?[dropped.session]?.ended == nil,
                journal.subscribers[me]?[dropped.session] != nil
            else { return journal.violated(me, "Dropped for session \(dropped.session) not open") }
            journal.subscribers[me]![dropped.session]!.ended = dropped.reason
            journal.subscribers[me]![dropped.session]!.receivedAtEnd =
                journal.subscribers[me]![dropped.session]!.received
        case let numbered as Numbered:
            guard let end = journal.subscribers[me]?[numbered.session] else {
                return journal.violated(me, "message \(numbered.sequence) of session \(numbered.session) never open")
            }
            if let reason = end.ended {
                journal.subscribers[me]![numbered.session]!.late += 1
                // Sent before the publisher heard of a loss or a clear here: late, not wrong. But
                // the publisher's own end comes after all it sent.
                if reason == "ended by the other end" {
                    journal.violated(me, "session \(numbered.session): message \(numbered.sequence) after Dropped")
                }
                return
            }
            if Seeds.verbose { journal.note(me, "Numbered #\(numbered.session) \(numbered.sequence)") }
            if numbered.sequence != end.received {
                journal.violated(
                    me, "session \(numbered.session): message \(numbered.sequence) where \(end.received) was due")
            }
            journal.subscribers[me]![numbered.session]!.received = numbered.sequence + 1
        default:
            break
        }
    }
}
