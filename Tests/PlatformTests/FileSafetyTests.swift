import Platform
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Files a process writes: its owner's only, never through a planted link")
struct FileSafetyTests {
    static func mode(_ path: String) -> UInt32 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt32(info.st_mode) & 0o7777 : 0
    }

    @Test("written files are 0600 and folders 0700 unless asked otherwise")
    func modes() throws {
        let folder = "/tmp/ansar-file-safety-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? ChildProcess.removeTree(folder) }
        try SystemAccess.makeDirectories("\(folder)/a/b")
        #expect(Self.mode(folder) == 0o700 && Self.mode("\(folder)/a/b") == 0o700)
        try SystemAccess.writeFileAtomically("\(folder)/settings.json", Array("{}".utf8))
        #expect(Self.mode("\(folder)/settings.json") == 0o600)
        try SystemAccess.writeFileAtomically("\(folder)/tool", Array("#!/bin/sh\n".utf8), mode: 0o755)
        #expect(Self.mode("\(folder)/tool") == 0o755)
    }

    @Test("a symlink planted where the old temporary name was cannot redirect the write")
    func plantedLink() throws {
        let folder = "/tmp/ansar-file-safety-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? ChildProcess.removeTree(folder) }
        try SystemAccess.makeDirectories(folder)
        let victim = "\(folder)/victim"
        try SystemAccess.writeFileAtomically(victim, Array("keep me".utf8))
        let target = "\(folder)/state.json"
        #expect(symlink(victim, "\(target).tmp-\(getpid())") == 0)
        try SystemAccess.writeFileAtomically(target, Array("new state".utf8))
        #expect(try SystemAccess.readSmallFile(victim).bytes == Array("keep me".utf8))
        #expect(try SystemAccess.readSmallFile(target).bytes == Array("new state".utf8))
    }
}
