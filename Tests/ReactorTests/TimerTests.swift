import Platform
import Testing

@testable import Reactor

@Suite("Timers: microsecond deadlines, order, cancellation, limits")
struct TimerTests {
    @Test("timers fire in deadline order, not before their deadline", arguments: backends)
    func order(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        var recorder = Recorder()
        let start = Deadline.now()
        var firedAt: [UInt64: UInt64] = [:]
        recorder.onEvent = { event, _, _ in
            if case .timer(_, let tag) = event { firedAt[tag] = Deadline.now().nanoseconds }
        }
        // Tags are the delay in microseconds; started out of order.
        for micros: UInt64 in [3000, 250, 1500, 50, 800] {
            _ = try reactor.startTimer(at: start + .microseconds(Int64(micros)), tag: micros)
        }
        #expect(try spin(reactor, &recorder) { _ in firedAt.count == 5 })
        let tags = recorder.events.compactMap { if case .timer(_, let tag) = $0 { tag } else { nil } }
        #expect(tags == [50, 250, 800, 1500, 3000])
        for (micros, at) in firedAt {
            #expect(at >= start.nanoseconds + micros * 1000, "timer \(micros) µs fired early")
        }
    }

    @Test("a cancelled timer never fires; cancel twice is harmless", arguments: backends)
    func cancel(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        var recorder = Recorder()
        let doomed = try reactor.startTimer(after: .milliseconds(5), tag: 1)
        let kept = try reactor.startTimer(after: .milliseconds(20), tag: 2)
        #expect(reactor.cancelTimer(doomed))
        #expect(!reactor.cancelTimer(doomed))
        #expect(try spin(reactor, &recorder) { $0.has { $0 == .timer(kept, tag: 2) } })
        #expect(!recorder.has { $0 == .timer(doomed, tag: 1) })
        #expect(!reactor.cancelTimer(kept), "a fired timer is stale")
    }

    @Test("the timer limit is an error, and freed slots are reusable", arguments: backends)
    func limit(kind: BackendKind) throws {
        var limits = Limits()
        limits.timers = 8
        let reactor = try makeReactor(kind, limits: limits)
        var ids: [TimerID] = []
        for index in 0..<8 { ids.append(try reactor.startTimer(after: .seconds(60), tag: UInt64(index))) }
        #expect(throws: ReactorError.limitReached(.timers)) { try reactor.startTimer(after: .seconds(1)) }
        reactor.cancelTimer(ids[3])
        let again = try reactor.startTimer(after: .seconds(1))
        #expect(again.index == ids[3].index && again != ids[3])
    }

    @Test(
        "two owners of one reactor, each in its own timer space, tell their timers apart by space, whatever the tag",
        arguments: backends)
    func spaces(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        let mine = reactor.newTimerSpace(), theirs = reactor.newTimerSpace()
        #expect(mine != theirs && mine != .shared)
        let a = try reactor.startTimer(after: .zero, tag: 7, in: mine)
        let b = try reactor.startTimer(after: .zero, tag: 7, in: theirs)
        #expect(a.space == mine && b.space == theirs)
        var recorder = Recorder()
        #expect(try spin(reactor, &recorder) { $0.events.count >= 2 })
        let fired = recorder.events.compactMap { event -> TimerSpace? in
            if case .timer(let id, 7) = event { id.space } else { nil }
        }
        #expect(Set(fired) == [mine, theirs])
    }

    @Test("the queue orders thousands of random deadlines and cancellations")
    func queueOrder() throws {
        var queue = TimerQueue(capacity: 5000)
        var generator = SystemRandomNumberGenerator()
        var live: [TimerID: UInt64] = [:]
        for _ in 0..<5000 {
            let at = UInt64.random(in: 1...1_000_000, using: &generator)
            live[try queue.start(at: Deadline(nanoseconds: at), purpose: .user(tag: at, space: .shared))] = at
        }
        for id in live.keys.shuffled().prefix(2000) {
            let cancelled = queue.cancel(id)
            #expect(cancelled)
            live[id] = nil
        }
        var last: UInt64 = 0
        var count = 0
        while let (id, purpose) = queue.popExpired(now: Deadline(nanoseconds: .max)) {
            guard case .user(let tag, _) = purpose else {
                Issue.record("unexpected purpose")
                break
            }
            #expect(tag >= last)
            #expect(live[id] == tag)
            last = tag
            count += 1
        }
        #expect(count == 3000)
        #expect(queue.count == 0)
    }
}
