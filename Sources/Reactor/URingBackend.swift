import CURing
import Platform

#if canImport(Glibc)
    import Glibc
#endif

/// The io_uring backend: completion-based for real. Sockets are registered files, receives are
/// multishot into a provided-buffer ring, and each loop turn is one `io_uring_enter` that submits
/// everything queued and waits with the next timer deadline as its timeout (EXT_ARG).
final class URingBackend: ReactorBackend {
    let kind = BackendKind.uring
    private let ring: OpaquePointer
    private let receiveBufferSize: UInt32
    private let completions: UnsafeMutableBufferPointer<curing_completion>
    /// Multishot receive needs kernel 6.0; cleared (single-shot from then on) if the kernel refuses it.
    private(set) var multishotReceive = true
    /// What the ring got, for the log.
    let features: String

    init(limits: Limits, receiveBuffers: UnsafeMutableRawPointer) throws(ReactorError) {
        var error: Int32 = 0
        var why: UnsafePointer<CChar>? = nil
        var features = [CChar](repeating: 0, count: 160)
        let ring = curing_create(
            UInt32(limits.submissionQueue), UInt32(limits.sockets), UInt32(limits.receiveBuffers),
            receiveBuffers, UInt32(limits.receiveBufferSize), &features, features.count, &error, &why)
        guard let ring else {
            let step = why.map { String(cString: $0) } ?? "io_uring"
            throw .unavailable("\(step): \(String(cString: strerror(-error))) (errno \(-error))")
        }
        self.ring = ring
        self.features = String(decoding: features.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.receiveBufferSize = UInt32(limits.receiveBufferSize)
        completions = .allocate(capacity: limits.completionsPerTurn)
    }

    func shutdown() {
        curing_destroy(ring)
        completions.deallocate()
    }

    private func packed(_ kind: OperationKind, _ socket: SocketID) -> UInt64 {
        UserData(kind: kind, slot: socket.slot, generation: socket.generation).packed
    }

    func register(fd: Int32, socket: SocketID) throws(ReactorError) {
        let result = curing_update_file(ring, UInt32(socket.slot), fd)
        if result < 0 { throw .system(SystemError(-result, "io_uring_register_files_update")) }
    }

    func deregister(fd: Int32, socket: SocketID) {
        _ = curing_update_file(ring, UInt32(socket.slot), -1)
    }

    func armAccept(fd: Int32, socket: SocketID) {
        curing_prep_multishot_accept(ring, socket.slot, packed(.accept, socket))
    }

    func armReceive(fd: Int32, socket: SocketID) {
        curing_prep_receive(ring, socket.slot, multishotReceive ? 1 : 0, receiveBufferSize, packed(.receive, socket))
    }

    func armReadable(fd: Int32, socket: SocketID) {
        curing_prep_poll_readable(ring, socket.slot, packed(.readable, socket))
    }

    /// Called when a multishot receive was refused with EINVAL (a kernel before 6.0); true if that
    /// switched receives to single-shot.
    func disableMultishotReceive() -> Bool {
        guard multishotReceive else { return false }
        multishotReceive = false
        return true
    }

    func connect(fd: Int32, socket: SocketID, address: UnsafePointer<sockaddr>, length: socklen_t) {
        curing_prep_connect(ring, socket.slot, address, length, packed(.connect, socket))
    }

    func send(fd: Int32, socket: SocketID, message: UnsafeMutablePointer<msghdr>) {
        curing_prep_sendmsg(ring, socket.slot, message, packed(.send, socket))
    }

    func cancel(fd: Int32, socket: SocketID, kinds: OperationKinds) {
        for (member, kind) in OperationKinds.all where kinds.contains(member) {
            curing_prep_cancel(ring, packed(kind, socket), packed(.cancel, socket))
        }
    }

    func armRead(fd: Int32, kind: OperationKind, buffer: UnsafeMutableRawBufferPointer) {
        curing_prep_read(
            ring, fd, buffer.baseAddress, UInt32(buffer.count), UserData(kind: kind, slot: 0, generation: 0).packed)
    }

    func cancelRead(kind: OperationKind) {
        let target = UserData(kind: kind, slot: 0, generation: 0)
        curing_prep_cancel(ring, target.packed, UserData(kind: .cancel, slot: 0, generation: 0).packed)
    }

    func recycle(buffer id: UInt16) { curing_recycle(ring, id) }

    func wait(timeout nanoseconds: UInt64?, into ready: inout [Completion], limit: Int) throws(ReactorError) {
        let timeout = nanoseconds.map { Int64(min($0, UInt64(Int64.max))) } ?? -1
        let room = UInt32(min(limit - ready.count, completions.count))
        let count = curing_wait(ring, timeout, completions.baseAddress, room)
        if count < 0 { throw .system(SystemError(-count, "io_uring_enter")) }
        for index in 0..<Int(count) {
            let cqe = completions[index]
            guard let userData = UserData(packed: cqe.user_data) else { continue }
            let buffer = curing_cqe_has_buffer(cqe.flags) != 0 ? curing_cqe_buffer_id(cqe.flags) : Completion.noBuffer
            ready.append(
                Completion(userData, result: cqe.result, more: curing_cqe_has_more(cqe.flags) != 0, buffer: buffer))
        }
    }
}
