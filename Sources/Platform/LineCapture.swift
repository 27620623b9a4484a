import CShims

#if canImport(Glibc)
    import Glibc
#endif

/// What children write to stderr, read through pipes on a thread of its own and written line by
/// line to each one's file, with a time and the stream's name in front:
/// `2026-12-03T12:00:01+0000 [pub] text` — the line's own time when it starts with one (a node's
/// log line does), else the time it arrived. A file past `limit` bytes becomes FILE.1 (replacing
/// the older one), while the child runs: a child writing without end keeps at most two files.
/// A stream without a file goes to this process's stderr, prefixed the same way.
///
/// The children block on a full pipe while the thread writes: their output is slowed, never lost.
public final class LineCapture: @unchecked Sendable {
    /// One child's stderr.
    public final class Stream: @unchecked Sendable {
        public let name: String
        let readEnd: Int32
        /// Open in the parent until the child has it (see ``ChildProcess/spawn``).
        private(set) var writeEnd: Int32
        let file: String?
        var output: Int32 = -1
        var size = 0
        var partial: [UInt8] = []
        var ended = false

        init(name: String, file: String?, readEnd: Int32, writeEnd: Int32) {
            self.name = name
            self.file = file
            self.readEnd = readEnd
            self.writeEnd = writeEnd
        }

        func closeWriteEnd() {
            guard writeEnd >= 0 else { return }
            close(writeEnd)
            writeEnd = -1
        }

        deinit {
            closeWriteEnd()
            close(readEnd)
            if output >= 0 { close(output) }
        }
    }

    /// A line longer than this is written in pieces of this size (or of half the limit, if less:
    /// every piece fits in a file).
    public static let longestLine = 64 << 10
    let longestLine: Int

    public let limit: Int
    // A heap cell: a pthread mutex must not move (see ``Latch``).
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var streams: [Stream] = []
    /// Wakes the thread when a stream is added or the capture ends.
    private let wake: (read: Int32, write: Int32)
    private var closing = false
    private var join: (@Sendable () -> Void)?

    /// `limit`: the size past which a file is rotated.
    public init(limit: Int) throws(SystemError) {
        self.limit = limit
        longestLine = min(Self.longestLine, max(1, limit / 2))
        var ends: [Int32] = [0, 0]
        guard cshims_pipe_cloexec(&ends) == 0 else { throw SystemError(errno, "pipe2") }
        wake = (ends[0], ends[1])
        pthread_mutex_init(lock, nil)
        join = ThreadStarter.start { [self] in pump() }
    }

    deinit {
        close(wake.read)
        close(wake.write)
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// A new stream for a child's stderr, written to `file` (nil: this process's stderr).
    public func open(name: String, file: String?) throws(SystemError) -> Stream {
        var ends: [Int32] = [0, 0]
        guard cshims_pipe_cloexec(&ends) == 0 else { throw SystemError(errno, "pipe2") }
        _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
        let stream = Stream(name: name, file: file, readEnd: ends[0], writeEnd: ends[1])
        locked { streams.append(stream) }
        poke()
        return stream
    }

    /// Writes out whatever the stream's child has written so far: once the child has ended, its
    /// every line is in its file when this returns (what a failure report reads).
    public func flush(_ stream: Stream) {
        locked { drain(stream) }
    }

    /// Writes out what every stream holds and stops the thread; streams whose children still run
    /// (a role's own child holding its stderr) are read no further.
    public func finish() {
        locked {
            for stream in streams { drain(stream) }
            closing = true
        }
        poke()
        join?()
        join = nil
    }

    private func poke() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body()
    }

    private func pump() {
        while true {
            let watched: [Stream]? = locked { closing ? nil : streams }
            guard let watched else { return }
            var fds = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            fds += watched.map { pollfd(fd: $0.readEnd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            guard ready > 0 else { continue }
            if fds[0].revents != 0 {
                var sink = [UInt8](repeating: 0, count: 64)
                _ = read(wake.read, &sink, sink.count)
            }
            locked {
                for (index, stream) in watched.enumerated() where fds[index + 1].revents != 0 { drain(stream) }
                streams.removeAll { $0.ended }
            }
        }
    }

    /// Reads what the pipe holds, writes its complete lines; at the pipe's end, the rest too.
    private func drain(_ stream: Stream) {
        guard !stream.ended else { return }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = read(stream.readEnd, &buffer, buffer.count)
            if count > 0 {
                stream.partial += buffer[0..<count]
                emitLines(stream)
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count == 0 {
                if !stream.partial.isEmpty { emit(stream, stream.partial[...]) }
                stream.partial = []
                stream.ended = true
            }
            return
        }
    }

    private func emitLines(_ stream: Stream) {
        let now = Self.now()
        var text: [UInt8] = []
        var start = 0
        let bytes = stream.partial
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") || index - start >= longestLine {
                text += Self.prefixed(stream.name, bytes[start..<index], arrived: now)
                start = bytes[index] == UInt8(ascii: "\n") ? index + 1 : index
            }
            index += 1
        }
        stream.partial = Array(bytes[start...])
        if !text.isEmpty { append(stream, text) }
    }

    private func emit(_ stream: Stream, _ line: ArraySlice<UInt8>) {
        append(stream, Self.prefixed(stream.name, line, arrived: Self.now()))
    }

    /// The time as node log lines print it (swift-log's stream handler, UTC on a server).
    static func now() -> [UInt8] { Array((SystemAccess.utcTimestamp(SystemAccess.wallClock()) + "+0000").utf8) }

    /// `TIME [NAME] TEXT\n`: the line's own time if it starts with one, else `arrived`.
    static func prefixed(_ name: String, _ line: ArraySlice<UInt8>, arrived: [UInt8]) -> [UInt8] {
        let tag = Array(" [\(name)]".utf8)
        if let end = timeEnd(line) {
            return Array(line[..<end]) + tag + Array(line[end...]) + [UInt8(ascii: "\n")]
        }
        return arrived + tag + [UInt8(ascii: " ")] + Array(line) + [UInt8(ascii: "\n")]
    }

    /// Where a leading `YYYY-MM-DDTHH:MM:SS` (and any zone or fraction after it) ends: nil when the
    /// line does not start with a time.
    public static func timeEnd<Line: Collection<UInt8>>(_ line: Line) -> Line.Index? {
        var end = line.startIndex
        for expected in timePattern {
            guard end < line.endIndex else { return nil }
            let byte = line[end]
            let fits =
                expected == UInt8(ascii: "d")
                ? (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) : byte == expected
            guard fits else { return nil }
            line.formIndex(after: &end)
        }
        while end < line.endIndex, line[end] != UInt8(ascii: " ") { line.formIndex(after: &end) }
        return end
    }

    /// What ``timeEnd(_:)`` looks for, `d` standing for a digit: made once, not per line.
    private static let timePattern = Array("dddd-dd-ddTdd:dd:dd".utf8)

    private func append(_ stream: Stream, _ bytes: [UInt8]) {
        guard let file = stream.file else {
            Self.writeAll(2, bytes)
            return
        }
        if stream.output < 0 { reopen(stream, file) }
        var rest = bytes[...]
        while stream.output >= 0, !rest.isEmpty {
            // What fits before the limit, ended at a line's end; the rest goes to a fresh file.
            let room = max(0, limit - stream.size) // an older run may have left it larger
            var piece = rest
            if rest.count > room {
                let cut = rest.prefix(room).lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? rest.startIndex
                piece = rest[..<cut]
            }
            if !piece.isEmpty {
                Self.writeAll(stream.output, piece)
                stream.size += piece.count
                rest = rest[piece.endIndex...]
            }
            guard !rest.isEmpty else { return }
            close(stream.output)
            _ = rename(file, file + ".1")
            reopen(stream, file)
            if piece.isEmpty && stream.size == 0 {
                // A line longer than the whole limit cannot happen (lines are cut at half of it).
                Self.writeAll(stream.output, rest)
                stream.size += rest.count
                return
            }
        }
    }

    private func reopen(_ stream: Stream, _ file: String) {
        stream.output = Glibc.open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        var info = stat()
        stream.size = stream.output >= 0 && fstat(stream.output, &info) == 0 ? Int(info.st_size) : 0
    }

    private static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) {
        let bytes = Array(bytes)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
