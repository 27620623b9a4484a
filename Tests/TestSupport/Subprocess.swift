#if canImport(Glibc)
import Glibc
#endif

/// A child process with stdout and stderr captured in files: a real process, as a runner would
/// start one.
public final class Subprocess {
    public let pid: pid_t
    let outputPath: String
    let errorPath: String

    /// Starts `executable` (a sibling of the test binary, built with the tests) with `arguments`.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let directory = Self.buildDirectory()
        let path = "\(directory)/\(executable)"
        let stamp = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        outputPath = "/tmp/ansar-test-\(stamp).out"
        errorPath = "/tmp/ansar-test-\(stamp).err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var inherited: [String] = []
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            if !environment.keys.contains(where: { text.hasPrefix("\($0)=") }) { inherited.append(text) }
            index += 1
        }
        let envp = (inherited + environment.map { "\($0.key)=\($0.value)" }).map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var child = pid_t()
        let status = posix_spawn(&child, path, &actions, nil, argv, envp)
        guard status == 0 else { throw SubprocessError(description: "spawn \(path): \(String(cString: strerror(status)))") }
        pid = child
    }

    public struct SubprocessError: Error, CustomStringConvertible { public let description: String }

    /// The directory holding the test binary and the package's executables.
    public static func buildDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = String(decoding: buffer[0..<max(0, count)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)])
    }

    /// What the child wrote so far (after ``wait(seconds:)``: all of it).
    public var output: String { finished?.output ?? Self.read(outputPath) }
    public var errors: String { finished?.errors ?? Self.read(errorPath) }
    private var finished: (output: String, errors: String)?

    public static func read(_ path: String) -> String {
        guard let file = fopen(path, "r") else { return "" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Waits until stderr contains `text`, at most `seconds`.
    public func waitForError(containing text: String, seconds: Double = 10) -> Bool {
        for _ in 0..<Int(seconds * 200) {
            if errors.contains(text) { return true }
            usleep(5_000)
        }
        return errors.contains(text)
    }

    public func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for the exit (killing the child after `seconds`); the exit code, or 128 + signal.
    public func wait(seconds: Double = 20) -> Int32 {
        var status: Int32 = 0
        var tries = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            tries += 1
            if tries > Int(seconds * 200) {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            }
            usleep(5_000)
        }
        finished = (Self.read(outputPath), Self.read(errorPath))
        unlink(outputPath)
        unlink(errorPath)
        if status & 0x7F == 0 { return (status >> 8) & 0xFF }
        return 128 + (status & 0x7F)
    }

    /// Runs to the end: exit code, stdout, stderr.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let process = try Subprocess(executable, arguments, environment: environment)
        let code = process.wait()
        return (code, process.output, process.errors)
    }
}
