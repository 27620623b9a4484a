import CShims

#if canImport(Glibc)
    import Glibc
#endif

/// Starting and watching child processes, for the layers above, which may not touch the pointers
/// `posix_spawn` needs. A child's stdout and stderr go to files (appended), so a runner can read a
/// result and keep logs without pipes to drain.
public enum ChildProcess {
    /// Starts `path` with `arguments` and exactly `environment`; returns its pid. Its stdout and
    /// stderr go to those files (nil: it shares this process's, and its stdin too): stderr
    /// appended, stdout truncated first unless `appendingOutput` (a result file is one run's; a
    /// log that both streams share must append from both). A `detached` child starts a session of
    /// its own, so it outlives this process and its terminal. With `readiness`, the child gets its
    /// pipe to say when it is up (see ``Readiness``).
    public static func spawn(
        _ path: String, arguments: [String], environment: [String: String], stdout: String?, stderr: String?,
        appendingOutput: Bool = false, detached: Bool = false, readiness: Readiness? = nil
    ) throws(SystemError) -> Int32 {
        try withArguments(path, arguments, environment, readiness: readiness) { argv, envp throws(SystemError) in
            try spawnFree(
                path, argv, envp, stdout: stdout, outputFlags: outputFlags(appending: appendingOutput),
                stderr: stderr, detached: detached, readiness: readiness)
        }
    }

    /// A supervisor's child: the program, and the keeper that ties it to this process.
    public struct TiedChild: Sendable {
        /// The keeper's pid: the one to wait for (it ends as the program ended), and the id of the
        /// process group to signal (``signalGroup(_:_:)`` reaches the program and what it started).
        public let keeper: Int32
        /// The program's own pid, for people: what `ps` and `kill` know it by.
        public let program: Int32
    }

    /// Starts `path` as a supervisor's child (a role): in a process group of its own, led by a
    /// keeper that ends as it ends once whatever it started has gone too, and that ends it (and
    /// them) if the calling thread ends, however it ends — call it from the thread that lives as
    /// long as the process, as a runner's main thread does. Its stdout is `stdout` (truncated, stdin
    /// /dev/null); its stderr goes to the `capturing` ``LineCapture`` stream, or to the file
    /// `stderr` (appended), or else is this process's. With `readiness`, it gets the pipe to say
    /// when it is up.
    public static func spawnTied(
        _ path: String, arguments: [String], environment: [String: String], stdout: String, stderr: String? = nil,
        readiness: Readiness? = nil, capturing: LineCapture.Stream? = nil
    ) throws(SystemError) -> TiedChild {
        // Only the child may hold the write end once it runs, so its end is the pipe's end.
        defer { capturing?.closeWriteEnd() }
        return try withArguments(path, arguments, environment, readiness: readiness) { argv, envp throws(SystemError) in
            var error: Int32 = 0
            var program: Int32 = 0
            let keeper = cshims_spawn_tied(
                path, argv, envp, stdout, outputFlags(appending: false), stderr, capturing?.writeEnd ?? -1,
                readiness?.writeEnd ?? -1, Readiness.childDescriptor, &program, &error)
            guard keeper > 0 else { throw SystemError(error, "spawn") }
            return TiedChild(keeper: keeper, program: program)
        }
    }

    private static func outputFlags(appending: Bool) -> Int32 {
        O_WRONLY | O_CREAT | (appending ? O_APPEND : O_TRUNC)
    }

    /// `body` with C arguments and environment (a readiness pipe's descriptor named in it); then,
    /// the child started, the pipe's write end closed here, as only the child may hold it.
    private static func withArguments<T>(
        _ path: String, _ arguments: [String], _ environment: [String: String], readiness: Readiness?,
        _ body: ([UnsafeMutablePointer<CChar>?], [UnsafeMutablePointer<CChar>?]) throws(SystemError) -> T
    ) throws(SystemError) -> T {
        var environment = environment
        if readiness != nil { environment[Readiness.variable] = "\(Readiness.childDescriptor)" }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        let started = try body(argv, envp)
        if let readiness {
            close(readiness.writeEnd)
            readiness.writeEnd = -1
        }
        return started
    }

    private static func spawnFree(
        _ path: String, _ argv: [UnsafeMutablePointer<CChar>?], _ envp: [UnsafeMutablePointer<CChar>?],
        stdout: String?, outputFlags: Int32, stderr: String?, detached: Bool, readiness: Readiness?
    ) throws(SystemError) -> Int32 {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A reactor thread blocks the signals it reads through signalfd, and a child would inherit
        // that mask: a role could then never be stopped by SIGTERM. Children start with no signal
        // blocked and default actions.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var flags = Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if detached { flags |= cshims_posix_spawn_setsid() }
        posix_spawnattr_setflags(&attributes, flags)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdout {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, stdout, outputFlags, 0o600)
        }
        if let stderr { posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o600) }
        if let readiness {
            posix_spawn_file_actions_adddup2(&actions, readiness.writeEnd, Readiness.childDescriptor)
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard status == 0 else { throw SystemError(status, "posix_spawn") }
        return pid
    }

    /// How a child ended.
    public enum Exit: Hashable, Sendable, CustomStringConvertible {
        case code(Int32)
        case signal(Int32)

        public var description: String {
            switch self {
            case .code(let code): return "exit \(code)"
            case .signal(let signal): return "killed by signal \(signal)"
            }
        }
    }

    /// The child's exit if it has ended (reaping it), nil while it runs.
    public static func poll(_ pid: Int32) -> Exit? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        guard result == pid else { return nil }
        return exit(from: status)
    }

    private static func exit(from status: Int32) -> Exit {
        status & 0x7F == 0 ? .code((status >> 8) & 0xFF) : .signal(status & 0x7F)
    }

    /// Waits for the child to end and reaps it.
    public static func wait(_ pid: Int32) -> Exit {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .code(-1) }
        }
        return exit(from: status)
    }

    /// Waits up to `limit` for process `pid` (a child or not) to end, asleep on a pidfd: true once it
    /// has ended (or never existed), false if it still runs at the deadline.
    public static func waitForEnd(of pid: Int32, upTo limit: Duration) -> Bool {
        let fd = cshims_pidfd_open(pid)
        guard fd >= 0 else { return errno == ESRCH }
        defer { close(fd) }
        return waitReadable(fd, upTo: limit)
    }

    /// Sends `signal` to the child.
    public static func signal(_ pid: Int32, _ signal: Int32) { kill(pid, signal) }

    /// Ends a ``spawnTied(_:arguments:environment:stdout:stderr:readiness:capturing:)`` child now,
    /// through its `keeper`: SIGKILL to the program, then to whatever the program left behind, even
    /// outside its group. SIGKILL to the group would take the keeper with it, and what had left the
    /// group would live on.
    public static func killTied(_ keeper: Int32) { kill(keeper, SIGUSR1) }

    /// Sends `signal` to the process group `pid` leads (a ``spawnTied(_:arguments:environment:stdout:stderr:readiness:capturing:)``
    /// child's keeper: the program and whatever it started), or to `pid` alone if it leads none.
    public static func signalGroup(_ pid: Int32, _ signal: Int32) {
        if kill(-pid, signal) != 0 { kill(pid, signal) }
    }

    /// The whole environment of this process.
    public static func currentEnvironment() -> [String: String] {
        var environment: [String: String] = [:]
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            index += 1
        }
        return environment
    }

    /// Whether `path` is a regular file this process may execute.
    public static func isExecutable(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }

    /// The regular files in `folder` (names only), or nil if it cannot be read.
    public static func files(in folder: String) -> [String]? {
        guard let directory = opendir(folder) else { return nil }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Copies a file, keeping its permission bits.
    public static func copy(_ source: String, to destination: String) throws(SystemError) {
        var info = stat()
        guard stat(source, &info) == 0 else { throw SystemError(errno, "stat") }
        let (bytes, mode) = try SystemAccess.readSmallFile(source, limit: 1 << 30)
        try SystemAccess.writeFileAtomically(destination, bytes, mode: mode)
    }

    /// Whether process `pid` is stopped (SIGSTOP: paused), from `/proc/PID/stat`.
    public static func isStopped(_ pid: Int32) -> Bool {
        // A /proc file says it is empty (size 0): read it as a stream.
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1_024)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        guard count > 0 else { return false }
        let bytes = buffer[..<count]
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < count else { return false }
        return bytes[close + 2] == UInt8(ascii: "T") // after "pid (name) ", the state
    }

    /// Whether process `pid` exists.
    public static func isAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno == EPERM }

    /// This program's own executable.
    public static func currentExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Takes an exclusive lock on `path` (created if need be) for as long as this process lives:
    /// the kernel frees it when the process ends, however it ends. False if another holds it.
    public static func holdLock(_ path: String) -> Bool {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        guard cshims_lock_whole_file(fd) == 0 else {
            close(fd)
            return false
        }
        return true // the descriptor stays open on purpose: it is the lock
    }

    /// Whether some process holds the lock on `path` (see ``holdLock(_:)``). Unlike a pid, a lock
    /// ends with its process, not when the parent gets round to reaping it. It only looks: a
    /// ``holdLock(_:)`` at the same moment is never refused because of it.
    public static func isLockHeld(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return cshims_whole_file_locked(fd) == 1
    }

    /// This process's id.
    public static func currentProcessID() -> Int32 { getpid() }

    /// Removes a folder and everything below it (symbolic links are removed, not followed).
    public static func removeTree(_ path: String) throws(SystemError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw SystemError(errno, "lstat") }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in files(in: path) ?? [] { try removeTree("\(path)/\(name)") }
            guard rmdir(path) == 0 else { throw SystemError(errno, "rmdir") }
        } else {
            guard unlink(path) == 0 else { throw SystemError(errno, "unlink") }
        }
    }

    /// Renames a file, replacing any at the destination.
    public static func rename(_ source: String, to destination: String) throws(SystemError) {
        guard Glibc.rename(source, destination) == 0 else { throw SystemError(errno, "rename") }
    }

    /// Removes a file.
    public static func remove(_ path: String) { unlink(path) }
}
