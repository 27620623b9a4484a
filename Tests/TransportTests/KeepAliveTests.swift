import Reactor
import Testing
import Transport

@Suite("Keep-alive: probes only in silence, lost at the deadline")
struct KeepAliveTests {
    let start = Deadline(nanoseconds: 1_000_000_000)

    @Test("traffic keeps it quiet")
    func busy() {
        var keepAlive = KeepAlive(now: start)
        for step in 1...100 {
            let now = start + .milliseconds(step * 100)
            keepAlive.heard(at: now)
            #expect(keepAlive.check(at: now) == .wait)
        }
    }

    @Test("silence: probe at 500 ms, again each 500 ms, lost at 1.5 s")
    func silence() {
        var keepAlive = KeepAlive(now: start)
        #expect(keepAlive.nextCheck == start + .milliseconds(500))
        #expect(keepAlive.check(at: start + .milliseconds(499)) == .wait)
        #expect(keepAlive.check(at: start + .milliseconds(500)) == .probe)
        #expect(keepAlive.check(at: start + .milliseconds(600)) == .wait)
        #expect(keepAlive.nextCheck == start + .milliseconds(1000))
        #expect(keepAlive.check(at: start + .milliseconds(1000)) == .probe)
        #expect(keepAlive.nextCheck == start + .milliseconds(1500))
        #expect(keepAlive.check(at: start + .milliseconds(1500)) == .lost(silence: .milliseconds(1500)))
    }

    @Test("an answer resets the clock")
    func answered() {
        var keepAlive = KeepAlive(now: start)
        #expect(keepAlive.check(at: start + .milliseconds(500)) == .probe)
        keepAlive.heard(at: start + .milliseconds(510))
        #expect(keepAlive.check(at: start + .milliseconds(1000)) == .wait)
        #expect(keepAlive.check(at: start + .milliseconds(1010)) == .probe)
        #expect(keepAlive.check(at: start + .milliseconds(1500)) == .wait)
        #expect(keepAlive.check(at: start + .milliseconds(2009)) == .probe)
        #expect(keepAlive.check(at: start + .milliseconds(2010)) == .lost(silence: .milliseconds(1500)))
    }
}
