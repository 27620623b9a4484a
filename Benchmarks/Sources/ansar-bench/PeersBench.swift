// The peers a user would pick instead (ZeroMQ, NATS, SwiftNIO), measured in the same run as ansar
// and the raw C baseline: the same 64 B round trip and one-way stream over TCP loopback, and one
// publisher's stream fanned out to N subscribers.
import AnsarTestKit
import CBaseline
import CPeers
import NIOPeer
import Platform

#if canImport(Glibc)
    import Glibc
#endif

/// A nats-server of this run on a loopback port the kernel chose; ended with the benchmark.
final class NATSServer {
    let process: Subprocess
    let url: String

    /// nil when nats-server is not installed (`make bench` installs it) or did not start.
    init?() {
        guard
            let path = ["/usr/sbin/nats-server", "/usr/bin/nats-server"].first(where: { (path: String) in
                access(path, X_OK) == 0
            }),
            let process = try? Subprocess(path, ["-a", "127.0.0.1", "-p", "-1"])
        else { return nil }
        self.process = process
        startedServers.withLock { $0.append(process.pid) }
        let marker = "Listening for client connections on "
        guard process.waitForError(containing: "Server is ready", seconds: 10),
            let line = process.errors.split(separator: "\n").first(where: { $0.contains(marker) }),
            let endpoint = line.split(separator: " ").last
        else {
            process.end()
            return nil
        }
        url = "nats://\(endpoint)"
    }

    deinit { process.end() }
}

/// A peer's round trip: fills `times` (nanoseconds) after `warmup` untimed ones; 0 on success.
typealias PeerRoundTrip = (name: String, run: (_ times: UnsafeMutablePointer<UInt64>, _ count: Int) -> Int32)

/// A peer's one-way stream of `size`-byte messages for `seconds`: messages and seconds, nil on failure.
typealias PeerOneWay = (name: String, run: (_ size: Int, _ seconds: Double) -> (messages: UInt64, elapsed: Double)?)

func peerRoundTrips(nats: NATSServer?) -> [PeerRoundTrip] {
    var peers: [PeerRoundTrip] = [
        ("ZeroMQ REQ/REP", { cpeers_zmq_round_trip(0, 64, Int32(warmup), Int32($1), $0) }),
        ("ZeroMQ REQ/REP CURVE", { cpeers_zmq_round_trip(1, 64, Int32(warmup), Int32($1), $0) }),
        (
            "SwiftNIO echo, plaintext",
            { times, count in
                guard let measured = try? NIOPeer.roundTrips(size: 64, warmup: warmup, count: count) else { return -1 }
                for (index, time) in measured.enumerated() { times[index] = time }
                return 0
            }
        ),
    ]
    if let nats {
        peers.append(("NATS request/reply", { cpeers_nats_round_trip(nats.url, 64, Int32(warmup), Int32($1), $0) }))
    }
    return peers
}

func peerOneWays(nats: NATSServer?) -> [PeerOneWay] {
    func measured(_ run: (UnsafeMutablePointer<UInt64>, UnsafeMutablePointer<Double>) -> Int32) -> (
        messages: UInt64, elapsed: Double
    )? {
        var messages: UInt64 = 0
        var elapsed = 0.0
        return run(&messages, &elapsed) == 0 && messages > 0 ? (messages, elapsed) : nil
    }
    var peers: [PeerOneWay] = [
        ("ZeroMQ PUSH/PULL", { size, seconds in measured { cpeers_zmq_one_way(0, Int32(size), seconds, $0, $1) } }),
        (
            "ZeroMQ PUSH/PULL CURVE",
            { size, seconds in measured { cpeers_zmq_one_way(1, Int32(size), seconds, $0, $1) } }
        ),
        ("SwiftNIO framed, plaintext", { size, seconds in try? NIOPeer.oneWay(size: size, seconds: seconds) }),
    ]
    if let nats {
        peers.append(
            (
                "NATS pub/sub",
                { size, seconds in measured { cpeers_nats_one_way(nats.url, Int32(size), seconds, $0, $1) } }
            )
        )
    }
    return peers
}

/// One fan-out trial: what every subscriber received together per second, and what was dropped.
struct FanOut {
    var deliveredPerSecond: Double
    var droppedShare: Double
}

/// A peer's fan-out trial through its C driver, which stores delivered, dropped and seconds.
func fanOut(
    _ run: (UnsafeMutablePointer<UInt64>, UnsafeMutablePointer<UInt64>, UnsafeMutablePointer<Double>) -> Int32
) -> FanOut? {
    var delivered: UInt64 = 0
    var dropped: UInt64 = 0
    var elapsed = 0.0
    guard run(&delivered, &dropped, &elapsed) == 0, elapsed > 0 else { return nil }
    return FanOut(
        deliveredPerSecond: Double(delivered) / elapsed, droppedShare: Double(dropped) / Double(delivered + dropped))
}

func zeroMQFanOut(subscribers: Int, seconds: Double) -> FanOut? {
    fanOut { cpeers_zmq_fan_out(Int32(subscribers), 2, 64, seconds, $0, $1, $2) }
}

func natsFanOut(_ nats: NATSServer, subscribers: Int, seconds: Double) -> FanOut? {
    fanOut { cpeers_nats_fan_out(nats.url, Int32(subscribers), 64, seconds, $0, $1, $2) }
}

/// Every peer row beside ansar's and raw C's, measured in turns so that drift hits all alike.
func peerFigures(fanOutTo subscriberCounts: [Int]) -> [Figure] {
    let nats = NATSServer()
    if nats == nil {
        print("peers: nats-server is missing or did not start (make bench installs it); NATS rows skipped")
    }
    var figures: [Figure] = []

    let ours: [PeerRoundTrip] = [
        (
            "ansar actors encrypted",
            { times, count in
                let measured = actorPingPong(unixSocket: false, count: count)
                for (index, time) in measured.times.prefix(count).enumerated() { times[index] = time }
                return measured.times.count >= count ? 0 : -1
            }
        )
    ]
    let trips = ours + peerRoundTrips(nats: nats)
    var raw: [UInt64] = []
    var samples: [String: [UInt64]] = [:]
    let turns = 5
    let perTurn = roundTrips / 10
    for _ in 0..<turns {
        var times = [UInt64](repeating: 0, count: perTurn)
        let result = times.withUnsafeMutableBufferPointer {
            cbaseline_ping_pong(0, 64, Int32(warmup), Int32(perTurn), $0.baseAddress)
        }
        if result != 0 { fail("C ping-pong: errno \(-result)") }
        raw += times
        for peer in trips {
            let result = times.withUnsafeMutableBufferPointer { peer.run($0.baseAddress!, perTurn) }
            if result != 0 { fail("peers: \(peer.name) round trip failed") }
            samples[peer.name, default: []] += times
        }
    }
    raw.sort()
    for peer in trips {
        let times = samples[peer.name]!.sorted()
        for p in [50.0, 99.0] {
            figures.append(
                Figure(
                    name: "peers: tcp 64 B round trip p\(Int(p)) (\(peer.name))", value: percentile(times, p),
                    unit: "µs", baseline: "raw C tcp blocking", baselineValue: percentile(raw, p)))
        }
    }

    let streams: [PeerOneWay] =
        [
            ("ansar actors encrypted", { size, seconds in actorOneWay(size: size, seconds: seconds, codable: false) }),
            (
                "ansar transport encrypted",
                { size, seconds in transportOneWay(encrypted: true, size: size, seconds: seconds) }
            ),
        ] + peerOneWays(nats: nats)
    var rawStream = (messages: UInt64(0), elapsed: 0.0)
    var streamed: [String: (messages: UInt64, elapsed: Double)] = [:]
    for _ in 0..<throughputRounds {
        var messages: UInt64 = 0
        var elapsed = 0.0
        let result = cbaseline_one_way(64, seconds / Double(throughputRounds), &messages, &elapsed)
        if result != 0 || messages == 0 { fail("C one-way: errno \(-result)") }
        rawStream = (rawStream.messages + messages, rawStream.elapsed + elapsed)
        for peer in streams {
            guard let counted = peer.run(64, seconds / Double(throughputRounds)) else {
                fail("peers: \(peer.name) one-way failed")
            }
            let sum = streamed[peer.name] ?? (0, 0)
            streamed[peer.name] = (sum.messages + counted.messages, sum.elapsed + counted.elapsed)
        }
    }
    let rawRate = Double(rawStream.messages) / rawStream.elapsed
    for peer in streams {
        let total = streamed[peer.name]!
        figures.append(
            Figure(
                name: "peers: one-way 64 B messages/s (\(peer.name))", value: Double(total.messages) / total.elapsed,
                unit: "msg/s", baseline: "raw C tcp batched writes", baselineValue: rawRate))
    }

    for subscribers in subscriberCounts {
        var trials: [(String, FanOut?)] = [
            (
                "ansar actors encrypted",
                FanOut(deliveredPerSecond: actorFanOut(links: subscribers, seconds: seconds), droppedShare: 0)
            ),
            ("ZeroMQ PUB/SUB", zeroMQFanOut(subscribers: subscribers, seconds: seconds)),
        ]
        if let nats { trials.append(("NATS", natsFanOut(nats, subscribers: subscribers, seconds: seconds))) }
        for (name, trial) in trials {
            guard let trial else { fail("peers: \(name) fan-out to \(subscribers) failed") }
            figures.append(
                Figure(
                    name: "peers: fan-out 64 B to \(subscribers), delivered messages/s (\(name))",
                    value: trial.deliveredPerSecond, unit: "msg/s", baseline: "raw C tcp batched writes",
                    baselineValue: rawRate))
            figures.append(
                Figure(
                    name: "peers: fan-out 64 B to \(subscribers), share dropped (\(name))", value: trial.droppedShare,
                    unit: "share", baseline: "zero", baselineValue: 0))
        }
    }
    return figures
}
