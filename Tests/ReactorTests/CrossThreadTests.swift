import Testing

@testable import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` on a new thread; returns a join function.
func onThread(_ body: @escaping @Sendable () -> Void) -> () -> Void {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    pthread_create(
        &thread, nil,
        { argument in
            let box = Unmanaged<AnyObject>.fromOpaque(argument!).takeRetainedValue() as! Box
            box.body()
            return nil
        }, box)
    return { pthread_join(thread, nil) }
}

@Suite("Signals and posts from other threads")
struct CrossThreadTests {
    @Test("posts from two threads all arrive, one wake per batch, a full inbox refuses", arguments: backends)
    func inbox(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        let inbox = Inbox<Int>(capacity: 1024, waking: reactor.waker)
        var recorder = Recorder()
        var received: [Int] = []
        var batch: [Int] = []
        var refused = 0
        recorder.onEvent = { event, _, _ in
            if event == .woken {
                inbox.drain(into: &batch)
                received += batch
            }
        }
        let perThread = 20_000
        let refusals = Inbox<Int>(capacity: 2, waking: reactor.waker)
        let joins = (0..<2).map { thread in
            onThread {
                var retries = 0
                for value in 0..<perThread {
                    while !inbox.post(thread * perThread + value) {
                        retries += 1
                        sched_yield()
                    }
                }
                refusals.post(retries)
            }
        }
        #expect(try spin(reactor, &recorder, within: .seconds(60)) { _ in received.count == 2 * perThread })
        for join in joins { join() }
        var counts: [Int] = []
        refusals.drain(into: &counts)
        refused = counts.reduce(0, +)
        // Order per producer is preserved; nothing is lost or duplicated.
        for thread in 0..<2 {
            let mine = received.filter { $0 / perThread == thread }
            #expect(mine == Array((thread * perThread)..<((thread + 1) * perThread)))
        }
        let wakes = recorder.events.filter { $0 == .woken }.count
        #expect(wakes < received.count, "wakes are batched (\(wakes) for \(received.count) posts)")
        _ = refused // how often producers met a full inbox depends on scheduling; each was retried
        let full = Inbox<Int>(capacity: 1, waking: reactor.waker)
        #expect(full.post(1))
        #expect(!full.post(2), "a full inbox refuses instead of growing")
    }

    @Test("a burst of 10,000 signals: delivered as events, the loop keeps serving", arguments: backends)
    func signalBurst(kind: BackendKind) throws {
        let reactor = try makeReactor(kind)
        try reactor.watchSignals([SIGHUP, SIGUSR1])
        var recorder = Recorder()
        let (_, client, server) = try connectedPair(reactor, &recorder)
        recorder.echoing.insert(server)
        // Aimed at the reactor's thread, which blocks them: other threads of the test process don't.
        let target = pthread_self()
        let join = onThread {
            for index in 0..<10_000 {
                _ = pthread_kill(target, index % 2 == 0 ? SIGHUP : SIGUSR1)
            }
        }
        // Echo traffic flows while the burst arrives.
        var echoed = 0
        while echoed < 100 {
            try reactor.send(pattern(64, seed: echoed), on: client)
            echoed += 1
            #expect(try spin(reactor, &recorder) { $0.bytes[client]?.count == echoed * 64 })
        }
        join()
        #expect(
            try spin(reactor, &recorder) { recorder in
                recorder.has { $0 == .signal(SIGHUP) } && recorder.has { $0 == .signal(SIGUSR1) }
            })
        // Standard signals merge while pending: at least one of each, at most one per send.
        let count = recorder.events.filter { if case .signal = $0 { true } else { false } }.count
        #expect(count >= 2 && count <= 10_000)
        try reactor.send(pattern(64), on: client)
        #expect(try spin(reactor, &recorder) { $0.bytes[client]?.count == (echoed + 1) * 64 })
        #expect(throws: ReactorError.invalidState("signals are already watched")) { try reactor.watchSignals() }
    }

    @Test("using a reactor from another thread traps instead of corrupting it")
    func offThreadUseTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            nonisolated(unsafe) let reactor = try! Reactor()
            let join = onThread { _ = try? reactor.startTimer(after: .seconds(1)) }
            join()
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("a Reactor must be used only on the thread that created it"))
    }
}
