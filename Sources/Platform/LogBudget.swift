/// How many lines of one kind a process writes per second: a flood of refusals (a hostile peer
/// repeating itself) must not fill the disk or hide everything else in the log. The first
/// `perSecond` of each second are written; the rest are counted and said in one line when the
/// next is allowed. Sans-I/O: the caller writes what ``admit(at:)`` allows.
public struct LogBudget: Sendable {
    public let perSecond: Int
    private var windowStart = Deadline(nanoseconds: 0)
    private var used = 0
    private var dropped = 0

    public init(perSecond: Int = 10) { self.perSecond = perSecond }

    /// What to do with a line at `now`.
    public enum Verdict: Equatable, Sendable {
        /// Write it; `dropped` lines of its kind were left out before it.
        case write(dropped: Int)
        case skip
    }

    public mutating func admit(at now: Deadline = .now()) -> Verdict {
        if now >= windowStart + .seconds(1) {
            windowStart = now
            used = 0
        }
        guard used < perSecond else {
            dropped += 1
            return .skip
        }
        used += 1
        defer { dropped = 0 }
        return .write(dropped: dropped)
    }
}

extension LogBudget {
    /// `text` as a log line may carry what a peer sent: control characters (a forged newline
    /// would fake a line of its own) shown as escapes, and at most `limit` bytes of it, with how
    /// many more there were.
    public static func shown(_ text: String, limit: Int = 240) -> String {
        var shown = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                return shown + "… (\(text.utf8.count) bytes in all)"
            }
            if scalar.value < 0x20 || scalar.value == 0x7F {
                shown += scalar.escaped(asASCII: true)
            } else {
                shown.unicodeScalars.append(scalar)
            }
            count += scalar.utf8.count
        }
        return shown
    }
}
