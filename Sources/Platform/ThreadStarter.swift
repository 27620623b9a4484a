import CShims

#if canImport(Glibc)
    import Glibc
#endif

/// Starts a plain OS thread — one per reactor — for the memory-safe layers, which may not touch the
/// pointers `pthread_create` needs.
public enum ThreadStarter {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Runs `body` on a new thread; call the returned function once to wait for it to end. The
    /// thread blocks every asynchronous signal: SIGINT, SIGTERM and the rest, sent to the process,
    /// go to its main thread (and to the runtime there, which watches them), never to a thread
    /// of ours where their default action would end the process without a word.
    public static func start(_ body: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        var thread = pthread_t()
        let argument = Unmanaged.passRetained(Body(body)).toOpaque()
        let status = pthread_create(
            &thread, nil,
            { argument in
                let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
                cshims_block_asynchronous_signals()
                body.run()
                return nil
            }, argument)
        precondition(status == 0, "pthread_create failed: \(status)")
        let started = thread
        return { pthread_join(started, nil) }
    }

    /// Whether the calling thread is the process's main thread.
    public static var onMainThread: Bool { cshims_is_main_thread() != 0 }
}
