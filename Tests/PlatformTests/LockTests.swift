import Platform
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A flag and a count that two threads share.
final class Probing: Sendable {
    let stop = Atomic<Bool>(false)
    let looks = Atomic<Int>(0)
}

@Suite("Process locks: held for life, looked at without taking")
struct LockTests {
    @Test("looking at a lock never makes a taker fail: 400 takes, each while another thread looks without pause")
    func lookingDoesNotRace() throws {
        var template = Array("/tmp/ansar-locks-XXXXXX".utf8CString)
        let folder = String(cString: mkdtemp(&template)!)
        defer { _ = system("rm -rf \(folder)") }
        _ = SystemAccess.raiseDescriptorLimit() // each lock taken keeps its descriptor, by design
        var refused = 0
        for index in 0..<400 {
            let path = "\(folder)/lock-\(index)"
            close(open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600))
            let probing = Probing()
            let join = ThreadStarter.start {
                while !probing.stop.load(ordering: .acquiring) {
                    _ = ChildProcess.isLockHeld(path)
                    probing.looks.add(1, ordering: .releasing)
                }
            }
            while probing.looks.load(ordering: .acquiring) < 10 {} // it is looking now
            if !ChildProcess.holdLock(path) { refused += 1 }
            probing.stop.store(true, ordering: .releasing)
            join()
            #expect(ChildProcess.isLockHeld(path), "a lock taken is seen as held")
        }
        #expect(refused == 0, "\(refused) of 400 takes were refused because another thread looked")
    }
}
