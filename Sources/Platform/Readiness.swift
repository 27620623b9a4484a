import CShims

#if canImport(Glibc)
    import Glibc
#endif

/// A detached child's word that it is up, without polling: the parent keeps the read end of a
/// pipe, the child gets the write end as descriptor 3 (named by `ANSAR_READY_FD`) and writes one
/// byte once it is ready. A child that ends first closes the pipe unwritten, which the parent
/// sees at once instead of at its deadline.
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
        return read(readEnd, &byte, 1) == 1 ? .ready : .ended
    }

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

        /// Tells the parent this process is ready; later calls do nothing.
        public func announce() {
            guard descriptor >= 0 else { return }
            var byte: UInt8 = 1
            _ = write(descriptor, &byte, 1)
            close(descriptor)
            descriptor = -1
        }
    }
}
