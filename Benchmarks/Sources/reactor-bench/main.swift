// reactor-bench: the reactor on both backends against the raw C limit, measured in one run.
// Prints a table and appends JSON lines (name, value, unit, baseline, baseline_value, ratio).
import CBaseline
import Reactor

#if canImport(Glibc)
import Glibc
#endif

var resultsPath = ".bench/results.jsonl"
var quick = false
var only: String? = nil
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--results": resultsPath = arguments.next() ?? resultsPath
    case "--quick": quick = true
    case "--only": only = arguments.next()
    default:
        print("usage: reactor-bench [--results FILE] [--quick] [--only round-trip|one-way]")
        exit(2)
    }
}

let roundTrips = quick ? 5_000 : 50_000
let warmup = quick ? 500 : 5_000
let seconds = quick ? 0.3 : 1.5

struct Figure {
    let name: String
    let value: Double
    let unit: String
    let baseline: String
    let baselineValue: Double
    /// value / baseline: under 1 is better for times, over 1 is better for rates.
    var ratio: Double { baselineValue == 0 ? 0 : value / baselineValue }
}

var figures: [Figure] = []

func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
    let index = min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)
    return Double(sorted[max(0, index)]) / 1000
}

func fail(_ what: String) -> Never {
    print("reactor-bench: \(what)")
    exit(1)
}

// MARK: Round trips

let backends: [(String, Reactor.BackendChoice)] = [("uring", .uring), ("epoll", .epoll)]

for (transport, unixSocket) in [("tcp", false), ("unix", true)] where only == nil || only == "round-trip" {
    var raw = [UInt64](repeating: 0, count: roundTrips)
    let result = raw.withUnsafeMutableBufferPointer {
        cbaseline_ping_pong(unixSocket ? 1 : 0, 64, Int32(warmup), Int32(roundTrips), $0.baseAddress)
    }
    if result != 0 { fail("C ping-pong over \(transport): errno \(-result)") }
    raw.sort()
    let baseline = "raw C \(transport) blocking"
    for (backendName, backend) in backends {
        let address: SocketAddress = unixSocket
            ? .unixAbstract(name: "ansar-bench-\(getpid())-\(backendName)") : .ipv4("127.0.0.1", port: 0)
        let (bound, join) = startServer(backend: backend, address: address, handler: { EchoServer() })
        var client = PingPongClient(size: 64, warmup: warmup, count: roundTrips)
        do {
            let reactor = try Reactor(backend: backend)
            _ = try reactor.connect(to: bound, deadline: .after(.seconds(5)))
            try reactor.run(&client)
        } catch {
            fail("reactor ping-pong: \(error)")
        }
        join()
        if let failure = client.failure { fail("reactor ping-pong over \(transport): \(failure)") }
        let times = client.times.sorted()
        for p in [50.0, 99.0, 99.9] {
            let label = p == 99.9 ? "p99.9" : "p\(Int(p))"
            figures.append(Figure(
                name: "\(transport) 64 B round trip \(label) (\(backendName))", value: percentile(times, p), unit: "µs",
                baseline: baseline, baselineValue: percentile(raw, p)))
        }
        if transport == "tcp" {
            let allocations = Double(client.allocationsAtEnd - client.allocationsAtStart) / Double(roundTrips)
            figures.append(Figure(
                name: "heap allocations per round trip (\(backendName), both ends)", value: allocations,
                unit: "allocs", baseline: "zero", baselineValue: 0))
        }
    }
}

// MARK: One-way throughput

for size in [64, 1024, 65536] where only == nil || only == "one-way" {
    var messages: UInt64 = 0
    var elapsed = 0.0
    let result = cbaseline_one_way(Int32(size), seconds, &messages, &elapsed)
    if result != 0 || messages == 0 { fail("C one-way \(size) B: errno \(-result)") }
    let rawRate = Double(messages) / elapsed
    let label = size >= 1024 ? "\(size / 1024) KiB" : "\(size) B"
    for (backendName, backend) in backends {
        nonisolated(unsafe) var counted = (messages: UInt64(0), elapsed: 0.0)
        let (bound, join) = startServer(
            backend: backend, address: .ipv4("127.0.0.1", port: 0), handler: { FrameCounter() },
            report: { counted = ($0.messages, $0.elapsed) })
        var sender = FrameSender(size: size, seconds: seconds)
        do {
            let reactor = try Reactor(backend: backend)
            _ = try reactor.connect(to: bound, deadline: .after(.seconds(5)))
            try reactor.run(&sender)
        } catch {
            fail("reactor one-way: \(error)")
        }
        join()
        if counted.messages == 0 { fail("reactor one-way \(label) (\(backendName)): nothing counted") }
        figures.append(Figure(
            name: "one-way \(label) messages/s (\(backendName))", value: Double(counted.messages) / counted.elapsed,
            unit: "msg/s", baseline: "raw C tcp batched writes", baselineValue: rawRate))
    }
}

// MARK: Report

func format(_ value: Double) -> String {
    if value >= 1_000_000 { return String(Int(value / 1000)) + " k" }
    if value >= 100 { return String(Int(value.rounded())) }
    let hundredths = Int((value * 100).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

print(pad("figure", 56) + pad("value", 12) + pad("unit", 8) + pad("raw C", 12) + "ratio")
for figure in figures {
    let baseline = figure.baseline == "zero" ? "0" : format(figure.baselineValue)
    let ratio = figure.baseline == "zero" ? "-" : format(figure.ratio) + "×"
    print(pad(figure.name, 56) + pad(format(figure.value), 12) + pad(figure.unit, 8) + pad(baseline, 12) + ratio)
}

func json(_ text: String) -> String {
    "\"" + text.unicodeScalars.map { $0 == "\"" || $0 == "\\" ? "\\\($0)" : String($0) }.joined() + "\""
}

let directory = resultsPath.split(separator: "/").dropLast().joined(separator: "/")
if !directory.isEmpty { mkdir((resultsPath.hasPrefix("/") ? "/" : "") + directory, 0o755) }
guard let file = fopen(resultsPath, "w") else { fail("cannot write \(resultsPath)") }
for figure in figures {
    let line = "{\"name\": \(json(figure.name)), \"value\": \(figure.value), \"unit\": \(json(figure.unit)), "
        + "\"baseline\": \(json(figure.baseline)), \"baseline_value\": \(figure.baselineValue), "
        + "\"ratio\": \(figure.ratio)}\n"
    fputs(line, file)
}
fclose(file)
print("results: \(resultsPath)")
