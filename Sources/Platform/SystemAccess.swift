#if canImport(Glibc)
    import Glibc
#endif

/// Reading the environment and small files, for the memory-safe modules, which are compiled with
/// strict memory safety and so cannot call `getenv` or `read` themselves.
public enum SystemAccess {
    /// The value of environment variable `name`, if set.
    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Raises this process's soft limit on open descriptors to its hard limit, so that the socket
    /// table (``Limits/sockets``) is what bounds a busy directory, not the shell's default of 1024;
    /// with `wanted` beyond the hard limit, the hard limit too where the process may (root, up to
    /// the kernel's `nr_open`). Returns the limit now in force.
    @discardableResult
    public static func raiseDescriptorLimit(toFit wanted: Int = 0) -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        if wanted > 0 && rlim_t(wanted) > limit.rlim_max {
            var raised = limit
            raised.rlim_max = rlim_t(wanted)
            raised.rlim_cur = rlim_t(wanted)
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Stops the kernel writing a core file of this process (and of the children it starts) if it
    /// crashes: a process holding the realm secret and session keys must not leave them on disk.
    /// The soft limit only: a developer who wants cores can raise it again deliberately.
    public static func turnOffCoreDumps() {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) == 0, limit.rlim_cur != 0 else { return }
        limit.rlim_cur = 0
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit)
    }

    /// A small file's bytes and permission bits. Refuses (typed, with the path) a missing file, one
    /// that is not a regular file, or one longer than `limit` bytes.
    public static func readSmallFile(_ path: String, limit: Int = 64 * 1024) throws(SystemError) -> (
        bytes: [UInt8], mode: UInt32
    ) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(errno, "open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError(errno, "fstat") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw SystemError(EINVAL, "open (not a regular file)") }
        guard Int(info.st_size) <= limit else { throw SystemError(EFBIG, "read (longer than its limit)") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw SystemError(count < 0 ? errno : EIO, "read") }
            done += count
        }
        return (bytes, UInt32(info.st_mode) & 0o7777)
    }

    /// Writes `bytes` to `path` all or nothing: into a temporary file beside it, flushed, then
    /// renamed over the old one. A failure leaves any old file as it was. Readable by its owner
    /// only unless `mode` says otherwise. The temporary file has a name no one can guess and is
    /// made new (`O_EXCL|O_NOFOLLOW`): a link planted where it will be cannot redirect the write.
    public static func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: UInt32 = 0o600) throws(SystemError) {
        let suffix = UInt64.random(in: 0 ... .max) // the system's random source
        let temporary = "\(path).tmp-\(getpid())-\(String(suffix, radix: 16))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw SystemError(errno, "open") }
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let code = errno
                close(fd)
                unlink(temporary)
                throw SystemError(code, "write")
            }
            done += count
        }
        let synced = fsync(fd) == 0
        let code = errno
        close(fd)
        guard synced, rename(temporary, path) == 0 else {
            let failure = synced ? errno : code
            unlink(temporary)
            throw SystemError(failure, synced ? "rename" : "fsync")
        }
    }

    /// Creates `path` and its missing parents (`mkdir -p`), for their owner only unless `mode`
    /// says otherwise.
    public static func makeDirectories(_ path: String, mode: UInt32 = 0o700) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, mode_t(mode)) != 0 && errno != EEXIST { throw SystemError(errno, "mkdir") }
            prefix += "/"
        }
    }

    /// Whether something exists at `path`.
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Points standard output and standard error at the end of the file at `path` (made 0600 if
    /// new; never through a symbolic link): a background process's own log, opened anew after it
    /// has been rotated. What was buffered for the old file is written there first.
    public static func appendStandardStreams(to path: String) throws(SystemError) {
        fflush(nil)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw SystemError(errno, "open") }
        defer { close(fd) }
        guard dup2(fd, 1) >= 0, dup2(fd, 2) >= 0 else { throw SystemError(errno, "dup2") }
    }

    /// Writes `text` to standard error, unbuffered.
    public static func writeStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + done, $0.count - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            done += count
        }
    }

    /// Flushes standard output and ends the process with `code`.
    public static func exit(_ code: Int32) -> Never {
        fflush(nil) // every output stream
        Glibc.exit(code)
    }

    /// Seconds since the epoch, from the wall clock (for times people read, not for timing).
    public static func wallClock() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Whole seconds since the epoch, from the wall clock: the time stamps that travel (beacons,
    /// relay tickets), where clocks of different machines are compared.
    public static func wallClockSeconds() -> UInt64 { UInt64(max(0, wallClock())) }

    /// `bytes` as lowercase hexadecimal digits, two per byte.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] }, as: UTF8.self)
    }

    /// `2026-11-29T19:35:29`: a wall-clock time in UTC, to the second, as log lines begin.
    public static func utcTimestamp(_ seconds: Double) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    /// The last `count` bytes of the file at `path` (all of it if shorter), read from there: a log
    /// of any length costs the same. Nil if it cannot be read.
    public static func readTail(_ path: String, count: Int) -> [UInt8]? {
        guard let size = fileSize(path) else { return nil }
        return readRange(path, from: max(0, size - count), upTo: count)
    }

    /// Up to `count` bytes of the file at `path` from `offset` (fewer at its end). Nil if it cannot
    /// be read.
    public static func readRange(_ path: String, from offset: Int, upTo count: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: max(0, min(count, Int(info.st_size) - offset)))
        var done = 0
        while done < bytes.count {
            let got = bytes.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done))
            }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { break } // shorter now than it was: what was read
            done += got
        }
        return Array(bytes[..<done])
    }

    /// Which file is at `path` (its inode) and how big it is: a file followed while it grows is
    /// known to be replaced (rotated) when the inode changes or it shrinks.
    public static func fileIdentity(_ path: String) -> (inode: UInt64, size: Int)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_ino), Int(info.st_size))
    }

    /// The working directory's absolute path, if it can be read.
    public static func currentDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes out what `print` has buffered (a pipe's reader sees lines as they are printed).
    public static func flushStandardOutput() { fflush(nil) } // nil: every output stream

    /// The size of the file at `path`, if there is one.
    public static func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }
}
