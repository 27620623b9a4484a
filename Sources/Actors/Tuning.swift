import Logging
import Platform
import Transport

/// The link and loop settings a process takes from its command line or its environment: the
/// keep-alive of each kind of link, the reactor's socket and timer tables, and how many messages
/// a loop turn may run. Nodes read `ANSAR_*` variables first, then their flags; `ansar run`,
/// `start` and `directory` take the same flags and hand them to every role through the
/// environment, so one flag tunes a whole group. Anything not set keeps its default.
public struct Tuning: Sendable, Equatable {
    /// Keep-alive of Unix-socket links (``TransportConfiguration/keepAlive``).
    public var keepAlive: KeepAlive.Configuration?
    /// Keep-alive of TCP links (``TransportConfiguration/networkKeepAlive``).
    public var networkKeepAlive: KeepAlive.Configuration?
    /// Sockets the reactor may hold (``Limits/sockets``).
    public var sockets: Int?
    /// Timers the reactor may hold (``Limits/timers``).
    public var timers: Int?
    /// Messages one loop turn may run (``RuntimeLimits/messagesPerTurn``).
    public var messagesPerTurn: Int?

    public init() {}

    /// One setting: its flag (without `--`), its environment variable, and what it takes.
    public struct Setting: Sendable {
        public let flag: String
        public let variable: String
        public let help: String
    }

    public static let settings: [Setting] = [
        Setting(
            flag: "keep-alive", variable: "ANSAR_KEEP_ALIVE",
            help:
                """
                Unix-socket links: probe after PROBE seconds of quiet, lost DEADLINE seconds after the last sign of \
                life (PROBE/DEADLINE, default 0.5/1.5)
                """
        ),
        Setting(
            flag: "network-keep-alive", variable: "ANSAR_NETWORK_KEEP_ALIVE",
            help: "TCP links, the same way (PROBE/DEADLINE, default 1/4)"),
        Setting(flag: "sockets", variable: "ANSAR_SOCKETS", help: "sockets the process may hold open (default 1024)"),
        Setting(flag: "timers", variable: "ANSAR_TIMERS", help: "timers the process may hold armed (default 4096)"),
        Setting(
            flag: "messages-per-turn", variable: "ANSAR_MESSAGES_PER_TURN",
            help: "messages run before the loop looks at the network again (default 4096)"),
    ]

    /// The settings the environment holds; an error names the variable and what is wrong.
    public static func fromEnvironment() throws(TuningError) -> Tuning {
        var tuning = Tuning()
        for setting in settings {
            guard let value = SystemAccess.environment(setting.variable), !value.isEmpty else { continue }
            try tuning.set(setting.flag, to: value, source: setting.variable)
        }
        return tuning
    }

    /// What the setting named by `flag` takes, for help texts.
    public static func help(_ flag: String) -> String { settings.first { $0.flag == flag }?.help ?? "" }

    /// True if `flag` (without `--`) is one of ``settings``.
    public static func isSetting(_ flag: String) -> Bool { settings.contains { $0.flag == flag } }

    /// Sets the setting named by `flag` from its text; `source` names where it came from, for the error.
    public mutating func set(_ flag: String, to value: String, source: String? = nil) throws(TuningError) {
        let origin = source ?? "--\(flag)"
        func count(upTo maximum: Int) throws(TuningError) -> Int {
            guard let number = Int(value), number > 0 else {
                throw TuningError("\(origin)=\(value): expected a whole number above 0")
            }
            guard number <= maximum else { throw TuningError("\(origin)=\(value): at most \(maximum)") }
            return number
        }
        switch flag {
        case "keep-alive": keepAlive = try Self.keepAlive(value, origin)
        case "network-keep-alive": networkKeepAlive = try Self.keepAlive(value, origin)
        case "sockets": sockets = try count(upTo: 1 << 20)
        case "timers": timers = try count(upTo: 1 << 24)
        case "messages-per-turn": messagesPerTurn = try count(upTo: 1 << 24)
        default: throw TuningError("--\(flag): not a tuning setting")
        }
    }

    private static func keepAlive(_ value: String, _ origin: String) throws(TuningError) -> KeepAlive.Configuration {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false).map { Double($0) }
        guard parts.count == 2, let probe = parts[0], let deadline = parts[1], probe > 0, deadline > probe,
            deadline <= 3600
        else {
            throw TuningError(
                "\(origin)=\(value): expected PROBE/DEADLINE in seconds with 0 < PROBE < DEADLINE ≤ 3600, like 0.5/1.5")
        }
        return KeepAlive.Configuration(
            probeAfter: .nanoseconds(Int64(probe * 1e9)), deadline: .nanoseconds(Int64(deadline * 1e9)))
    }

    /// These settings laid over `other`'s: what is set here wins.
    public func over(_ other: Tuning) -> Tuning {
        var merged = other
        if let keepAlive { merged.keepAlive = keepAlive }
        if let networkKeepAlive { merged.networkKeepAlive = networkKeepAlive }
        if let sockets { merged.sockets = sockets }
        if let timers { merged.timers = timers }
        if let messagesPerTurn { merged.messagesPerTurn = messagesPerTurn }
        return merged
    }

    /// The environment variables that hand these settings to a child process.
    public var environment: [String: String] {
        Dictionary(
            uniqueKeysWithValues: Self.settings.compactMap { setting in
                text(of: setting.flag).map { (setting.variable, $0) }
            })
    }

    /// The setting named by `flag` as ``set(_:to:source:)`` reads it; nil when it is not set.
    private func text(of flag: String) -> String? {
        func seconds(_ configuration: KeepAlive.Configuration) -> String {
            let probe = Double(configuration.probeAfter.nanosecondsClamped) / 1e9
            let deadline = Double(configuration.deadline.nanosecondsClamped) / 1e9
            return "\(probe)/\(deadline)"
        }
        switch flag {
        case "keep-alive": return keepAlive.map(seconds)
        case "network-keep-alive": return networkKeepAlive.map(seconds)
        case "sockets": return sockets.map { "\($0)" }
        case "timers": return timers.map { "\($0)" }
        case "messages-per-turn": return messagesPerTurn.map { "\($0)" }
        default: return nil
        }
    }

    /// Applies the settings to the three configurations a runtime is made from.
    public func apply(to transport: inout TransportConfiguration, reactor: inout Limits, runtime: inout RuntimeLimits) {
        apply(to: &transport, runtime: &runtime)
        apply(to: &reactor)
    }

    /// Applies the link and loop settings (keep-alives, messages per turn); the reactor's come
    /// with ``makeReactor(logger:)``.
    public func apply(to transport: inout TransportConfiguration, runtime: inout RuntimeLimits) {
        if let keepAlive { transport.keepAlive = keepAlive }
        if let networkKeepAlive { transport.networkKeepAlive = networkKeepAlive }
        if let messagesPerTurn { runtime.messagesPerTurn = messagesPerTurn }
    }

    /// Applies the reactor's settings (its socket and timer tables).
    public func apply(to reactor: inout Limits) {
        if let sockets { reactor.sockets = sockets }
        if let timers { reactor.timers = timers }
    }

    /// A runtime on a new reactor of the calling thread, tuned by these settings. With `logger`,
    /// every layer logs there; without, each under its own label (`ansar.reactor`,
    /// `ansar.transport`, `ansar.actors`) through the process's logging system.
    public func makeRuntime(secret: RealmSecret, identity: Identity? = nil, logger: Logger? = nil) throws(ReactorError)
        -> Runtime
    {
        var transport = TransportConfiguration(secret: secret)
        transport.identity = identity
        var runtimeLimits = RuntimeLimits()
        apply(to: &transport, runtime: &runtimeLimits)
        let reactor = try makeReactor(logger: logger ?? Logger(label: "ansar.reactor"))
        return Runtime(
            reactor: reactor, transport: transport, limits: runtimeLimits,
            logger: logger ?? Logger(label: "ansar.actors"),
            transportLogger: logger ?? Logger(label: "ansar.transport"))
    }
}

extension Tuning {
    /// Descriptors a process needs beside its sockets: logs, pipes, the loop's own.
    static let descriptorsBesideSockets = 64

    /// A reactor of the calling thread with these settings' tables, this process's descriptor
    /// limit raised to fit its sockets (as far as the process may raise it).
    public func makeReactor(logger: Logger = Logger(label: "ansar.reactor")) throws(ReactorError) -> Reactor {
        var limits = Limits()
        apply(to: &limits)
        let wanted = limits.sockets + Self.descriptorsBesideSockets
        let limit = SystemAccess.raiseDescriptorLimit(toFit: wanted)
        if limit >= 0 && limit < wanted {
            // Not fatal: the table bounds what this process holds, the kernel's limit now bounds
            // it lower, and accepts beyond it fail (EMFILE) with a warning of their own.
            logger.warning(
                "descriptor limit \(limit) is below the \(limits.sockets) sockets of the table (+\(Self.descriptorsBesideSockets)): raise the hard limit (ulimit -Hn) to hold them all"
            )
        }
        return try Reactor(limits: limits, logger: logger)
    }
}

/// A tuning setting that cannot be used: one line saying which and why.
public struct TuningError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
