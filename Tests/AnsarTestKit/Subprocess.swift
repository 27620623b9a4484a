import Platform
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Looks at `condition` every 5 ms for at most `seconds` (a bounded wait for something another
/// process does, never a measure of speed): whether it came true.
public func within(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    for _ in 0..<Int(seconds * 200) {
        if try condition() { return true }
        usleep(5_000)
    }
    return try condition()
}

/// Looks at `condition` every 5 ms for as long as `progress` keeps moving: false once it has stood
/// still for `stall` seconds (a wait for a long ramp that fails soon after the ramp stops, where one
/// deadline for the whole would have to be long enough for the slowest machine).
public func whileProgressing(stall seconds: Double, _ progress: () -> Int, _ condition: () -> Bool) -> Bool {
    var last = progress()
    var still = 0
    while !condition() {
        let now = progress()
        if now != last {
            last = now
            still = 0
        } else if still >= Int(seconds * 200) {
            return condition()
        }
        still += 1
        usleep(5_000)
    }
    return true
}

/// A child process with stdout and stderr captured in files: a real process, as a runner would
/// start one (through the same `ChildProcess` the runner uses).
public final class Subprocess {
    public let pid: pid_t
    let outputPath: String
    let errorPath: String

    /// Starts `executable` (a sibling of the test binary, built with the tests, or an absolute
    /// path) with `arguments`, in this process's environment with `environment` laid over it.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let stamp = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        outputPath = "/tmp/ansar-test-\(stamp).out"
        errorPath = "/tmp/ansar-test-\(stamp).err"
        let merged = ChildProcess.currentEnvironment().merging(environment) { _, override in override }
        pid = try ChildProcess.spawn(
            executable.hasPrefix("/") ? executable : "\(Self.buildDirectory())/\(executable)", arguments: arguments,
            environment: merged, stdout: outputPath, stderr: errorPath)
    }

    /// The directory holding the test binary and the package's executables.
    public static func buildDirectory() -> String {
        let executable = ChildProcess.currentExecutable() ?? ""
        return String(executable[..<(executable.lastIndex(of: "/") ?? executable.endIndex)])
    }

    /// What the child wrote so far (after ``wait(seconds:)``: all of it).
    public var output: String { finished?.output ?? Self.read(outputPath) }
    public var errors: String { finished?.errors ?? Self.read(errorPath) }
    private var finished: (output: String, errors: String, code: Int32)?

    public static func read(_ path: String) -> String {
        (try? SystemAccess.readSmallFile(path, limit: 64 << 20)).map { String(decoding: $0.bytes, as: UTF8.self) } ?? ""
    }

    /// Waits until stderr contains `text`, at most `seconds`.
    public func waitForError(containing text: String, seconds: Double = 10) -> Bool {
        within(seconds) { errors.contains(text) }
    }

    public func signal(_ number: Int32) { ChildProcess.signal(pid, number) }

    /// The child's resident memory in KiB (`/proc/PID/statm`), nil once it has exited.
    public var residentKiB: Int? { Self.residentKiB(of: pid) }

    /// A process's resident memory in KiB (`/proc/PID/statm`), nil if it is gone or a zombie.
    public static func residentKiB(of pid: pid_t) -> Int? {
        let fd = open("/proc/\(pid)/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
        guard count > 0 else { return nil }
        let fields = String(decoding: buffer[..<count], as: UTF8.self).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]), pages > 0 else { return nil } // a zombie has none
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    }

    /// Kills the child and reaps it. A child left a zombie is not only untidy: Swift Testing's
    /// exit-test monitor waits on any child, and spins on one it does not own.
    public func end() {
        guard finished == nil else { return }
        ChildProcess.signal(pid, SIGKILL)
        _ = wait(seconds: 0)
    }

    deinit {
        // Reaped if it has ended by now; one still running is the test's to end.
        if finished == nil { _ = ChildProcess.poll(pid) }
    }

    /// Waits for the exit (killing the child after `seconds`); the exit code, or 128 + signal.
    public func wait(seconds: Double = 20) -> Int32 {
        if let finished { return finished.code } // waited for already: the pid is gone
        var exit: ChildProcess.Exit?
        for _ in 0..<Int(seconds * 200) {
            exit = ChildProcess.poll(pid)
            if exit != nil { break }
            usleep(5_000)
        }
        if exit == nil {
            ChildProcess.signal(pid, SIGKILL)
            while exit == nil {
                exit = ChildProcess.poll(pid)
                usleep(1_000)
            }
        }
        let code: Int32 =
            switch exit! {
            case .code(let code): code
            case .signal(let signal): 128 + signal
            }
        finished = (Self.read(outputPath), Self.read(errorPath), code)
        ChildProcess.remove(outputPath)
        ChildProcess.remove(errorPath)
        return code
    }

    /// Runs to the end: exit code, stdout, stderr.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (
        Int32, String, String
    ) {
        let process = try Subprocess(executable, arguments, environment: environment)
        let code = process.wait()
        return (code, process.output, process.errors)
    }
}
