#if canImport(Glibc)
    import Glibc
#endif

/// Sleeps in `poll` until `fd` is readable (true) or `limit` has passed (false); signals that
/// interrupt the sleep do not shorten or lengthen it. A zero `limit` only looks.
func waitReadable(_ fd: Int32, upTo limit: Duration) -> Bool {
    let deadline = Deadline.after(limit)
    var first = true
    while true {
        let left = Deadline.now().nanoseconds(until: deadline)
        guard left > 0 || first else { return false }
        first = false
        var watch = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let count = poll(&watch, 1, Int32(clamping: (left + 999_999) / 1_000_000))
        if count < 0 && errno == EINTR { continue }
        return count > 0
    }
}
