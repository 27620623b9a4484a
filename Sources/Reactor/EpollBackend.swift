import CShims
import Platform

#if canImport(Glibc)
    import Glibc
#endif

/// The epoll backend emulates completions: it tries the syscall at once; on EAGAIN it parks the
/// operation until the descriptor is ready, then retries. Callers cannot tell it from io_uring.
///
/// Descriptors are registered once, edge-triggered, for input and output. That gives the same
/// "park, then be told once" behaviour as one-shot interest without an `epoll_ctl` per operation.
final class EpollBackend: ReactorBackend {
    let kind = BackendKind.epoll

    /// What is parked on one socket slot.
    private struct Parked {
        var generation: UInt32 = 0
        var fd: Int32 = -1
        var accept = false
        var receive = false
        var readable = false
        var connect = false
        var send: UnsafeMutablePointer<msghdr>? = nil
        var queuedForAttempt = false
        /// The peer's end of stream or an error was seen in an event: read until EOF or EAGAIN,
        /// since a short read no longer proves a later edge will come.
        var peerEnded = false
    }

    private let epollFD: Int32
    private var parked: [Parked]
    /// Slots with an operation to try in the next wait, before blocking.
    private var attempts: [UInt32] = []
    /// Completions produced outside wait (sends, immediate connects, cancels).
    private var produced: [Completion] = []
    private var freeBuffers: [UInt16]
    private let receiveBuffers: UnsafeMutableRawPointer
    private let receiveBufferSize: Int
    private var events: [epoll_event]
    /// The signalfd and eventfd reads: armed by the reactor, tried once armed and on each edge.
    private var reads: [(fd: Int32, kind: OperationKind, buffer: UnsafeMutableRawBufferPointer, armed: Bool)] = []
    private var pendingReads: [Int] = []
    private var hasPwait2 = true
    private static let receivesPerTurn = 16

    init(limits: Limits, receiveBuffers: UnsafeMutableRawPointer) throws(ReactorError) {
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw .unavailable("epoll_create1: \(SystemError(errno, "epoll_create1"))") }
        parked = Array(repeating: Parked(), count: limits.sockets)
        attempts.reserveCapacity(limits.sockets)
        produced.reserveCapacity(limits.sockets)
        freeBuffers = (0..<UInt16(limits.receiveBuffers)).reversed()
        self.receiveBuffers = receiveBuffers
        self.receiveBufferSize = limits.receiveBufferSize
        events = Array(repeating: epoll_event(), count: 256)
    }

    func shutdown() { close(epollFD) }

    private func control(_ operation: Int32, fd: Int32, data: UInt64, events: UInt32) -> Int32 {
        var event = epoll_event()
        event.events = events
        event.data.u64 = data
        return epoll_ctl(epollFD, operation, fd, &event) == 0 ? 0 : errno
    }

    func register(fd: Int32, socket: SocketID) throws(ReactorError) {
        let interest = cshims_epoll_in() | cshims_epoll_out() | cshims_epoll_rdhup() | cshims_epoll_et()
        let data = UserData(kind: .receive, slot: socket.slot, generation: socket.generation).packed
        let error = control(EPOLL_CTL_ADD, fd: fd, data: data, events: interest)
        if error != 0 { throw .system(SystemError(error, "epoll_ctl")) }
        parked[socket.index] = Parked(generation: socket.generation, fd: fd)
    }

    func deregister(fd: Int32, socket: SocketID) {
        _ = control(EPOLL_CTL_DEL, fd: fd, data: 0, events: 0)
        parked[socket.index] = Parked(generation: socket.generation &+ 1)
    }

    private func scheduleAttempt(_ slot: UInt32) {
        if !parked[Int(slot)].queuedForAttempt {
            parked[Int(slot)].queuedForAttempt = true
            attempts.append(slot)
        }
    }

    func armAccept(fd: Int32, socket: SocketID) {
        parked[socket.index].accept = true
        scheduleAttempt(socket.slot)
    }

    func armReceive(fd: Int32, socket: SocketID) {
        parked[socket.index].receive = true
        scheduleAttempt(socket.slot)
    }

    func armReadable(fd: Int32, socket: SocketID) {
        parked[socket.index].readable = true
        scheduleAttempt(socket.slot)
    }

    func connect(fd: Int32, socket: SocketID, address: UnsafePointer<sockaddr>, length: socklen_t) {
        let userData = UserData(kind: .connect, slot: socket.slot, generation: socket.generation)
        if Glibc.connect(fd, address, length) == 0 {
            produced.append(Completion(userData, result: 0))
        } else if errno == EINPROGRESS || errno == EAGAIN || errno == EINTR {
            parked[socket.index].connect = true
        } else {
            produced.append(Completion(userData, result: -errno))
        }
    }

    func send(fd: Int32, socket: SocketID, message: UnsafeMutablePointer<msghdr>) {
        if !trySend(fd: fd, slot: socket.slot, generation: socket.generation, message: message) {
            parked[socket.index].send = message
        }
    }

    /// One sendmsg; false when it would block (the caller parks it).
    private func trySend(fd: Int32, slot: UInt32, generation: UInt32, message: UnsafeMutablePointer<msghdr>) -> Bool {
        while true {
            let sent = sendmsg(fd, message, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            if sent >= 0 {
                produced.append(
                    Completion(UserData(kind: .send, slot: slot, generation: generation), result: Int32(sent)))
                return true
            }
            switch errno {
            case EINTR: continue
            case EAGAIN: return false
            default:
                produced.append(Completion(UserData(kind: .send, slot: slot, generation: generation), result: -errno))
                return true
            }
        }
    }

    func cancel(fd: Int32, socket: SocketID, kinds: OperationKinds) {
        func cancelled(_ kind: OperationKind) {
            produced.append(
                Completion(UserData(kind: kind, slot: socket.slot, generation: socket.generation), result: -ECANCELED))
        }
        var entry = parked[socket.index]
        guard entry.generation == socket.generation else { return }
        if kinds.contains(.accept) && entry.accept {
            entry.accept = false
            cancelled(.accept)
        }
        if kinds.contains(.receive) && entry.receive {
            entry.receive = false
            cancelled(.receive)
        }
        if kinds.contains(.readable) && entry.readable {
            entry.readable = false
            cancelled(.readable)
        }
        if kinds.contains(.connect) && entry.connect {
            entry.connect = false
            cancelled(.connect)
        }
        if kinds.contains(.send) && entry.send != nil {
            entry.send = nil
            cancelled(.send)
        }
        parked[socket.index] = entry
    }

    func armRead(fd: Int32, kind: OperationKind, buffer: UnsafeMutableRawBufferPointer) {
        let index: Int
        if let existing = reads.firstIndex(where: { $0.fd == fd }) {
            index = existing
        } else {
            reads.append((fd, kind, buffer, false))
            index = reads.count - 1
            let data = UserData(kind: kind, slot: UInt32(index), generation: 0).packed
            _ = control(EPOLL_CTL_ADD, fd: fd, data: data, events: cshims_epoll_in() | cshims_epoll_et())
        }
        reads[index].armed = true
        pendingReads.append(index)
    }

    /// Nothing to cancel: epoll reads happen in our own calls, never behind our back.
    func cancelRead(kind: OperationKind) {}

    func recycle(buffer id: UInt16) { freeBuffers.append(id) }

    func wait(timeout nanoseconds: UInt64?, into ready: inout [Completion], limit: Int) throws(ReactorError) {
        runAttempts()
        runPendingReads()
        let mustNotBlock = !produced.isEmpty
        let count = poll(timeout: mustNotBlock ? 0 : nanoseconds)
        if count < 0 && errno != EINTR { throw .system(SystemError(errno, "epoll_wait")) }
        for index in 0..<max(0, Int(count)) {
            handle(events[index])
        }
        runAttempts()
        runPendingReads()
        let taken = min(produced.count, limit - ready.count)
        ready.append(contentsOf: produced[..<taken])
        produced.removeFirst(taken)
    }

    private func poll(timeout nanoseconds: UInt64?) -> Int32 {
        let capacity = Int32(events.count)
        return events.withUnsafeMutableBufferPointer { buffer -> Int32 in
            if hasPwait2 {
                var spec = timespec()
                if let nanoseconds {
                    spec.tv_sec = Int(nanoseconds / 1_000_000_000)
                    spec.tv_nsec = Int(nanoseconds % 1_000_000_000)
                }
                let result =
                    nanoseconds == nil
                    ? epoll_pwait2(epollFD, buffer.baseAddress, capacity, nil, nil)
                    : epoll_pwait2(epollFD, buffer.baseAddress, capacity, &spec, nil)
                if result >= 0 || errno != ENOSYS { return result }
                hasPwait2 = false
            }
            // Without epoll_pwait2 (kernel < 5.11) round the timeout up to whole milliseconds.
            let milliseconds = nanoseconds.map { Int32(min(($0 + 999_999) / 1_000_000, UInt64(Int32.max))) } ?? -1
            return epoll_wait(epollFD, buffer.baseAddress, capacity, milliseconds)
        }
    }

    private func handle(_ event: epoll_event) {
        guard let userData = UserData(packed: event.data.u64) else { return }
        switch userData.kind {
        case .signal, .wake:
            if reads[Int(userData.slot)].armed { pendingReads.append(Int(userData.slot)) }
        default:
            let slot = Int(userData.slot)
            guard parked[slot].generation == userData.generation, parked[slot].fd >= 0 else { return }
            let flags = event.events
            let failed = flags & (cshims_epoll_err() | cshims_epoll_hup()) != 0
            if flags & cshims_epoll_out() != 0 || failed {
                if parked[slot].connect { finishConnect(slot: slot) }
                if let message = parked[slot].send {
                    if trySend(
                        fd: parked[slot].fd, slot: userData.slot, generation: userData.generation, message: message)
                    {
                        parked[slot].send = nil
                    }
                }
            }
            if flags & cshims_epoll_rdhup() != 0 || failed { parked[slot].peerEnded = true }
            if flags & (cshims_epoll_in() | cshims_epoll_rdhup()) != 0 || failed {
                if parked[slot].accept || parked[slot].receive || parked[slot].readable {
                    scheduleAttempt(userData.slot)
                }
            }
        }
    }

    private func finishConnect(slot: Int) {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(parked[slot].fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { error = errno }
        if error == EINPROGRESS || error == EALREADY { return }
        parked[slot].connect = false
        let userData = UserData(kind: .connect, slot: UInt32(slot), generation: parked[slot].generation)
        produced.append(Completion(userData, result: -error))
    }

    /// Retries parked accepts and receives that were armed or became ready.
    private func runAttempts() {
        // Only the attempts queued before this call: one that re-queues itself waits for the next turn.
        let end = attempts.count
        for index in 0..<end {
            let slot = Int(attempts[index])
            parked[slot].queuedForAttempt = false
            if parked[slot].accept { attemptAccept(slot: slot) }
            if parked[slot].receive { attemptReceive(slot: slot) }
            if parked[slot].readable { attemptReadable(slot: slot) }
        }
        attempts.removeFirst(end)
    }

    /// Completes an armed readable wait if the socket has something to read now; else it stays
    /// parked until the next EPOLLIN edge.
    private func attemptReadable(slot: Int) {
        var watch = pollfd(fd: parked[slot].fd, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&watch, 1, 0) > 0 else { return }
        parked[slot].readable = false
        let userData = UserData(kind: .readable, slot: UInt32(slot), generation: parked[slot].generation)
        produced.append(Completion(userData, result: 0))
    }

    private func attemptAccept(slot: Int) {
        let userData = UserData(kind: .accept, slot: UInt32(slot), generation: parked[slot].generation)
        for _ in 0..<64 {
            let fd = cshims_accept(parked[slot].fd)
            if fd >= 0 {
                produced.append(Completion(userData, result: fd, more: true))
                continue
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN: return
            default:
                parked[slot].accept = false
                produced.append(Completion(userData, result: -errno))
                return
            }
        }
        scheduleAttempt(UInt32(slot)) // more may be waiting: edge-triggered, so come back next turn
    }

    private func attemptReceive(slot: Int) {
        let userData = UserData(kind: .receive, slot: UInt32(slot), generation: parked[slot].generation)
        for _ in 0..<Self.receivesPerTurn {
            guard let buffer = freeBuffers.popLast() else {
                scheduleAttempt(UInt32(slot)) // buffers come back during the run phase
                return
            }
            let address = receiveBuffers + Int(buffer) * receiveBufferSize
            let received = recv(parked[slot].fd, address, receiveBufferSize, Int32(MSG_DONTWAIT))
            if received > 0 {
                produced.append(Completion(userData, result: Int32(received), more: true, buffer: buffer))
                // A short read drained the socket and any later arrival raises a new edge, unless
                // the end of stream arrived with this data (its wake-up merged into the same event).
                if received < receiveBufferSize && !parked[slot].peerEnded { return }
                continue
            }
            freeBuffers.append(buffer)
            if received == 0 {
                parked[slot].receive = false
                produced.append(Completion(userData, result: 0))
                return
            }
            switch errno {
            case EINTR: continue
            case EAGAIN: return
            default:
                parked[slot].receive = false
                produced.append(Completion(userData, result: -errno))
                return
            }
        }
        scheduleAttempt(UInt32(slot))
    }

    /// Reads a signalfd or eventfd once per arming, like an io_uring read would.
    private func runPendingReads() {
        for index in pendingReads where reads[index].armed {
            let entry = reads[index]
            let count = read(entry.fd, entry.buffer.baseAddress, entry.buffer.count)
            if count > 0 {
                // Disarmed until the reactor has consumed the buffer and arms the read again.
                reads[index].armed = false
                produced.append(Completion(UserData(kind: entry.kind, slot: 0, generation: 0), result: Int32(count)))
            }
        }
        // A read that found nothing stays armed and is tried again on the next edge.
        pendingReads.removeAll(keepingCapacity: true)
    }
}
