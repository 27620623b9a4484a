import Platform
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("BackgroundFileWriter: state written off the caller's thread, in order, the latest bytes winning")
struct BackgroundFileWriterTests {
    static func folder() -> String {
        var template = Array("/tmp/ansar-writer-XXXXXX".utf8CString)
        return String(cString: mkdtemp(&template)!)
    }

    @Test("then runs once the bytes are on disk; jobs run in order; finish leaves nothing queued")
    func orderAndCompletion() throws {
        let path = "\(Self.folder())/state.json"
        let writer = BackgroundFileWriter()
        let seen = Latch<String>()
        writer.write(path, Array("first".utf8)) {
            seen.set(String(decoding: (try? SystemAccess.readSmallFile(path).bytes) ?? [], as: UTF8.self))
        }
        #expect(seen.wait(upTo: .seconds(10)) == "first")
        writer.remove(path)
        writer.write("\(path).other", Array("x".utf8))
        for round in 0..<100 { writer.write(path, Array("round \(round)".utf8)) }
        writer.finish()
        #expect(String(decoding: try SystemAccess.readSmallFile(path).bytes, as: UTF8.self) == "round 99")
        #expect(SystemAccess.exists("\(path).other"))
    }

    @Test("a remove queued after a write wins over it")
    func removeAfterWrite() throws {
        let path = "\(Self.folder())/state.json"
        let writer = BackgroundFileWriter()
        writer.write(path, Array("gone soon".utf8))
        writer.remove(path)
        writer.finish()
        #expect(!SystemAccess.exists(path))
    }
}
