import Glibc

/// Outbound bytes of every socket, held in fixed-size chunks from one pool. A send copies into the
/// tail chunk of its socket; a flush hands the chain to the kernel as one vectored `sendmsg`, so many
/// small writes in a loop turn cost one syscall.
///
/// All storage is allocated once at init and addressed through pointers: a send is on the hot path
/// and must not pay for copy-on-write checks.
struct SendQueues {
    /// One socket's queue: a ring of chunk indices plus the offsets into its first and last chunk.
    struct Queue {
        var first = 0
        var chunks = 0
        var headOffset = 0
        var tailFill = 0
        var bytes = 0
        /// The last chunk's index in the pool (valid when `chunks > 0`), so appends skip the ring.
        var tailChunk: Int32 = -1
    }

    let chunkSize: Int
    let chunksPerSocket: Int
    let bytesPerSocket: Int
    private let sockets: Int
    private let memory: UnsafeMutableRawPointer
    private let free: UnsafeMutablePointer<Int32>
    private var freeCount: Int
    private let rings: UnsafeMutablePointer<Int32>
    private let queues: UnsafeMutablePointer<Queue>

    init(limits: Limits) {
        chunkSize = limits.sendChunkSize
        chunksPerSocket = limits.chunksPerSocket
        bytesPerSocket = limits.sendQueueBytesPerSocket
        sockets = limits.sockets
        memory = .allocate(byteCount: limits.sendChunks * chunkSize, alignment: 4096)
        free = .allocate(capacity: limits.sendChunks)
        for index in 0..<limits.sendChunks { free[index] = Int32(limits.sendChunks - 1 - index) }
        freeCount = limits.sendChunks
        rings = .allocate(capacity: limits.sockets * chunksPerSocket)
        rings.initialize(repeating: -1, count: limits.sockets * chunksPerSocket)
        queues = .allocate(capacity: limits.sockets)
        queues.initialize(repeating: Queue(), count: limits.sockets)
    }

    func deallocate() {
        memory.deallocate()
        free.deallocate()
        rings.deallocate()
        queues.deallocate()
    }

    func bytes(of slot: Int) -> Int { queues[slot].bytes }

    /// Chunks queued on `slot`: how many iovecs a ``gather(_:into:)`` fills.
    func chunks(of slot: Int) -> Int { queues[slot].chunks }

    /// Bytes `slot` can accept now without refusal.
    func capacity(of slot: Int) -> Int {
        let queue = queues[slot]
        let inTail = queue.chunks > 0 ? chunkSize - queue.tailFill : 0
        let newChunks = min(freeCount, chunksPerSocket - queue.chunks)
        return max(0, min(bytesPerSocket - queue.bytes, inTail + newChunks * chunkSize))
    }

    /// Where `position` (0 = the first chunk) sits in the socket's ring.
    private func ringIndex(_ slot: Int, _ position: Int) -> Int {
        var index = queues[slot].first + position
        if index >= chunksPerSocket { index -= chunksPerSocket }
        return slot * chunksPerSocket + index
    }

    private func chunk(_ slot: Int, _ position: Int) -> Int32 { rings[ringIndex(slot, position)] }

    /// Copies `bytes` in whole, or refuses with the limit that stopped it and copies nothing.
    @inline(__always)
    mutating func append(_ bytes: Span<UInt8>, to slot: Int) throws(ReactorError) {
        let count = bytes.count
        let queue = queues + slot
        // The common case: it fits in the tail chunk.
        if queue.pointee.chunks > 0 && queue.pointee.tailFill + count <= chunkSize
            && queue.pointee.bytes + count <= bytesPerSocket
        {
            let destination = memory + Int(queue.pointee.tailChunk) * chunkSize + queue.pointee.tailFill
            bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: count) }
            queue.pointee.tailFill += count
            queue.pointee.bytes += count
            return
        }
        try appendAcrossChunks(bytes, to: slot)
    }

    private mutating func appendAcrossChunks(_ bytes: Span<UInt8>, to slot: Int) throws(ReactorError) {
        let count = bytes.count
        if count == 0 { return }
        let queue = queues + slot
        if queue.pointee.bytes + count > bytesPerSocket { throw .limitReached(.sendQueueBytes) }
        let room = queue.pointee.chunks > 0 ? chunkSize - queue.pointee.tailFill : 0
        let needed = count > room ? (count - room + chunkSize - 1) / chunkSize : 0
        if queue.pointee.chunks + needed > chunksPerSocket { throw .limitReached(.sendQueueBytes) }
        if needed > freeCount { throw .limitReached(.sendChunks) }
        bytes.withUnsafeBytes { source in
            var copied = 0
            while copied < count {
                if queue.pointee.chunks == 0 || queue.pointee.tailFill == chunkSize {
                    freeCount -= 1
                    queue.pointee.tailChunk = free[freeCount]
                    rings[ringIndex(slot, queue.pointee.chunks)] = queue.pointee.tailChunk
                    queue.pointee.chunks += 1
                    queue.pointee.tailFill = 0
                }
                let length = min(count - copied, chunkSize - queue.pointee.tailFill)
                let destination = memory + Int(queue.pointee.tailChunk) * chunkSize + queue.pointee.tailFill
                destination.copyMemory(from: source.baseAddress! + copied, byteCount: length)
                copied += length
                queue.pointee.tailFill += length
            }
        }
        queue.pointee.bytes += count
    }

    /// Fills `iovecs` with the queued chain; returns how many entries it used.
    func gather(_ slot: Int, into iovecs: UnsafeMutablePointer<iovec>) -> Int {
        let queue = queues[slot]
        for position in 0..<queue.chunks {
            let start = position == 0 ? queue.headOffset : 0
            let end = position == queue.chunks - 1 ? queue.tailFill : chunkSize
            iovecs[position].iov_base = memory + Int(chunk(slot, position)) * chunkSize + start
            iovecs[position].iov_len = end - start
        }
        return queue.chunks
    }

    /// Drops `count` sent bytes from the front, returning emptied chunks to the pool.
    mutating func consume(_ count: Int, from slot: Int) {
        let queue = queues + slot
        var remaining = count
        queue.pointee.bytes -= count
        while remaining > 0 && queue.pointee.chunks > 0 {
            let end = queue.pointee.chunks == 1 ? queue.pointee.tailFill : chunkSize
            let available = end - queue.pointee.headOffset
            if remaining < available {
                queue.pointee.headOffset += remaining
                return
            }
            remaining -= available
            free[freeCount] = chunk(slot, 0)
            freeCount += 1
            queue.pointee.first = queue.pointee.first + 1 == chunksPerSocket ? 0 : queue.pointee.first + 1
            queue.pointee.chunks -= 1
            queue.pointee.headOffset = 0
        }
        if queue.pointee.chunks == 0 { queue.pointee = Queue() }
    }

    /// Discards everything queued for `slot`; returns how many bytes that was.
    mutating func discard(_ slot: Int) -> Int {
        let bytes = queues[slot].bytes
        consume(bytes, from: slot)
        queues[slot] = Queue()
        return bytes
    }
}
