import Platform
import Testing

@Suite("A log budget: a flood of one kind of line is a few lines and a count")
struct LogBudgetTests {
    @Test("ten a second are written; the rest are counted and said with the next one written")
    func budget() {
        var budget = LogBudget(perSecond: 10)
        let start = Deadline(nanoseconds: 5_000_000_000)
        let verdicts = (0..<1_000).map { budget.admit(at: start + .microseconds($0)) }
        #expect(verdicts.filter { $0 != .skip }.count == 10)
        #expect(verdicts.prefix(10).allSatisfy { $0 == .write(dropped: 0) })
        #expect(budget.admit(at: start + .seconds(1)) == .write(dropped: 990))
        #expect(budget.admit(at: start + .seconds(1) + .milliseconds(1)) == .write(dropped: 0))
    }

    @Test("what a peer sent is shown escaped and clipped: no forged line, no 16 MiB line")
    func shown() {
        #expect(LogBudget.shown("plain") == "plain")
        #expect(LogBudget.shown("a\nfake line\u{1B}[2J") == "a\\nfake line\\u{1B}[2J")
        let long = String(repeating: "x", count: 1 << 20)
        #expect(LogBudget.shown(long, limit: 8) == "xxxxxxxx… (1048576 bytes in all)")
    }
}
