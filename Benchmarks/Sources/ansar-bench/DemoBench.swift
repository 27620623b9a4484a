import AnsarTestKit
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

/// Runs `ansar` in `folder` and returns its wall time in milliseconds; a failure ends the bench.
func timedAnsar(_ ansar: String, _ arguments: [String], in folder: String) -> Double {
    let started = Deadline.now()
    guard runProgram(ansar, arguments, in: folder) == .code(0) else {
        fail("ansar \(arguments.joined(separator: " ")) failed: \(Subprocess.read("\(folder)/stderr"))")
    }
    return Double(started.nanoseconds(until: .now())) / 1e6
}

/// A home in a fresh folder with the release binaries `names` deployed and `steps` done.
func benchHome(_ names: [String], steps: [[String]]) -> String? {
    let bin = "../.build/release"
    guard ChildProcess.isExecutable("\(bin)/ansar"), names.allSatisfy({ ChildProcess.isExecutable("\(bin)/\($0)") })
    else { return nil }
    var template = Array("/tmp/ansar-bench-demo-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { return nil }
    let folder = String(cString: made)
    do {
        try SystemAccess.makeDirectories("\(folder)/dist")
        for name in names { try ChildProcess.copy("\(bin)/\(name)", to: "\(folder)/dist/\(name)") }
    } catch {
        fail("bench home: \(error)")
    }
    for step in [["create"], ["deploy", "\(folder)/dist"]] + steps {
        _ = timedAnsar("\(bin)/ansar", step, in: folder)
    }
    return folder
}

/// The supervisor's figures, medians over `runs` (ms): `start` until every role is up, `stop`,
/// and `restart pub` until the subscriber, the same process throughout, has its session again.
func supervisorTimes(runs: Int) -> (start: Double, stop: Double, restart: Double)? {
    guard
        let folder = benchHome(
            ["pubsub-node"],
            steps: [
                ["add", "pubsub-node", "pub"], ["add", "pubsub-node", "sub"],
                ["set", "settings", "pub", "role=publisher"],
                ["set", "settings", "sub", "role=subscriber", "sessions=1000000"],
            ])
    else { return nil }
    defer { _ = system("rm -rf \(folder)") }
    let ansar = "../.build/release/ansar"
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    var starts: [Double] = []
    var stops: [Double] = []
    for _ in 0..<runs {
        starts.append(timedAnsar(ansar, ["start"], in: folder))
        stops.append(timedAnsar(ansar, ["stop"], in: folder))
    }
    _ = timedAnsar(ansar, ["start"], in: folder)
    defer { _ = timedAnsar(ansar, ["stop"], in: folder) }
    let log = "\(folder)/.ansar-home/logs/sub.log"
    func sessions() -> Int { Subprocess.read(log).components(separatedBy: "] welcomed").count - 1 }
    func waitFor(_ count: Int) {
        let deadline = Deadline.after(.seconds(30))
        while sessions() < count {
            guard Deadline.now() < deadline else { fail("restart: the subscriber never had session \(count)") }
            usleep(500)
        }
    }
    waitFor(1)
    var restarts: [Double] = []
    for _ in 0..<runs {
        let before = sessions()
        let started = Deadline.now()
        _ = timedAnsar(ansar, ["restart", "pub"], in: folder)
        waitFor(before + 1)
        restarts.append(Double(started.nanoseconds(until: .now())) / 1e6)
    }
    return (median(starts), median(stops), median(restarts))
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
