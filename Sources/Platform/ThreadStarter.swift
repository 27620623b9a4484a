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

    /// Runs `body` on a new thread; call the returned function once to wait for it to end.
    public static func start(_ body: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        var thread = pthread_t()
        let argument = Unmanaged.passRetained(Body(body)).toOpaque()
        let status = pthread_create(
            &thread, nil,
            { argument in
                let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
                body.run()
                return nil
            }, argument)
        precondition(status == 0, "pthread_create failed: \(status)")
        let started = thread
        return { pthread_join(started, nil) }
    }
}
