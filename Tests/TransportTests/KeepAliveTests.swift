import Platform
import Reactor
import Testing
import Transport

@Suite("Keep-alive: probes in quiet, lost only when a probe sent while running goes unanswered")
struct KeepAliveTests {
    let start = Deadline(nanoseconds: 1_000_000_000)

    func ms(_ milliseconds: Int) -> Deadline { start + .milliseconds(milliseconds) }

    @Test("signs of life keep it quiet")
    func busy() {
        var keepAlive = KeepAlive(now: start)
        for step in 1...100 {
            keepAlive.heard(at: ms(step * 100))
            #expect(keepAlive.check(at: ms(step * 100)) == .wait)
            _ = keepAlive.armNextCheck()
        }
    }

    @Test("quiet: one probe at 500 ms, lost when it is unanswered at 1.5 s")
    func silence() {
        var keepAlive = KeepAlive(now: start)
        #expect(keepAlive.armNextCheck() == ms(500))
        #expect(keepAlive.check(at: ms(499)) == .wait)
        #expect(keepAlive.check(at: ms(500)) == .probe)
        #expect(keepAlive.armNextCheck() == ms(1500))
        #expect(keepAlive.check(at: ms(1000)) == .wait)
        #expect(keepAlive.check(at: ms(1500)) == .lost(silence: .milliseconds(1500)))
    }

    @Test("an answer resets the clock")
    func answered() {
        var keepAlive = KeepAlive(now: start)
        _ = keepAlive.armNextCheck()
        #expect(keepAlive.check(at: ms(500)) == .probe)
        keepAlive.heard(at: ms(510))
        #expect(keepAlive.armNextCheck() == ms(1010))
        #expect(keepAlive.check(at: ms(1010)) == .probe)
        #expect(keepAlive.armNextCheck() == ms(2010))
        #expect(keepAlive.check(at: ms(2010)) == .lost(silence: .milliseconds(1500)))
    }

    @Test(
        "an answered probe asks for the check to move up: a peer silent from its answer on is lost at the deadline after it, not a window later"
    )
    func answeredProbeMovesTheCheck() {
        var keepAlive = KeepAlive(now: start)
        _ = keepAlive.armNextCheck()
        #expect(keepAlive.check(at: ms(500)) == .probe)
        #expect(keepAlive.armNextCheck() == ms(1500), "armed for the end of the answer window")
        let answered = keepAlive.heard(at: ms(510))
        #expect(answered, "the answer: re-arm")
        #expect(keepAlive.armNextCheck() == ms(1010), "the next probe is due a probe interval after the answer")
        let other = keepAlive.heard(at: ms(600))
        #expect(!other, "other records ask for nothing")
        #expect(keepAlive.armNextCheck() == ms(1100))
        #expect(keepAlive.check(at: ms(1100)) == .probe)
        #expect(keepAlive.armNextCheck() == ms(2100))
        #expect(
            keepAlive.check(at: ms(2100)) == .lost(silence: .milliseconds(1500)),
            "lost at the deadline after the last sign of life")
    }

    @Test("after our own stall it probes first and judges a whole answer window later")
    func ownStall() {
        var keepAlive = KeepAlive(now: start)
        #expect(keepAlive.armNextCheck() == ms(500))
        // The loop did not turn for 1.6 s: silence is past the deadline, yet nothing was asked.
        #expect(keepAlive.isLate(at: ms(1600)))
        #expect(keepAlive.check(at: ms(1600)) == .probe)
        #expect(keepAlive.armNextCheck() == ms(2600))
        // The answer was waiting: alive.
        keepAlive.heard(at: ms(1601))
        #expect(keepAlive.armNextCheck() == ms(2101))
        #expect(keepAlive.check(at: ms(2101)) == .probe)
    }

    @Test("a stall while a probe is out asks again instead of judging")
    func stallWhileProbing() {
        var keepAlive = KeepAlive(now: start)
        _ = keepAlive.armNextCheck()
        #expect(keepAlive.check(at: ms(500)) == .probe)
        #expect(keepAlive.armNextCheck() == ms(1500))
        #expect(keepAlive.check(at: ms(3000)) == .probe, "3 s of our own stall is not the peer's silence")
        #expect(keepAlive.armNextCheck() == ms(4000))
        #expect(keepAlive.check(at: ms(4000)) == .lost(silence: .milliseconds(4000)))
    }

    @Test("a check a little late, within the allowance, still judges")
    func slightlyLate() {
        var keepAlive = KeepAlive(now: start)
        _ = keepAlive.armNextCheck()
        #expect(keepAlive.check(at: ms(500)) == .probe)
        _ = keepAlive.armNextCheck()
        #expect(!keepAlive.isLate(at: ms(1700)))
        #expect(keepAlive.check(at: ms(1700)) == .lost(silence: .milliseconds(1700)))
    }
}

@Suite("Minimum rate: a frame left open must keep arriving")
struct MinimumRateTests {
    let start = Deadline(nanoseconds: 1_000_000_000)
    let configuration = MinimumRate.Configuration(bytesPerSecond: 1000, grace: .seconds(2))

    @Test("a trickle is too slow once the grace has passed")
    func trickle() {
        var rate = MinimumRate(configuration: configuration)
        for step in 0..<30 {
            rate.received(payload: 1, incomplete: true, at: start + .milliseconds(step * 100))
        }
        #expect(rate.check(at: start + .milliseconds(1900), excused: false) == .fine, "within the grace")
        #expect(rate.check(at: start + .milliseconds(3000), excused: false) == .tooSlow(bytesPerSecond: 9))
    }

    @Test("a big frame on a slow link arrives fast enough; completing it stops the clock")
    func slowLink() {
        var rate = MinimumRate(configuration: configuration)
        for step in 0..<100 {
            rate.received(payload: 1250, incomplete: true, at: start + .milliseconds(step * 100))
        }
        #expect(rate.check(at: start + .seconds(10), excused: false) == .fine)
        rate.received(payload: 10, incomplete: false, at: start + .seconds(10))
        #expect(rate.check(at: start + .seconds(60), excused: false) == .fine)
    }

    @Test("our own stall or pause starts the clock afresh")
    func excused() {
        var rate = MinimumRate(configuration: configuration)
        rate.received(payload: 1, incomplete: true, at: start)
        #expect(rate.check(at: start + .seconds(5), excused: true) == .fine)
        #expect(rate.check(at: start + .seconds(6), excused: false) == .fine, "the grace runs from the stall")
        #expect(rate.check(at: start + .seconds(7), excused: false) == .tooSlow(bytesPerSecond: 0))
    }
}
