import Testing
import Transport

@Suite("Backoff: exponential, capped, jittered, reset")
struct BackoffTests {
    @Test("each delay lies in [ceiling/2, ceiling]; the ceiling doubles up to the cap; reset starts over")
    func schedule() {
        var backoff = Backoff(initial: .milliseconds(10), maximum: .milliseconds(200), seed: 42)
        var ceilings: [Duration] = []
        for _ in 0..<10 {
            let ceiling = backoff.ceiling
            ceilings.append(ceiling)
            let delay = backoff.next()
            #expect(delay >= ceiling / 2 && delay <= ceiling, "\(delay) outside [\(ceiling / 2), \(ceiling)]")
        }
        #expect(Array(ceilings.prefix(6)) == [10, 20, 40, 80, 160, 200].map { Duration.milliseconds($0) })
        #expect(ceilings.suffix(4).allSatisfy { $0 == .milliseconds(200) })
        backoff.reset()
        #expect(backoff.ceiling == .milliseconds(10))
    }

    @Test("clients seeded differently spread out instead of returning in step")
    func jitter() {
        let delays = (0..<50).map { seed -> Duration in
            var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5), seed: UInt64(seed))
            return backoff.next()
        }
        #expect(Set(delays).count > 40)
    }
}
