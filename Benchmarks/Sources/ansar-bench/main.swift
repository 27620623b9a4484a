// ansar-bench: the reactor on both backends and the transports against the raw C limit, in one run.
// Prints a table and appends JSON lines (name, value, unit, baseline, baseline_value, ratio).
import Actors
import AnsarTestKit
import CBaseline
import Logging
import Platform
import PubSub
import Reactor
import Synchronization
import Transport

#if canImport(Glibc)
    import Glibc
#endif

var resultsPath = ".bench/results.jsonl"
var quick = false
var only: String? = nil
var variantFilter: String? = nil
var sizeFilter: Int? = nil
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--results": resultsPath = arguments.next() ?? resultsPath
    case "--quick": quick = true
    case "--only": only = arguments.next()
    case "--variant": variantFilter = arguments.next()
    case "--size": sizeFilter = arguments.next().flatMap { Int($0) }
    default:
        print(
            "usage: ansar-bench [--results FILE] [--quick] [--only round-trip|one-way|dispatch|pubsub|directory|hosts|links|security|scale|peers|demo] [--variant TEXT] [--size BYTES]"
        )
        exit(2)
    }
}

// Connections log each ended connection at info; a benchmark ends thousands on purpose.
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}

let roundTrips = quick ? 5_000 : 50_000
let warmup = quick ? 500 : 5_000
let seconds = quick ? 0.6 : 3.0

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

/// Servers this run started (a nats-server): ended by ``fail(_:)`` too, which skips deinits.
let startedServers = Mutex<[pid_t]>([])

func fail(_ what: String) -> Never {
    print("ansar-bench: \(what)")
    for pid in startedServers.withLock({ $0 }) { kill(pid, SIGTERM) }
    exit(1)
}

// MARK: Round trips

let backends: [(String, Reactor.BackendChoice)] = [("uring", .uring), ("epoll", .epoll)]

/// Connects a client reactor on this thread to `bound` and runs `client` until it stops; then joins the server.
func runClient<Client: ReactorHandler>(
    _ backend: Reactor.BackendChoice, to bound: SocketAddress, _ client: inout Client, then join: () -> Void
) {
    do {
        let reactor = try Reactor(backend: backend)
        _ = try reactor.connect(to: bound, deadline: .after(.seconds(5)))
        try reactor.run(&client)
    } catch {
        fail("reactor client: \(error)")
    }
    join()
}

/// One reactor ping-pong run: `count` timed round trips after `warmup`, server on its own thread.
func reactorPingPong(_ backend: Reactor.BackendChoice, _ name: String, unixSocket: Bool, count: Int) -> PingPongClient {
    let address: SocketAddress =
        unixSocket
        ? .unixAbstract(name: "ansar-bench-\(getpid())-\(name)") : .ipv4("127.0.0.1", port: 0)
    let (bound, join) = startServer(backend: backend, address: address, handler: { EchoServer() })
    var client = PingPongClient(size: 64, warmup: warmup, count: count)
    runClient(backend, to: bound, &client, then: join)
    if let failure = client.failure { fail("reactor ping-pong (\(name)): \(failure)") }
    return client
}

// Wake-up latency on a VM drifts over seconds, so C, io_uring and epoll take turns in rounds and
// each pools its samples: drift hits all three alike.
let rounds = 10
let perRound = roundTrips / rounds

/// One way to do a 64 B ping-pong: returns the timed round trips and the allocations during them.
typealias PingPongVariant = (
    name: String, run: (_ unixSocket: Bool, _ count: Int) -> (times: [UInt64], allocations: UInt64)
)

let pingPongVariants: [PingPongVariant] =
    (backends.map { name, backend in
        (
            name,
            { unixSocket, count in
                let client = reactorPingPong(backend, name, unixSocket: unixSocket, count: count)
                return (client.log.times, client.log.allocations)
            }
        )
    }
    + [true, false].map { encrypted in
        (
            "transport \(encrypted ? "encrypted" : "plaintext"), uring",
            { unixSocket, count in
                let client = transportPingPong(encrypted: encrypted, unixSocket: unixSocket, count: count)
                return (client.log.times, client.log.allocations)
            }
        )
    } + [
        (
            "actors encrypted, uring",
            { unixSocket, count in
                let measured = actorPingPong(unixSocket: unixSocket, count: count)
                return (measured.times, measured.allocations)
            }
        )
    ]).filter { variantFilter == nil || $0.name.contains(variantFilter!) }

for (transport, unixSocket) in [("tcp", false), ("unix", true)] where only == nil || only == "round-trip" {
    var raw: [UInt64] = []
    var samples: [String: [UInt64]] = [:]
    var allocations: [String: UInt64] = [:]
    for _ in 0..<rounds {
        var times = [UInt64](repeating: 0, count: perRound)
        let result = times.withUnsafeMutableBufferPointer {
            cbaseline_ping_pong(unixSocket ? 1 : 0, 64, Int32(warmup), Int32(perRound), $0.baseAddress)
        }
        if result != 0 { fail("C ping-pong over \(transport): errno \(-result)") }
        raw += times
        for variant in pingPongVariants {
            let measured = variant.run(unixSocket, perRound)
            samples[variant.name, default: []] += measured.times
            allocations[variant.name, default: 0] += measured.allocations
        }
    }
    raw.sort()
    for variant in pingPongVariants {
        let times = samples[variant.name]!.sorted()
        for p in [50.0, 99.0, 99.9] {
            let label = p == 99.9 ? "p99.9" : "p\(Int(p))"
            figures.append(
                Figure(
                    name: "\(transport) 64 B round trip \(label) (\(variant.name))", value: percentile(times, p),
                    unit: "µs",
                    baseline: "raw C \(transport) blocking", baselineValue: percentile(raw, p)))
        }
        figures.append(
            Figure(
                name: "\(transport) heap allocations per round trip (\(variant.name), both ends)",
                value: Double(allocations[variant.name]!) / Double(times.count), unit: "allocs", baseline: "zero",
                baselineValue: 0))
    }
}

// MARK: One-way throughput

/// One reactor one-way run: messages counted by the server and the seconds they took.
func reactorOneWay(_ backend: Reactor.BackendChoice, size: Int, seconds: Double) -> (messages: UInt64, elapsed: Double)
{
    nonisolated(unsafe) var counted = (messages: UInt64(0), elapsed: 0.0)
    let (bound, join) = startServer(
        backend: backend, address: .ipv4("127.0.0.1", port: 0), handler: { FrameCounter() },
        report: { counted = ($0.messages, $0.elapsed) })
    var sender = FrameSender(size: size, seconds: seconds)
    runClient(backend, to: bound, &sender, then: join)
    return counted
}

let throughputRounds = 3

/// One way to stream frames of a size for some seconds: messages counted by the receiver, and seconds.
typealias OneWayVariant = (name: String, run: (_ size: Int, _ seconds: Double) -> (messages: UInt64, elapsed: Double))

let oneWayVariants: [OneWayVariant] =
    (backends.map { name, backend in
        (name, { size, seconds in reactorOneWay(backend, size: size, seconds: seconds) })
    }
    + [true, false].map { encrypted in
        (
            "transport \(encrypted ? "encrypted" : "plaintext"), uring",
            { size, seconds in
                transportOneWay(encrypted: encrypted, size: size, seconds: seconds)
            }
        )
    }
    + [false, true].map { codable in
        (
            "actors encrypted\(codable ? ", Codable fields" : ""), uring",
            { size, seconds in actorOneWay(size: size, seconds: seconds, codable: codable) }
        )
    }).filter { variantFilter == nil || $0.name.contains(variantFilter!) }

for size in [64, 1024, 65536] where (only == nil || only == "one-way") && (sizeFilter == nil || sizeFilter == size) {
    let label = size >= 1024 ? "\(size / 1024) KiB" : "\(size) B"
    var raw = (messages: UInt64(0), elapsed: 0.0)
    var measured: [String: (messages: UInt64, elapsed: Double)] = [:]
    var allocations: [String: UInt64] = [:]
    for _ in 0..<throughputRounds {
        var messages: UInt64 = 0
        var elapsed = 0.0
        let result = cbaseline_one_way(Int32(size), seconds / Double(throughputRounds), &messages, &elapsed)
        if result != 0 || messages == 0 { fail("C one-way \(label): errno \(-result)") }
        raw = (raw.messages + messages, raw.elapsed + elapsed)
        for variant in oneWayVariants {
            // Counted over the whole run, set-up included: what a stream allocates per turn shows.
            let before = cbaseline_allocations()
            let counted = variant.run(size, seconds / Double(throughputRounds))
            allocations[variant.name, default: 0] += cbaseline_allocations() - before
            if counted.messages == 0 { fail("one-way \(label) (\(variant.name)): nothing counted") }
            let sum = measured[variant.name] ?? (0, 0)
            measured[variant.name] = (sum.messages + counted.messages, sum.elapsed + counted.elapsed)
        }
    }
    let rawRate = Double(raw.messages) / raw.elapsed
    for variant in oneWayVariants {
        let total = measured[variant.name]!
        let rate = Double(total.messages) / total.elapsed
        figures.append(
            Figure(
                name: "one-way \(label) messages/s (\(variant.name))", value: rate,
                unit: "msg/s", baseline: "raw C tcp batched writes", baselineValue: rawRate))
        figures.append(
            Figure(
                name: "one-way \(label) heap allocations per 1,000 messages (\(variant.name), run total)",
                value: Double(allocations[variant.name]!) * 1000 / Double(max(1, total.messages)), unit: "allocs",
                baseline: "zero", baselineValue: 0))
        if size == 65536 {
            figures.append(
                Figure(
                    name: "one-way 64 KiB payload GB/s (\(variant.name))", value: rate * Double(size) / 1e9,
                    unit: "GB/s", baseline: "raw C tcp batched writes", baselineValue: rawRate * Double(size) / 1e9))
        }
    }
    if size == 65536 {
        // The crypto limit of one core, the same run: what the encrypted rows are held against.
        let sodium = sealGigabytesPerSecond(size: size, bulkThreshold: Int.max, seconds: seconds / 3)
        let libcrypto = sealGigabytesPerSecond(size: size, bulkThreshold: 0, seconds: seconds / 3)
        figures.append(
            Figure(
                name: "AES-256-GCM seal, 64 KiB records, one core GB/s (libcrypto)", value: libcrypto, unit: "GB/s",
                baseline: "libsodium's, the same records", baselineValue: sodium))
        if let encrypted = measured["transport encrypted, uring"] {
            figures.append(
                Figure(
                    name: "one-way 64 KiB GB/s (transport encrypted, uring) against one core's AEAD seal",
                    value: Double(encrypted.messages) / encrypted.elapsed * Double(size) / 1e9, unit: "GB/s",
                    baseline: "libcrypto seal, one core", baselineValue: libcrypto))
        }
    }
}

// MARK: Local dispatch

if only == nil || only == "dispatch" {
    let total = quick ? 2_000_000 : 20_000_000
    var raw = 0.0
    var measured = (messages: 0, seconds: 0.0, allocations: UInt64(0))
    for _ in 0..<throughputRounds {
        raw += cbaseline_local_dispatch(UInt64(total / throughputRounds)) / Double(throughputRounds)
        let run = localDispatch(total: total / throughputRounds)
        measured = (
            measured.messages + run.messages, measured.seconds + run.seconds, measured.allocations + run.allocations
        )
    }
    figures.append(
        Figure(
            name: "local send → handler dispatch messages/s (actors)",
            value: Double(measured.messages) / measured.seconds,
            unit: "msg/s", baseline: "raw C ring + indirect call", baselineValue: raw))
    figures.append(
        Figure(
            name: "local dispatch heap allocations per message (actors)",
            value: Double(measured.allocations) / Double(measured.messages),
            unit: "allocs", baseline: "zero", baselineValue: 0))
}

// MARK: Publish and subscribe

if only == nil || only == "pubsub" {
    let group = SocketAddress.unixAbstract(name: "ansar-bench-group-\(getpid())")
    let directory = groupDirectory(at: group)
    let trials = quick ? 5 : 20
    var discovery: [Double] = []
    var loss: [Double] = []
    var comeback: [Double] = []
    for trial in 0..<trials {
        let times = pubSubTrial(group: group, trial: trial)
        discovery.append(times.subscriberStartToAvailable)
        loss.append(times.publisherEndToDropped)
        comeback.append(times.publisherStartToAvailable)
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    for (name, values) in [
        ("pub-sub: subscriber started → Available, median (ms)", discovery),
        ("pub-sub: publisher ended → Dropped, median (ms)", loss),
        ("pub-sub: publisher started → Available, median (ms)", comeback),
    ] {
        figures.append(Figure(name: name, value: median(values), unit: "ms", baseline: "target 5 ms", baselineValue: 5))
    }
    // A round trip over a session against one over a direct connection, in turns.
    var session: [UInt64] = []
    var direct: [UInt64] = []
    var sessionAllocations: UInt64 = 0
    for _ in 0..<rounds {
        let measured = sessionPingPong(group: group, count: perRound)
        session += measured.times
        sessionAllocations += measured.allocations
        direct += actorPingPong(unixSocket: true, count: perRound).times
    }
    session.sort()
    direct.sort()
    figures.append(
        Figure(
            name: "pub-sub session 64 B round trip p50 (actors, unix)", value: percentile(session, 50), unit: "µs",
            baseline: "direct actors connection", baselineValue: percentile(direct, 50)))
    figures.append(
        Figure(
            name: "pub-sub session heap allocations per round trip",
            value: Double(sessionAllocations) / Double(session.count), unit: "allocs",
            baseline: "zero", baselineValue: 0))
    stopDirectory(directory)
}

if only == nil || only == "directory" {
    let count = 10_000
    figures.append(
        Figure(
            name: "directory refill, matcher: 10,000 listings + 10,000 searches (ms)", value: matcherRefill(count),
            unit: "ms", baseline: "the rule pairwise", baselineValue: pairwiseRefill(count)))
    figures.append(
        Figure(
            name: "directory matches per second at 20,000 entries",
            value: matchesPerSecond(entries: count, seconds: seconds),
            unit: "matches/s", baseline: "none", baselineValue: 0))
    let group = SocketAddress.unixAbstract(name: "ansar-bench-refill-\(getpid())")
    let directory = groupDirectory(at: group)
    figures.append(
        Figure(
            name: "group directory refill over sockets: 10,000 searches → 10,000 Available (ms)",
            value: groupRefill(group: group, count: count), unit: "ms", baseline: "target 1,000 ms",
            baselineValue: 1_000))
    stopDirectory(directory)
}

// MARK: Across hosts

if only == nil || only == "hosts" {
    if !TestNetwork.available {
        print("hosts: needs root, iproute2 and a kernel with network namespaces, bridges and veth pairs; skipped")
    } else if !ChildProcess.isExecutable("../.build/release/bench-node") {
        print("hosts: ../.build/release/bench-node is missing (make bench puts it there); skipped")
    } else {
        do {
            let hosts = try hostsFigures(trials: quick ? 3 : 10, pings: quick ? 500 : 2000)
            func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            // No C equivalent: the Python reference's own measurements (GROUP scope; a frozen peer)
            // stand beside them, or the issue's target.
            for (name, values, baseline, target) in [
                (
                    "hosts: subscriber launched → Available, LAN, median (ms)", hosts.launchToAvailable,
                    "Python reference", 136.0
                ),
                ("hosts: link cut → Dropped, median (ms)", hosts.cutToDropped, "Python reference", 125_100.0),
                ("hosts: link restored → Available, median (ms)", hosts.restoredToAvailable, "Python reference", 141.0),
                (
                    "hosts: restored link passes traffic → Available, median (ms)", hosts.passingToAvailable,
                    "target 150 ms", 150.0
                ),
            ] {
                figures.append(
                    Figure(name: name, value: median(values), unit: "ms", baseline: baseline, baselineValue: target))
            }
            figures.append(
                Figure(
                    name: "hosts: relayed WAN session 64 B round trip p50", value: median(hosts.relayedRoundTrip),
                    unit: "µs",
                    baseline: "direct (routed) session", baselineValue: median(hosts.directRoundTrip)))
        } catch {
            fail("hosts: \(error)")
        }
    }
}

// MARK: Links under real conditions

if only == nil || only == "links" {
    if !ChildProcess.isExecutable("../.build/release/link-node") {
        print("links: ../.build/release/link-node is missing (make bench builds it); skipped")
    } else {
        if !TestNetwork.available {
            print("links: the 10 Mbit/s link needs root and network namespaces; skipped")
        } else {
            do {
                let streamed = quick ? 5.0 : 20.0
                let shaped = try shapedLinkFigures(seconds: streamed)
                figures.append(
                    Figure(
                        name: "links: 1 KiB stream goodput over a 10 Mbit/s link (Mbit/s)",
                        value: Double(shaped.received - 1) * 1024 * 8 / (shaped.streamMilliseconds / 1000) / 1e6,
                        unit: "Mbit/s", baseline: "shaped rate", baselineValue: 10))
                figures.append(
                    Figure(
                        name: "links: 16 MiB message over a 10 Mbit/s link (s)", value: shaped.bulkMilliseconds / 1000,
                        unit: "s",
                        baseline: "at the shaped rate", baselineValue: Double(16 << 20) * 8 / 10e6))
                figures.append(
                    Figure(
                        name: "links: peer lost or gaps on the 10 Mbit/s link",
                        value: Double(shaped.lost + shaped.gaps), unit: "events",
                        baseline: "zero", baselineValue: 0))
            } catch {
                fail("links: \(error)")
            }
        }
        do {
            let slow = try slowConsumerFigures(seconds: quick ? 5 : 20)
            figures.append(
                Figure(
                    name: "links: slow consumer (1 ms a message), delivered rate (msg/s)",
                    value: Double(slow.received) / (slow.streamMilliseconds / 1000), unit: "msg/s",
                    baseline: "the consumer's own rate",
                    baselineValue: Double(slow.received) / (slow.handleMilliseconds / 1000)))
            figures.append(
                Figure(
                    name: "links: slow consumer, peer lost or gaps", value: Double(slow.lost + slow.gaps),
                    unit: "events", baseline: "zero", baselineValue: 0))
        } catch {
            fail("links: \(error)")
        }
        do {
            let streamed = quick ? 10.0 : 120.0
            if let stressed = try stressedLinkFigures(seconds: streamed) {
                figures.append(
                    Figure(
                        name: "links: peer lost in \(Int(streamed)) s of streaming under stress-ng --cpu 2",
                        value: Double(stressed.lost + stressed.gaps),
                        unit: "events", baseline: "zero", baselineValue: 0))
            } else {
                print("links: stress-ng is missing (make installs it); the loaded-machine row is skipped")
            }
        } catch {
            fail("links: \(error)")
        }
    }
}

// MARK: Security

if only == nil || only == "security" {
    let server = startAcceptingServer()
    let exchanges = keyExchangesPerSecond(seconds: seconds)
    let anonymous = keyExchangesPerSecond(seconds: seconds, identities: false)
    let handshakes = handshakesPerSecond(to: server, seconds: seconds)
    figures.append(
        Figure(
            name: "security: realm handshakes with identities per second, one at a time (both ends)",
            value: handshakes, unit: "/s", baseline: "their X25519 alone (2 key pairs, 6 shared secrets)",
            baselineValue: exchanges))
    figures.append(
        Figure(
            name: "security: X25519 of a handshake with identities, per second", value: exchanges, unit: "/s",
            baseline: "without identities (2 key pairs, 2 shared secrets)", baselineValue: anonymous))
    // The same connect, without and with 1,100 idle strangers held open for a minute's deadline.
    // The worst of 9, the first of which meets the flood still arriving.
    func worstConnect(to address: SocketAddress) -> Double {
        (0..<9).map { _ in connectMilliseconds(to: address) }.max()!
    }
    let quiet = worstConnect(to: server)
    let attacked = startAcceptingServer {
        $0.handshakeTimeout = .seconds(60)
        $0.acceptedHandshakeTimeout = .seconds(60)
    }
    let strangers = idleStrangers(1_100, to: attacked)
    if strangers.contains(where: { $0 < 0 }) { fail("slowloris: could not open 1,100 connections") }
    let underAttack = worstConnect(to: attacked)
    strangers.forEach { close($0) }
    figures.append(
        Figure(
            name: "security: member connect during a 1,100-connection slowloris, worst of 9 (ms)", value: underAttack,
            unit: "ms", baseline: "the same connect with none", baselineValue: quiet))
}

// MARK: Scale

if only == nil || only == "scale" {
    let total = 10_000
    let links = idleLinks(total: total)
    figures.append(
        Figure(
            name: "scale: memory per idle TCP link, holder, marginal 1,000 → 10,000 (KiB)", value: links.holderKiB,
            unit: "KiB", baseline: "target 4 KiB", baselineValue: 4))
    figures.append(
        Figure(
            name: "scale: of which heap blocks held per link, holder (KiB)", value: links.holderHeapKiB,
            unit: "KiB", baseline: "target 4 KiB", baselineValue: 4))
    figures.append(
        Figure(
            name: "scale: memory per idle TCP link, connecting side, marginal 1,000 → 9,000 (KiB)",
            value: links.crowdKiB, unit: "KiB", baseline: "target 4 KiB", baselineValue: 4))
    figures.append(
        Figure(
            name: "scale: links set up per second, 1,000 → 10,000, 8 handshakes in flight", value: links.linksPerSecond,
            unit: "/s", baseline: "none", baselineValue: 0))
    figures.append(
        Figure(
            name: "scale: 10,000 peers frozen → every link declared lost (s)", value: links.detectionSeconds,
            unit: "s", baseline: "keep-alive deadline", baselineValue: links.deadlineSeconds))
}

// MARK: Peers

if only == nil || only == "peers" { figures += peerFigures(fanOutTo: quick ? [1, 10] : [1, 10, 100]) }

// MARK: The demo

if only == nil || only == "demo" {
    if let times = demoRunTimes(runs: 10) {
        figures.append(
            Figure(
                name: "ansar run --main-role=sub (the seed demo), median wall time",
                value: times.sorted()[times.count / 2], unit: "ms",
                baseline: "target 100 ms", baselineValue: 100))
    } else {
        print("demo: ../.build/release/ansar is missing (make bench builds it); skipped")
    }
    if let (start, stop, restart) = supervisorTimes(runs: 10) {
        figures.append(
            Figure(
                name: "ansar start, until every role is up (pub, sub), median", value: start, unit: "ms",
                baseline: "none", baselineValue: 0))
        figures.append(
            Figure(
                name: "ansar stop (pub, sub), median", value: stop, unit: "ms", baseline: "none", baselineValue: 0))
        figures.append(
            Figure(
                name: "ansar restart pub, until sub's session is back, median", value: restart, unit: "ms",
                baseline: "none", baselineValue: 0))
    } else {
        print("supervisor: ../.build/release/pubsub-node is missing (make bench builds it); skipped")
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
    // "zero": the figure should be 0; "none": nothing to set it beside.
    let baseline = figure.baseline == "zero" ? "0" : figure.baseline == "none" ? "-" : format(figure.baselineValue)
    let ratio = figure.baseline == "zero" || figure.baseline == "none" ? "-" : format(figure.ratio) + "×"
    print(pad(figure.name, 56) + pad(format(figure.value), 12) + pad(figure.unit, 8) + pad(baseline, 12) + ratio)
}

func json(_ text: String) -> String {
    "\"" + text.unicodeScalars.map { $0 == "\"" || $0 == "\\" ? "\\\($0)" : String($0) }.joined() + "\""
}

let directory = resultsPath.split(separator: "/").dropLast().joined(separator: "/")
if !directory.isEmpty { mkdir((resultsPath.hasPrefix("/") ? "/" : "") + directory, 0o755) }
guard let file = fopen(resultsPath, "w") else { fail("cannot write \(resultsPath)") }
for figure in figures {
    let line =
        "{\"name\": \(json(figure.name)), \"value\": \(figure.value), \"unit\": \(json(figure.unit)), "
        + "\"baseline\": \(json(figure.baseline)), \"baseline_value\": \(figure.baselineValue), "
        + "\"ratio\": \(figure.ratio)}\n"
    fputs(line, file)
}
fclose(file)
print("results: \(resultsPath)")
