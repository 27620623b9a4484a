import AnsarTestKit
import Platform
// Links under real conditions, with the release `link-node` pair: a 10 Mbit/s link between two
// namespaced hosts (root only), and a Unix-socket link streaming while `stress-ng --cpu 2`
// loads both cores. Each figure comes from the source's JSON report.
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// The absolute path of a release binary of the main package (`../.build/release/NAME`, which
/// `make bench` builds), as `Subprocess` wants one; nil if the working directory cannot be read.
func releaseExecutable(_ name: String) -> String? {
    var directory = [CChar](repeating: 0, count: 4096)
    guard getcwd(&directory, directory.count) != nil else { return nil }
    let here = String(decoding: directory.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return "\(here)/../.build/release/\(name)"
}

struct LinkReport {
    var bulkMilliseconds = 0.0
    var streamMilliseconds = 0.0
    var handleMilliseconds = 0.0
    var received = 0
    var lost = 0
    var gaps = 0

    init(_ json: String) throws {
        func field(_ name: String) throws -> Double {
            guard let value = jsonNumber(name, in: json) else {
                throw HostError("link-node report without \(name): \(json)")
            }
            return value
        }
        bulkMilliseconds = try field("bulkMilliseconds")
        streamMilliseconds = try field("streamMilliseconds")
        handleMilliseconds = try field("handleMilliseconds")
        received = Int(try field("received"))
        lost = Int(try field("lost"))
        gaps = Int(try field("gaps"))
    }
}

/// Runs a source and a sink (in `hosts` when given, else on this machine) and reads the report.
func runLinkPair(source: Host?, sink: Host?, address: String, arguments: [String], seconds: Double) throws -> LinkReport
{
    let environment = ["ANSAR_REALM_SECRET": String(repeating: "6c", count: 32)]
    let common = ["--address=\(address)", "--pure-object"] + arguments
    func start(_ host: Host?, _ role: String) throws -> Subprocess {
        if let host { return try host.start("link-node", ["--role=\(role)"] + common, environment: environment) }
        guard let linkNode = releaseExecutable("link-node") else { throw HostError("getcwd failed") }
        return try Subprocess(linkNode, ["--role=\(role)"] + common, environment: environment)
    }
    let sourceProcess = try start(source, "source")
    guard sourceProcess.waitForError(containing: "listening") else {
        throw HostError("link-node source: \(sourceProcess.errors)")
    }
    let sinkProcess = try start(sink, "sink")
    let code = sourceProcess.wait(seconds: seconds + 120)
    _ = sinkProcess.wait(seconds: 30)
    guard code == 0 else {
        throw HostError(
            "link-node source exited \(code): \(sourceProcess.errors.suffix(2000)) \(sinkProcess.errors.suffix(2000))")
    }
    return try LinkReport(sourceProcess.output)
}

/// The 10 Mbit/s link: the 16 MiB message, then a saturating 1 KiB stream for `seconds`.
func shapedLinkFigures(seconds: Double) throws -> LinkReport {
    let network = try TestNetwork(executables: "../.build/release")
    defer { network.tearDown() }
    let (a, b) = try network.addShapedPair(rate: "10mbit")
    return try runLinkPair(
        source: a, sink: b, address: "198.18.1.1:4100", arguments: ["--seconds=\(seconds)"], seconds: seconds + 30)
}

/// A Unix-socket link (1.5 s keep-alive) streaming for `seconds` while stress-ng loads both cores.
func stressedLinkFigures(seconds: Double) throws -> LinkReport? {
    guard let stress = ["/usr/bin/stress-ng", "/bin/stress-ng"].first(where: ChildProcess.isExecutable) else {
        return nil
    }
    let load = try Subprocess(stress, ["--cpu", "2", "--timeout", "\(Int(seconds) + 30)s"])
    defer {
        load.signal(SIGTERM)
        _ = load.wait(seconds: 10)
    }
    return try runLinkPair(
        source: nil, sink: nil, address: "@ansar-bench-stress-\(getpid())",
        arguments: ["--seconds=\(seconds)", "--bulk-bytes=1048576"],
        seconds: seconds)
}

/// A sink taking 1 ms a chunk while its source floods it over a Unix socket for `seconds`: the
/// rate it was delivered against the rate it could take (its handler's own time).
func slowConsumerFigures(seconds: Double) throws -> LinkReport {
    try runLinkPair(
        source: nil, sink: nil, address: "@ansar-bench-slow-\(getpid())",
        arguments: ["--seconds=\(seconds)", "--bulk-bytes=1024", "--handle-microseconds=1000"], seconds: seconds)
}
