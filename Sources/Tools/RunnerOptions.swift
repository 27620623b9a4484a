import ArgumentParser
import Logging
import ProcessShim

/// Where `run` and `start` send their roles' logs, and how big a log may grow: checked before
/// anything starts, and passed on to a runner started in the background.
struct RoleLogOptions: ParsableArguments {
    @Option(
        help: """
            Every role logs from this level up (TRACE, DEBUG, INFO, NOTICE, WARNING, ERROR, NONE) to the runner's \
            stderr (group.log for `start`) instead of its own file.
            """)
    var debugLevel: String?
    @Option(help: "A role's log becomes ROLE.log.1 past this size, while it runs (K, M or G; bytes without).")
    var logLimit = "4M"

    /// The checked level (nil: none given), or a refusal naming the flag.
    func level() throws(ToolError) -> Logger.Level?? {
        guard let debugLevel else { return nil }
        guard let level = Logs.level(named: debugLevel) else {
            throw ToolError("--debug-level=\(debugLevel): expected \(Logs.levelNames)")
        }
        return level
    }

    /// The limit in bytes: at least 4 KiB, so that a line or two always fit.
    func limit() throws(ToolError) -> Int { try Self.logLimit(logLimit) }

    /// `--log-limit`'s text in bytes (K, M or G; bytes without), at least 4 KiB.
    static func logLimit(_ text: String) throws(ToolError) -> Int {
        let multipliers: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = Substring(text)
        var multiplier = 1
        if let last = digits.last?.uppercased().first, let scale = multipliers[last] {
            multiplier = scale
            digits = digits.dropLast()
        }
        guard let count = Int(digits), count > 0, count <= (1 << 40) / multiplier, count * multiplier >= 4_096 else {
            throw ToolError("--log-limit=\(text): expected a size of 4K or more, like 512K, 4M or 1G")
        }
        return count * multiplier
    }

    /// The same options, for a runner started in the background.
    var arguments: [String] { (debugLevel.map { ["--debug-level=\($0)"] } ?? []) + ["--log-limit=\(logLimit)"] }
}

/// The restart policy's group-wide part (each role's count of retries is in its entry).
struct RestartOptions: ParsableArguments {
    @Option(help: "A role that ran this many seconds before it failed has all its retries again.")
    var healthyAfter = 60.0

    func healthyAfterSeconds() throws(ToolError) -> Double {
        guard healthyAfter.isFinite, healthyAfter >= 0 else {
            throw ToolError("--healthy-after=\(healthyAfter): expected seconds, 0 or more")
        }
        return healthyAfter
    }

    /// The same option, for a runner started in the background.
    var arguments: [String] { ["--healthy-after=\(healthyAfter)"] }
}
