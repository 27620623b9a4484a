import Platform
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("LineCapture: a child's stderr, line by line, timed and named, into a bounded file")
struct LineCaptureTests {
    /// Runs `script` with its stderr captured as `name` into a fresh file; the file's lines once
    /// the child has ended and the stream is flushed.
    static func capture(_ script: String, limit: Int = 1 << 20) throws -> (lines: [Substring], file: String) {
        var template = Array("/tmp/ansar-capture-XXXXXX".utf8CString)
        let folder = String(cString: mkdtemp(&template)!)
        let file = "\(folder)/out.log"
        let capture = try LineCapture(limit: limit)
        let stream = try capture.open(name: "job", file: file)
        let child = try ChildProcess.spawnTied(
            "/bin/sh", arguments: ["-c", script], environment: ["PATH": "/usr/bin:/bin"], stdout: "/dev/null",
            capturing: stream)
        _ = ChildProcess.wait(child.keeper)
        capture.flush(stream) // every line is in the file now: no waiting
        capture.finish()
        let bytes = (try? SystemAccess.readSmallFile(file, limit: 64 << 20).bytes) ?? []
        return (String(decoding: bytes, as: UTF8.self).split(separator: "\n"), file)
    }

    @Test("a plain line gets the time it arrived; a line with its own time keeps it; both are named")
    func timesAndNames() throws {
        let (lines, _) = try Self.capture("echo plain >&2; echo '2020-01-02T03:04:05+0000 info said' >&2")
        #expect(lines.count == 2, "\(lines)")
        #expect(lines[0].hasSuffix(" [job] plain") && lines[0].prefix(4).allSatisfy(\.isNumber), "\(lines)")
        #expect(lines[1] == "2020-01-02T03:04:05+0000 [job] info said")
    }

    @Test("the last line without a newline is kept; a line too long is written in pieces")
    func partialAndLongLines() throws {
        let (lines, _) = try Self.capture("head -c 150000 /dev/zero | tr '\\0' x >&2")
        #expect(lines.count == 3, "\(lines.map(\.count))")
        let pieces = lines.map { $0.split(separator: " ").last?.count ?? 0 }
        #expect(pieces == [LineCapture.longestLine, LineCapture.longestLine, 150_000 - 2 * LineCapture.longestLine])
    }

    @Test("past the limit the file becomes FILE.1: two files at most, the newest lines in FILE")
    func rotates() throws {
        let (lines, file) = try Self.capture("for i in $(seq 1 2000); do echo \"line $i\" >&2; done", limit: 16 << 10)
        #expect(lines.last?.hasSuffix(" [job] line 2000") == true)
        let older = SystemAccess.fileSize(file + ".1") ?? 0
        #expect(older > 0 && older <= 16 << 10 && (SystemAccess.fileSize(file) ?? 0) <= 16 << 10)
        #expect(!SystemAccess.exists(file + ".2"))
    }
}
