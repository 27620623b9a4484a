import Platform
// The seed's demo end to end: `ansar run --main-role=sub` with the release binaries, wall time.
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `path` with `arguments` in `folder` to the end; its exit.
func runProgram(_ path: String, _ arguments: [String], in folder: String) -> ChildProcess.Exit? {
    let environment = ChildProcess.currentEnvironment()
    guard
        let pid = try? ChildProcess.spawn(
            path, arguments: arguments + ["--home-path=\(folder)/.ansar-home"], environment: environment,
            stdout: "\(folder)/stdout", stderr: "\(folder)/stderr")
    else { return nil }
    let deadline = Deadline.after(.seconds(30))
    while Deadline.now() < deadline {
        if let exit = ChildProcess.poll(pid) { return exit }
        usleep(200)
    }
    ChildProcess.signal(pid, SIGKILL)
    return nil
}

/// Median wall time of `runs` demo runs, in milliseconds; nil if the release binaries are missing.
func demoRunTimes(runs: Int) -> [Double]? {
    let bin = "../.build/release"
    guard ChildProcess.isExecutable("\(bin)/ansar") else { return nil }
    var template = Array("/tmp/ansar-bench-demo-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { return nil }
    let folder = String(cString: made)
    defer { _ = system("rm -rf \(folder)") }
    do {
        try SystemAccess.makeDirectories("\(folder)/dist")
        for name in ["publish-a-service", "subscribe-to-service"] {
            try ChildProcess.copy("\(bin)/\(name)", to: "\(folder)/dist/\(name)")
        }
    } catch {
        fail("demo set-up: \(error)")
    }
    let ansar = "\(bin)/ansar"
    for step in [
        ["create"], ["deploy", "\(folder)/dist"], ["add", "publish-a-service", "pub"],
        ["add", "subscribe-to-service", "sub"],
    ] {
        guard runProgram(ansar, step, in: folder) == .code(0) else {
            fail("demo set-up: ansar \(step.joined(separator: " ")) failed")
        }
    }
    var times: [Double] = []
    for _ in 0..<runs {
        let started = Deadline.now()
        guard runProgram(ansar, ["run", "--main-role=sub"], in: folder) == .code(0) else { fail("demo run failed") }
        times.append(Double(started.nanoseconds(until: .now())) / 1e6)
    }
    return times
}
