import CShims
import Platform

#if canImport(Glibc)
    import Glibc
#endif

extension Reactor {
    /// Run phase: acts on one completion and tells the handler. State is re-read after every
    /// handler call, since the handler may close or re-arm the very socket being processed.
    func process<Handler: ReactorHandler>(_ completion: Completion, _ handler: inout Handler) {
        let userData = completion.userData
        switch userData.kind {
        case .cancel:
            return
        case .wake:
            backend.armRead(fd: waker.signal.fd, kind: .wake, buffer: wakeBuffer)
            handler.handle(.woken, reactor: self)
            return
        case .signal:
            deliverSignals(completion.result, &handler)
            return
        case .accept, .connect, .receive, .send, .readable:
            break
        }
        let slot = Int(userData.slot)
        guard slot < sockets.count, sockets[slot].state != .free,
            sockets[slot].generation & UserData.generationMask == userData.generation
        else {
            // A completion for a slot that was released (and perhaps reused): not ours to deliver.
            dropStale(completion)
            return
        }
        if !completion.more { sockets[slot].inFlight -= 1 }
        let id = socketID(slot)
        switch userData.kind {
        case .accept: accepted(completion, slot: slot, id: id, &handler)
        case .connect: connected(completion, slot: slot, id: id, &handler)
        case .receive: received(completion, slot: slot, id: id, &handler)
        case .send: sent(completion, slot: slot, id: id, &handler)
        case .readable:
            if completion.result >= 0 && sockets[slot].state == .datagram {
                handler.handle(.datagramsReadable(id), reactor: self)
                // Told again when more come, unless the handler closed the socket meanwhile.
                if sockets[slot].state == .datagram { armReadable(slot) }
            }
        default: break
        }
        if sockets[slot].state == .closing && sockets[slot].inFlight == 0 {
            let discarded = release(slot)
            handler.handle(.closed(id, discardedBytes: discarded), reactor: self)
        }
    }

    private func dropStale(_ completion: Completion) {
        if completion.buffer != Completion.noBuffer { backend.recycle(buffer: completion.buffer) }
        if completion.userData.kind == .accept && completion.result >= 0 { Glibc.close(completion.result) }
    }

    private func accepted<Handler: ReactorHandler>(
        _ completion: Completion, slot: Int, id: SocketID, _ handler: inout Handler
    ) {
        if !completion.more { sockets[slot].acceptArmed = false }
        let result = completion.result
        if result >= 0 {
            let fd = result
            guard sockets[slot].state == .listening else {
                Glibc.close(fd)
                return
            }
            if sockets[slot].isTCP { Self.configureTCP(fd) }
            do {
                let socket = try allocateSocket(fd: fd, state: .connected, isTCP: sockets[slot].isTCP)
                handler.handle(.accepted(socket, listener: id), reactor: self)
            } catch {
                Glibc.close(fd)
                handler.handle(.acceptFailed(listener: id, error), reactor: self)
            }
        } else if result != -ECANCELED && sockets[slot].state == .listening {
            handler.handle(.acceptFailed(listener: id, .system(SystemError(-result, "accept"))), reactor: self)
            // Pause before accepting again: a descriptor shortage must not spin the loop.
            if sockets[slot].state == .listening && !sockets[slot].acceptArmed {
                // From the reserve (one per socket), so it cannot fail: a listener is never left unarmed.
                _ = try? timers.start(
                    at: .after(Self.acceptRetryDelay), purpose: .acceptRetry(slot: id.slot, generation: id.generation),
                    reserved: true)
            }
            return
        }
        if sockets[slot].state == .listening && sockets[slot].accepting && !sockets[slot].acceptArmed {
            armAccept(slot)
        }
    }

    private func connected<Handler: ReactorHandler>(
        _ completion: Completion, slot: Int, id: SocketID, _ handler: inout Handler
    ) {
        if let deadline = sockets[slot].deadline {
            timers.cancel(deadline)
            sockets[slot].deadline = nil
        }
        guard sockets[slot].state == .connecting else { return } // closing: nothing to report
        if completion.result == 0 {
            sockets[slot].state = .connected
            if sockets[slot].receiving { armReceive(slot) }
            if sendQueues.bytes(of: slot) > 0 { queueFlush(slot) }
            handler.handle(.connected(id), reactor: self)
        } else {
            let error: ReactorError =
                sockets[slot].deadlinePassed
                ? .timedOut : .system(SystemError(-completion.result, "connect"))
            _ = release(slot)
            handler.handle(.connectFailed(id, error), reactor: self)
        }
    }

    private func received<Handler: ReactorHandler>(
        _ completion: Completion, slot: Int, id: SocketID, _ handler: inout Handler
    ) {
        if !completion.more { sockets[slot].receiveArmed = false }
        let result = completion.result
        if result > 0 && completion.buffer != Completion.noBuffer {
            let start = (receiveMemory + Int(completion.buffer) * limits.receiveBufferSize)
                .assumingMemoryBound(to: UInt8.self)
            if sockets[slot].state != .closing {
                let bytes = Span<UInt8>(_unsafeElements: UnsafeBufferPointer(start: start, count: Int(result)))
                handler.received(bytes, on: id, reactor: self)
            }
            backend.recycle(buffer: completion.buffer)
        } else if result == 0 {
            endReceiving(slot, id: id, error: nil, &handler)
            return
        } else if result < 0 {
            switch -result {
            case ECANCELED, ENOBUFS:
                break // stopped on request, or buffers ran out: re-armed below if still wanted
            case EINVAL where (backend as? URingBackend)?.disableMultishotReceive() == true:
                break // the kernel predates multishot receive: re-armed below as single-shot
            default:
                endReceiving(slot, id: id, error: .system(SystemError(-result, "recv")), &handler)
                return
            }
        }
        if sockets[slot].receiving && sockets[slot].state == .connected && !sockets[slot].receiveArmed {
            armReceive(slot)
        }
    }

    /// Chunks came back to the pool: every socket refused for want of them may try again.
    private func wakeChunkWaiters<Handler: ReactorHandler>(_ handler: inout Handler) {
        // Iterate a list taken aside: handlers told `writable` may be refused again and re-register.
        var waiters: [UInt32] = []
        swap(&waiters, &chunkWaiters)
        for index in waiters.indices {
            let slot = Int(waiters[index])
            guard sockets[slot].waitingForChunks else { continue }
            sockets[slot].waitingForChunks = false
            guard sockets[slot].refusedSend, sockets[slot].state == .connected || sockets[slot].state == .connecting
            else { continue }
            sockets[slot].refusedSend = false
            sockets[slot].writableAt = nil
            handler.handle(.writable(socketID(slot)), reactor: self)
        }
        // Hand the emptied list back, keeping its capacity, unless new waiters arrived meanwhile.
        waiters.removeAll(keepingCapacity: true)
        if chunkWaiters.isEmpty { swap(&waiters, &chunkWaiters) }
    }

    private func endReceiving<Handler: ReactorHandler>(
        _ slot: Int, id: SocketID, error: ReactorError?, _ handler: inout Handler
    ) {
        guard sockets[slot].receiving else { return }
        sockets[slot].receiving = false
        if sockets[slot].state != .closing {
            handler.handle(.receiveEnded(id, error), reactor: self)
        }
    }

    private func sent<Handler: ReactorHandler>(
        _ completion: Completion, slot: Int, id: SocketID, _ handler: inout Handler
    ) {
        sockets[slot].sendInFlight = false
        let result = completion.result
        if sockets[slot].state == .closing { return }
        if result >= 0 {
            sendQueues.consume(Int(result), from: slot)
            sockets[slot].sentBytes &+= UInt64(result)
            let remaining = sendQueues.bytes(of: slot)
            if remaining > 0 {
                queueFlush(slot)
            } else {
                shutdownIfFlushed(slot)
            }
            // Below half full is room enough: telling the owner then keeps the pipe busy while it refills.
            if sockets[slot].refusedSend && remaining <= sockets[slot].writableAt ?? limits.sendQueueBytesPerSocket / 2
            {
                sockets[slot].refusedSend = false
                sockets[slot].writableAt = nil
                handler.handle(.writable(id), reactor: self)
            }
            if !chunkWaiters.isEmpty && result > 0 { wakeChunkWaiters(&handler) }
        } else if result != -ECANCELED {
            let unsent = sendQueues.discard(slot)
            handler.handle(.sendFailed(id, .system(SystemError(-result, "send")), unsentBytes: unsent), reactor: self)
        }
    }
}
