import ArgumentParser
import Platform
import ProcessShim

#if canImport(Glibc)
    import Glibc
#endif

/// A line of a role's log as the runner captured it: `TIME [ROLE] TEXT`, TIME the line's own (a
/// node's log line starts with one) or its arrival's.
struct CapturedLine {
    /// `YYYY-MM-DDTHH:MM:SS`: text order is time order.
    let time: Substring
    let role: Substring?
    let text: Substring

    init?(_ line: Substring) {
        guard Self.startsWithTime(line) else { return nil }
        time = line.prefix(19)
        guard let space = line.firstIndex(of: " ") else {
            role = nil
            text = ""
            return
        }
        var rest = line[line.index(after: space)...]
        if rest.first == "[", let close = rest.firstIndex(of: "]") {
            role = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...].drop { $0 == " " }
        } else {
            role = nil
        }
        text = rest
    }

    static func startsWithTime(_ line: Substring) -> Bool {
        LineCapture.timeEnd(line.utf8) != nil
    }
}

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a role's log, or every role's interleaved by time; -f follows it as it grows.",
        discussion:
            """
            Each line the runner captured starts with its time (UTC, 2026-11-29T19:35:29) and [ROLE]. Times for \
            --from and --to (UTC): 2026-11-29T19:35:29, or its start: 2026-11-29T19:35, 2026-11-29, 2026. Examples: ansar log; \
            ansar log pub --last 5m; ansar log pub --from 2026-11-29T19:00 --to 2026-11-29T20:00; ansar log -f
            """
    )
    @OptionGroup var home: HomeOption
    @Argument(help: "The role (none: every role; `group` for the runner's own log).") var role: String?
    @Option(help: "Only the last N lines.") var lines: Int?
    @Option(help: "Only lines from the last SPAN: 30s, 5m, 2h, 1d.") var last: String?
    @Option(help: "Only lines at or after this time.") var from: String?
    @Option(help: "Only lines before this time.") var to: String?
    @Flag(name: [.customShort("f"), .long], help: "Keep printing lines as they are written, until Ctrl-C.")
    var follow = false
    @Flag(help: "Print each line as JSON: time, role, text.") var json = false

    /// The most read of one file.
    static let readLimit = 64 << 20

    func run() throws {
        try perform { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            if let lines, lines < 0 { throw ToolError("--lines \(lines): expected 0 or more") }
            let paths: [String]
            switch role {
            case "group"?: paths = [home.groupLog]
            case let role?:
                _ = try home.role(role)
                paths = [home.log(role)]
            case nil: paths = try home.roles().map { home.log($0.name) }
            }
            var begin = try from.map { value throws(ToolError) in try Self.time(value, flag: "--from") }
            let end = try to.map { value throws(ToolError) in try Self.time(value, flag: "--to") }
            if let last {
                guard let span = Self.seconds(last) else {
                    throw ToolError("--last \(last): use a number and s, m, h or d (30s, 5m, 2h, 1d)")
                }
                begin = SystemAccess.utcTimestamp(SystemAccess.wallClock() - span)
            }
            // A rotated log's older half comes first.
            let texts = paths.map { path in [path + ".1", path].compactMap(Self.read).joined() }
            let merged = Self.interleave(texts.map { Self.select($0, from: begin, to: end) })
            for line in merged.suffix(lines ?? merged.count) { print(render(line)) }
            guard follow else { return }
            var followed = paths.map { Followed(path: $0) }
            while true {
                for index in followed.indices {
                    for line in followed[index].newLines() where Self.keeps(line, to: end) { print(render(line)) }
                }
                SystemAccess.flushStandardOutput()
                usleep(200_000) // a terminal's pace; nothing waits on it
            }
        }
    }

    private func render(_ line: Substring) -> String {
        guard json else { return String(line) }
        let parsed = CapturedLine(line)
        return JSON.object([
            ("time", parsed.map { .string(String($0.time)) } ?? .null),
            ("role", parsed?.role.map { .string(String($0)) } ?? .null),
            ("text", .string(String(parsed?.text ?? line))),
        ]).description
    }

    static func read(_ path: String) -> String? {
        guard let size = SystemAccess.fileSize(path), let bytes = SystemAccess.readTail(path, count: readLimit)
        else { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        if size > readLimit, let newline = text.firstIndex(of: "\n") {
            text = String(text[text.index(after: newline)...])
        }
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        return text
    }

    /// The lines between the times; a line without a time (from an older log, or a piece of a
    /// long one) goes with the line before it.
    static func select(_ text: String, from begin: String?, to end: String?) -> [Substring] {
        var keep = begin == nil
        var chosen: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0)
        {
            if CapturedLine.startsWithTime(line) {
                let time = line.prefix(19)
                keep = (begin.map { time >= $0 } ?? true) && (end.map { time < $0 } ?? true)
            }
            if keep { chosen.append(line) }
        }
        return chosen
    }

    static func keeps(_ line: Substring, to end: String?) -> Bool {
        guard let end, CapturedLine.startsWithTime(line) else { return true }
        return line.prefix(19) < end
    }

    /// Several logs as one, by time; lines of one time keep their logs' order.
    static func interleave(_ logs: [[Substring]]) -> [Substring] {
        guard logs.count > 1 else { return logs.first ?? [] }
        var positions = logs.map { _ in 0 }
        // Each log's last time: a line without one stays with the line before it.
        var times = logs.map { _ in Substring("") }
        func time(_ log: Int) -> Substring {
            let line = logs[log][positions[log]]
            return CapturedLine.startsWithTime(line) ? line.prefix(19) : times[log]
        }
        var merged: [Substring] = []
        merged.reserveCapacity(logs.reduce(0) { $0 + $1.count })
        while let next = logs.indices.filter({ positions[$0] < logs[$0].count }).min(by: { time($0) < time($1) }) {
            times[next] = time(next)
            merged.append(logs[next][positions[next]])
            positions[next] += 1
        }
        return merged
    }

    /// A UTC time as the log lines start with it, to compare as text: `2026`, `2026-11`,
    /// `2026-11-29`, `2026-11-29T19`, `2026-11-29T19:35` or `2026-11-29T19:35:29` (a space may
    /// stand for the T), the rest taken as the start of that year, month, day, hour or minute.
    static func time(_ text: String, flag: String) throws(ToolError) -> String {
        let given = String(text.map { $0 == " " ? "T" : $0 })
        let template = "0000-01-01T00:00:00"
        if [4, 7, 10, 13, 16, 19].contains(given.count) {
            let candidate = given + template.dropFirst(given.count)
            let fields = candidate.split(whereSeparator: { "-T:".contains($0) }).compactMap { Int($0) }
            if CapturedLine.startsWithTime(Substring(candidate)), fields.count == 6, (1...12).contains(fields[1]),
                (1...31).contains(fields[2]), fields[3] < 24, fields[4] < 60, fields[5] < 61
            {
                return candidate
            }
        }
        throw ToolError(
            "\(flag) \(text): expected a UTC time like 2026-11-29, 2026-11-29T19:35 or 2026-11-29T19:35:29 (or --last 1d)"
        )
    }

    static func seconds(_ span: String) -> Double? {
        guard let unit = span.last, let count = Double(span.dropLast()), count >= 0, count.isFinite else { return nil }
        switch unit {
        case "s": return count
        case "m": return count * 60
        case "h": return count * 3600
        case "d": return count * 86400
        default: return nil
        }
    }
}

/// A log followed as it grows: the lines written since the last look, across a rotation.
struct Followed {
    let path: String
    var inode: UInt64
    var offset: Int
    var partial = ""

    init(path: String) {
        self.path = path
        let identity = SystemAccess.fileIdentity(path)
        inode = identity?.inode ?? 0
        offset = identity?.size ?? 0
    }

    mutating func newLines() -> [Substring] {
        guard let identity = SystemAccess.fileIdentity(path) else { return [] }
        if identity.inode != inode || identity.size < offset {
            // Rotated (or replaced): the new file from its start.
            inode = identity.inode
            offset = 0
            partial = ""
        }
        guard identity.size > offset,
            let bytes = SystemAccess.readRange(path, from: offset, upTo: min(identity.size - offset, 1 << 20))
        else { return [] }
        offset += bytes.count
        partial += String(decoding: bytes, as: UTF8.self)
        guard let lastNewline = partial.lastIndex(of: "\n") else { return [] }
        let complete = partial[..<lastNewline]
        partial = String(partial[partial.index(after: lastNewline)...])
        return complete.split(separator: "\n", omittingEmptySubsequences: false).map { Substring(String($0)) }
    }
}
