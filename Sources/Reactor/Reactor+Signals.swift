import CShims
import Platform

#if canImport(Glibc)
    import Glibc
#endif

extension Reactor {
    /// The signals a runtime usually wants as events rather than default actions.
    public static let standardSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGCHLD]

    /// Delivers `signals` as ``ReactorEvent/signal(_:)`` instead of their default action.
    ///
    /// The signals are blocked on the calling (reactor) thread and read from a signalfd. A signal
    /// sent to the whole process reaches the reactor only if every other thread blocks it too: call
    /// this before starting other threads, which inherit the mask. Repeated standard signals that
    /// arrive while one is pending merge into one, as the kernel defines.
    public func watchSignals(_ signals: [Int32] = Reactor.standardSignals) throws(ReactorError) {
        checkThread()
        guard signalFD < 0 else { throw .invalidState("signals are already watched") }
        signals.withUnsafeBufferPointer { cshims_sigset_of(&signalMask, $0.baseAddress, Int32($0.count)) }
        pthread_sigmask(SIG_BLOCK, &signalMask, &previousSignalMask)
        let fd = signalfd(-1, &signalMask, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard fd >= 0 else {
            let error = errno
            pthread_sigmask(SIG_SETMASK, &previousSignalMask, nil)
            throw .system(SystemError(error, "signalfd"))
        }
        signalFD = fd
        backend.armRead(fd: fd, kind: .signal, buffer: signalBuffer)
    }

    /// Stops watching: signals still pending are consumed, then the previous mask is restored.
    func stopWatchingSignals() {
        var drain = signalfd_siginfo()
        while read(signalFD, &drain, MemoryLayout<signalfd_siginfo>.size) > 0 {}
        Glibc.close(signalFD)
        signalFD = -1
        pthread_sigmask(SIG_SETMASK, &previousSignalMask, nil)
    }

    func deliverSignals<Handler: ReactorHandler>(_ byteCount: Int32, _ handler: inout Handler) {
        let size = MemoryLayout<signalfd_siginfo>.size
        let records = byteCount > 0 ? Int(byteCount) / size : 0
        // Copy the numbers out first: the buffer is re-armed before the handler runs.
        var numbers:
            (
                Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32,
                Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &numbers) { out in
            for index in 0..<min(records, 16) {
                let info = signalBuffer.load(fromByteOffset: index * size, as: signalfd_siginfo.self)
                out.storeBytes(of: Int32(bitPattern: info.ssi_signo), toByteOffset: index * 4, as: Int32.self)
            }
        }
        if signalFD >= 0 { backend.armRead(fd: signalFD, kind: .signal, buffer: signalBuffer) }
        for index in 0..<min(records, 16) {
            let number = withUnsafeBytes(of: &numbers) { $0.load(fromByteOffset: index * 4, as: Int32.self) }
            handler.handle(.signal(number), reactor: self)
        }
    }
}
