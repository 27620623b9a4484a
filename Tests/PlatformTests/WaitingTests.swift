import Testing

@testable import Platform

#if canImport(Glibc)
    import Glibc
#endif

/// Waiting without polling: a latch between threads, a child's readiness pipe, a process's end.
@Suite("Waiting on events: latch, readiness pipe, pidfd")
struct WaitingTests {
    @Test("a latch hands a value from another thread; an unset one times out empty")
    func latch() {
        let latch = Latch<Int>()
        let join = ThreadStarter.start { latch.set(7) }
        #expect(latch.wait(upTo: .seconds(30)) == 7)
        join()
        latch.set(8)
        #expect(latch.wait() == 7, "the first value stays")
        #expect(Latch<Int>().wait(upTo: .milliseconds(20)) == nil)
    }

    @Test(
        "a child that says it is ready is ready; one that says why it failed is heard; one that ends without a word is seen at once"
    )
    func readiness() throws {
        let ready = try Readiness()
        let talker = try ChildProcess.spawn(
            "/bin/sh", arguments: ["-c", "printf x >&$\(Readiness.variable)"], environment: [:], stdout: "/dev/null",
            stderr: "/dev/null",
            readiness: ready)
        #expect(ready.wait(upTo: .seconds(30)) == .ready)
        _ = ChildProcess.wait(talker)

        let silent = try Readiness()
        let quitter = try ChildProcess.spawn(
            "/bin/sh", arguments: ["-c", "exit 3"], environment: [:], stdout: "/dev/null", stderr: "/dev/null",
            readiness: silent)
        #expect(silent.wait(upTo: .seconds(30)) == .ended)
        #expect(ChildProcess.wait(quitter) == .code(3))

        // The reason is read from the pipe while the child still runs: it need not have ended.
        let failing = try Readiness()
        let complainer = try ChildProcess.spawn(
            "/bin/sh", arguments: ["-c", "printf '\\000no disk' >&$\(Readiness.variable); exec 3>&-; sleep 30"],
            environment: [:], stdout: "/dev/null", stderr: "/dev/null", readiness: failing)
        #expect(failing.wait(upTo: .seconds(30)) == .failed("no disk"))
        ChildProcess.signal(complainer, SIGKILL)
        _ = ChildProcess.wait(complainer)
    }

    @Test("the end of a process is seen through its pidfd; a running one is still running at the deadline")
    func processEnd() throws {
        let sleeper = try ChildProcess.spawn(
            "/bin/sleep", arguments: ["30"], environment: [:], stdout: "/dev/null", stderr: "/dev/null")
        #expect(!ChildProcess.waitForEnd(of: sleeper, upTo: .milliseconds(20)))
        ChildProcess.signal(sleeper, SIGKILL)
        #expect(ChildProcess.waitForEnd(of: sleeper, upTo: .seconds(30)))
        #expect(ChildProcess.wait(sleeper) == .signal(SIGKILL))
    }

    @Test(
        "a child that says it is ready after its parent stopped listening lives on: no SIGPIPE kills it, none is left pending"
    )
    func lateAnnouncement() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        close(ends[0]) // the parent's launch window passed: it closed its end
        Readiness.Announcement(descriptor: ends[1]).announce()
        var pending = sigset_t()
        sigpending(&pending)
        #expect(sigismember(&pending, SIGPIPE) == 0)
    }
}
