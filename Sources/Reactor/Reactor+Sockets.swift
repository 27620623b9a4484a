import CShims
import Platform

#if canImport(Glibc)
    import Glibc
#endif

extension Reactor {
    /// How long a listener pauses after a failed accept (e.g. EMFILE) before accepting again, so a
    /// descriptor shortage cannot spin the loop.
    static let acceptRetryDelay = Duration.milliseconds(50)

    /// Binds, listens and starts accepting. Connections arrive as ``ReactorEvent/accepted(_:listener:)``.
    /// Port 0 picks an ephemeral port: read it back with ``localAddress(of:)``.
    public func listen(on address: SocketAddress, backlog: Int32 = 1024) throws(ReactorError) -> SocketID {
        checkThread()
        let storage = try SocketAddress.Storage(address)
        let fd = try Self.makeSocket(family: storage.family)
        var failure: ReactorError?
        if address.isTCP {
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var raw = storage.raw
        let bound = withUnsafePointer(to: &raw) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                backend.bind(fd: fd, address: $0, length: storage.length)
            }
        }
        if bound != 0 {
            failure = .system(SystemError(bound, "bind"))
        } else if Glibc.listen(fd, backlog) != 0 {
            failure = .system(SystemError(errno, "listen"))
        }
        if let failure {
            Glibc.close(fd)
            throw failure
        }
        let id: SocketID
        do {
            id = try allocateSocket(fd: fd, state: .listening, isTCP: address.isTCP)
        } catch {
            Glibc.close(fd)
            throw error
        }
        if case .unix(let path) = address {
            sockets[id.index].boundPath = path
            sockets[id.index].boundFile = Self.fileIdentity(path)
        }
        sockets[id.index].accepting = true
        armAccept(id.index)
        return id
    }

    /// Starts connecting; the outcome is ``ReactorEvent/connected(_:)`` or
    /// ``ReactorEvent/connectFailed(_:_:)`` (``ReactorError/timedOut`` once `deadline` passes).
    /// Bytes sent before the connection is up are queued and flushed when it is.
    public func connect(to address: SocketAddress, deadline: Deadline = .distantFuture) throws(ReactorError) -> SocketID
    {
        checkThread()
        let storage = try SocketAddress.Storage(address)
        let fd = try Self.makeSocket(family: storage.family)
        if address.isTCP { Self.configureTCP(fd) }
        let id: SocketID
        do {
            id = try allocateSocket(fd: fd, state: .connecting, isTCP: address.isTCP)
        } catch {
            Glibc.close(fd)
            throw error
        }
        if deadline != .distantFuture {
            do {
                sockets[id.index].deadline = try timers.start(
                    at: deadline, purpose: .connectDeadline(slot: id.slot, generation: id.generation), reserved: true)
            } catch {
                _ = release(id.index)
                throw error
            }
        }
        addresses[id.index] = storage.raw
        sockets[id.index].inFlight += 1
        let pointer = UnsafeRawPointer(addresses + id.index).assumingMemoryBound(to: sockaddr.self)
        backend.connect(fd: fd, socket: id, address: pointer, length: storage.length)
        return id
    }

    /// Starts delivering received bytes to ``ReactorHandler/received(_:on:reactor:)`` until the peer
    /// ends the stream (``ReactorEvent/receiveEnded(_:_:)``) or ``stopReceiving(_:)``.
    public func startReceiving(_ socket: SocketID) throws(ReactorError) {
        checkThread()
        let slot = try self.slot(of: socket)
        guard sockets[slot].state == .connected || sockets[slot].state == .connecting else {
            throw .invalidState("receive on a listener")
        }
        sockets[slot].receiving = true
        if sockets[slot].state == .connected { armReceive(slot) }
    }

    /// Stops receiving (back-pressure): the kernel buffers, then the peer's sends block. Bytes
    /// already taken from the kernel are still delivered.
    public func stopReceiving(_ socket: SocketID) throws(ReactorError) {
        checkThread()
        let slot = try self.slot(of: socket)
        sockets[slot].receiving = false
        if sockets[slot].receiveArmed {
            backend.cancel(fd: sockets[slot].fd, socket: socket, kinds: .receive)
        }
    }

    /// Queues `bytes` for sending, all or nothing. Everything queued on a socket in one loop turn
    /// leaves in one vectored syscall. When the queue is full this throws
    /// ``ReactorError/limitReached(_:)`` and queues nothing; ``ReactorEvent/writable(_:)`` follows
    /// once it has drained.
    public func send(_ bytes: Span<UInt8>, on socket: SocketID) throws(ReactorError) {
        checkThread()
        let slot = try self.slot(of: socket)
        guard sockets[slot].state != .listening else { throw .invalidState("send on a listener") }
        guard !sockets[slot].shutdownAfterFlush else { throw .invalidState("send after shutdownWrite") }
        do {
            try sendQueues.append(bytes, to: slot)
        } catch {
            sockets[slot].refusedSend = true
            if case .limitReached(.sendChunks) = error { waitForChunks(slot) }
            throw error
        }
        queueFlush(slot)
    }

    /// Queues `bytes` for sending; see ``send(_:on:)-(Span<UInt8>,_)``.
    public func send(_ bytes: [UInt8], on socket: SocketID) throws(ReactorError) {
        try send(bytes.span, on: socket)
    }

    /// How many bytes ``send(_:on:)`` would accept on `socket` right now.
    public func sendCapacity(on socket: SocketID) throws(ReactorError) -> Int {
        sendQueues.capacity(of: try slot(of: socket))
    }

    /// Asks for ``ReactorEvent/writable(_:)`` once the send queue is down to half or less — or to
    /// `atMost` bytes, if that is less — as if a send had been refused: for owners that check
    /// ``sendCapacity(on:)`` before sending, or keep their own queue short.
    public func notifyWhenWritable(_ socket: SocketID, atMost: Int? = nil) throws(ReactorError) {
        let slot = try self.slot(of: socket)
        let half = limits.sendQueueBytesPerSocket / 2
        let threshold = min(atMost ?? half, half)
        if sendQueues.bytes(of: slot) <= threshold && sendQueues.capacity(of: slot) >= half {
            deferred.append(.writable(socket))
            return
        }
        sockets[slot].refusedSend = true
        sockets[slot].writableAt = min(threshold, sockets[slot].writableAt ?? half)
        // Short of room because the shared pool is dry rather than this socket's queue full: no
        // send of ours will complete to tell us, so wait for chunks from anyone.
        if sendQueues.bytes(of: slot) <= threshold { waitForChunks(slot) }
    }

    /// Puts `slot` on the list told ``ReactorEvent/writable(_:)`` when any socket returns chunks.
    func waitForChunks(_ slot: Int) {
        guard !sockets[slot].waitingForChunks else { return }
        sockets[slot].waitingForChunks = true
        chunkWaiters.append(UInt32(slot))
    }

    /// Bytes queued on `socket` and not yet taken by the kernel.
    public func queuedBytes(on socket: SocketID) throws(ReactorError) -> Int {
        sendQueues.bytes(of: try slot(of: socket))
    }

    /// How far the peer has got through what was sent on a socket.
    public struct SendProgress: Sendable, Equatable {
        /// Bytes the peer has taken, ever: acknowledged by its TCP, or read by the process at the
        /// other end of a Unix socket. It grows only while the peer makes progress.
        public var delivered: UInt64
        /// Bytes sent and not yet taken: queued here, or held by the kernel.
        public var outstanding: Int
    }

    /// The peer's progress through what was sent on `socket`: a sign of life that needs no answer
    /// from the peer, while there is something outstanding for it to take.
    public func sendProgress(on socket: SocketID) throws(ReactorError) -> SendProgress {
        let slot = try self.slot(of: socket)
        let unsent = backend.unsentBytes(fd: sockets[slot].fd)
        // A send the kernel took but whose completion is not reaped yet is in `unsent` and not yet
        // in `sentBytes`: `delivered` can dip for a moment, never rise falsely.
        let sent = sockets[slot].sentBytes
        return SendProgress(
            delivered: sent &- min(sent, UInt64(unsent)), outstanding: unsent + sendQueues.bytes(of: slot))
    }

    /// Bytes waiting in `socket`'s receive buffer that nobody has read yet.
    public func unreadBytes(on socket: SocketID) throws(ReactorError) -> Int {
        backend.unreadBytes(fd: sockets[try slot(of: socket)].fd)
    }

    /// Half-closes the sending side once everything queued has been sent; the peer then reads end of stream.
    public func shutdownWrite(_ socket: SocketID) throws(ReactorError) {
        checkThread()
        let slot = try self.slot(of: socket)
        sockets[slot].shutdownAfterFlush = true
        shutdownIfFlushed(slot)
    }

    /// Closes the socket: in-flight operations are cancelled, queued output is discarded, and
    /// ``ReactorEvent/closed(_:discardedBytes:)`` follows. The identifier is stale from now on.
    public func close(_ socket: SocketID) throws(ReactorError) {
        checkThread()
        let slot = try self.slot(of: socket)
        sockets[slot].state = .closing
        if let deadline = sockets[slot].deadline {
            timers.cancel(deadline)
            sockets[slot].deadline = nil
        }
        if sockets[slot].inFlight == 0 {
            let discarded = release(slot)
            deferred.append(.closed(socket, discardedBytes: discarded))
        } else {
            backend.cancel(fd: sockets[slot].fd, socket: socket, kinds: .everything)
        }
    }

    /// For a listener on a Unix socket path: false once that path no longer holds its socket file
    /// (deleted, or replaced by another file), when new clients can no longer reach it. True for
    /// every other socket.
    public func boundPathIntact(_ socket: SocketID) throws(ReactorError) -> Bool {
        let slot = try self.slot(of: socket)
        guard let path = sockets[slot].boundPath else { return true }
        guard let ours = sockets[slot].boundFile, let current = Self.fileIdentity(path) else { return false }
        return current == ours
    }

    /// The address a socket is bound to (with the kernel's port for port 0).
    public func localAddress(of socket: SocketID) throws(ReactorError) -> SocketAddress {
        try address(of: socket, peer: false)
    }

    /// The address of the connected peer.
    public func peerAddress(of socket: SocketID) throws(ReactorError) -> SocketAddress {
        try address(of: socket, peer: true)
    }

    /// Who is at the other end of a connected Unix socket, as the kernel saw it at connect
    /// (`SO_PEERCRED`): its process, user and group. Nil for a TCP socket or a simulated one.
    public func peerCredentials(of socket: SocketID) throws(ReactorError) -> PeerCredentials? {
        let fd = sockets[try slot(of: socket)].fd
        guard backend.address(fd: fd, peer: true) == nil else { return nil } // the simulator's: no kernel peer
        var (process, user, group): (Int32, UInt32, UInt32) = (0, 0, 0)
        guard cshims_peer_credentials(fd, &process, &user, &group) == 0, process > 0 else { return nil }
        return PeerCredentials(process: process, user: user, group: group)
    }

    private func address(of socket: SocketID, peer: Bool) throws(ReactorError) -> SocketAddress {
        let fd = sockets[try slot(of: socket)].fd
        if let simulated = backend.address(fd: fd, peer: peer) { return simulated }
        var storage = SocketAddress.Storage()
        storage.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage.raw) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                peer ? getpeername(fd, $0, &storage.length) : getsockname(fd, $0, &storage.length)
            }
        }
        if result != 0 { throw .system(SystemError(errno, peer ? "getpeername" : "getsockname")) }
        guard let address = storage.address() else { throw .invalidAddress("unknown address family") }
        return address
    }

    // MARK: - Internals

    static func makeSocket(family: Int32) throws(ReactorError) -> Int32 {
        let fd = socket(family, cshims_sock_stream() | cshims_sock_nonblock_cloexec(), 0)
        if fd < 0 { throw .system(SystemError(errno, "socket")) }
        return fd
    }

    /// Unsent bytes the kernel holds on a TCP socket before it stops taking more (`TCP_NOTSENT_LOWAT`),
    /// so that what an owner queues later — a keep-alive probe — is not stuck behind megabytes
    /// the kernel took early. Bytes in flight are bounded by the congestion window anyway.
    public static let tcpUnsentBytes: Int32 = 128 * 1024

    /// No Nagle delay (each turn's output is already one write), and a bounded unsent backlog.
    static func configureTCP(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var unsent = tcpUnsentBytes
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NOTSENT_LOWAT, &unsent, socklen_t(MemoryLayout<Int32>.size))
    }

    func socketID(_ slot: Int) -> SocketID {
        SocketID(slot: UInt32(slot), generation: sockets[slot].generation & UserData.generationMask)
    }

    func armAccept(_ slot: Int) {
        guard !sockets[slot].acceptArmed else { return }
        sockets[slot].acceptArmed = true
        sockets[slot].inFlight += 1
        backend.armAccept(fd: sockets[slot].fd, socket: socketID(slot))
    }

    func armReceive(_ slot: Int) {
        guard !sockets[slot].receiveArmed else { return }
        sockets[slot].receiveArmed = true
        sockets[slot].inFlight += 1
        backend.armReceive(fd: sockets[slot].fd, socket: socketID(slot))
    }

    func queueFlush(_ slot: Int) {
        if !sockets[slot].flushQueued && !sockets[slot].sendInFlight {
            sockets[slot].flushQueued = true
            flushList.append(UInt32(slot))
        }
    }

    /// Submit phase for output: one vectored send per socket with queued bytes.
    func flushSends() {
        for index in flushList.indices {
            let slot = Int(flushList[index])
            sockets[slot].flushQueued = false
            guard sockets[slot].state == .connected, !sockets[slot].sendInFlight,
                sendQueues.bytes(of: slot) > 0
            else { continue }
            let vector =
                sendQueues.chunks(of: slot) == 1 ? singleIovecs + slot : iovecs + slot * limits.chunksPerSocket
            let count = sendQueues.gather(slot, into: vector)
            messages[slot] = msghdr()
            messages[slot].msg_iov = vector
            messages[slot].msg_iovlen = count
            sockets[slot].sendInFlight = true
            sockets[slot].inFlight += 1
            backend.send(fd: sockets[slot].fd, socket: socketID(slot), message: messages + slot)
        }
        flushList.removeAll(keepingCapacity: true)
    }

    func shutdownIfFlushed(_ slot: Int) {
        if sockets[slot].shutdownAfterFlush && sockets[slot].state == .connected
            && !sockets[slot].sendInFlight && sendQueues.bytes(of: slot) == 0
        {
            backend.shutdownWrite(fd: sockets[slot].fd)
        }
    }

    func connectDeadlinePassed(slot: UInt32, generation: UInt32) {
        let slot = Int(slot)
        guard sockets[slot].generation & UserData.generationMask == generation,
            sockets[slot].state == .connecting
        else { return }
        sockets[slot].deadline = nil
        sockets[slot].deadlinePassed = true
        backend.cancel(fd: sockets[slot].fd, socket: socketID(slot), kinds: .connect)
    }

    func retryAccept(slot: UInt32, generation: UInt32) {
        let slot = Int(slot)
        guard sockets[slot].generation & UserData.generationMask == generation,
            sockets[slot].state == .listening, sockets[slot].accepting
        else { return }
        armAccept(slot)
    }
}
