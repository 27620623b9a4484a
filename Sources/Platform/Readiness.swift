import CShims

#if canImport(Glibc)
    import Glibc
#endif

/// A detached child's word that it is up, without polling: the parent keeps the read end of a
/// pipe, the child gets the write end as descriptor 3 (named by `ANSAR_READY_FD`) and writes one
/// byte once it is ready. A child that ends first closes the pipe unwritten, which the parent
/// sees at once instead of at its deadline; one that knows why it failed says so first (a zero
/// byte, then the reason), so the parent need not look for it in a log the child may not have
/// written yet.
public final class Readiness {
    /// Names the child's descriptor.
    public static let variable = "ANSAR_READY_FD"
    /// Where the child finds the write end.
    static let childDescriptor: Int32 = 3

    let readEnd: Int32
    /// Open in the parent until the child has it (see ``ChildProcess/spawn``).
    var writeEnd: Int32

    /// What ``wait(upTo:)`` saw.
    public enum Outcome: Equatable, Sendable {
        case ready
        /// The child closed the pipe (ended, usually) without saying it was ready.
        case ended
        /// The child said why it could not become ready.
        case failed(String)
        case timedOut
    }

    public init() throws(SystemError) {
        var ends: [Int32] = [0, 0]
        guard cshims_pipe_cloexec(&ends) == 0 else { throw SystemError(errno, "pipe2") }
        (readEnd, writeEnd) = (ends[0], ends[1])
    }

    deinit {
        close(readEnd)
        if writeEnd >= 0 { close(writeEnd) }
    }

    /// Waits up to `limit` for the child's word.
    public func wait(upTo limit: Duration) -> Outcome {
        guard waitReadable(readEnd, upTo: limit) else { return .timedOut }
        var byte: UInt8 = 0
        guard read(readEnd, &byte, 1) == 1 else { return .ended }
        guard byte == Self.failureMark else { return .ready }
        // The reason follows at once and the pipe closes after it: read to the end, bounded.
        var reason: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while reason.count < Self.reasonLimit, waitReadable(readEnd, upTo: .seconds(1)) {
            let count = read(readEnd, &chunk, chunk.count)
            guard count > 0 else { break }
            reason += chunk[..<count]
        }
        return .failed(String(decoding: reason.prefix(Self.reasonLimit), as: UTF8.self))
    }

    /// The first byte of a failure's word; any other first byte says ready.
    static let failureMark: UInt8 = 0
    /// The most of a reason the parent reads.
    static let reasonLimit = 4_096

    /// In the child: the parent's pipe if it was started with one. The descriptor is taken out of
    /// the environment and kept from the child's own children, so only this process can answer.
    /// Call it before starting threads: it unsets the environment variable.
    public static func inherited() -> Announcement? {
        guard let text = SystemAccess.environment(variable), let fd = Int32(text), fd >= 0 else { return nil }
        unsetenv(variable)
        guard fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else { return nil }
        return Announcement(descriptor: fd)
    }

    /// The child's end: says ready once.
    public final class Announcement: @unchecked Sendable {
        private var descriptor: Int32

        init(descriptor: Int32) { self.descriptor = descriptor }

        deinit { if descriptor >= 0 { close(descriptor) } }

        /// Tells the parent this process is ready; later calls (and ``fail(_:)``) do nothing.
        public func announce() { say([1]) }

        /// Tells the parent why this process will not become ready; after ``announce()``, or a
        /// second time, it does nothing.
        public func fail(_ reason: String) {
            say([Readiness.failureMark] + Array(reason.utf8.prefix(Readiness.reasonLimit)))
        }

        private func say(_ bytes: [UInt8]) {
            guard descriptor >= 0 else { return }
            // A parent that stopped listening (its launch window passed: a loaded machine) has
            // closed the read end: the write fails with EPIPE, and the SIGPIPE it raises is taken
            // here rather than ending this process. At most a few KiB into an empty pipe: one
            // write, never blocked.
            var pipeSignal = sigset_t()
            var before = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, &before)
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EPIPE {
                var now = timespec()
                _ = sigtimedwait(&pipeSignal, nil, &now)
            }
            pthread_sigmask(SIG_SETMASK, &before, nil)
            close(descriptor)
            descriptor = -1
        }
    }
}
