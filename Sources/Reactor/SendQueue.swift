import Glibc

/// Outbound bytes of every socket, held in fixed-size chunks from one pool. A send copies into the
/// tail chunk of its socket; a flush hands the chain to the kernel as one vectored `sendmsg`, so many
/// small writes in a loop turn cost one syscall.
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
    private let memory: UnsafeMutableRawPointer
    private var free: [Int32]
    private var rings: [Int32]
    private(set) var queues: [Queue]

    init(limits: Limits) {
        chunkSize = limits.sendChunkSize
        chunksPerSocket = limits.chunksPerSocket
        bytesPerSocket = limits.sendQueueBytesPerSocket
        memory = UnsafeMutableRawPointer.allocate(byteCount: limits.sendChunks * chunkSize, alignment: 4096)
        free = (0..<Int32(limits.sendChunks)).reversed()
        rings = Array(repeating: -1, count: limits.sockets * chunksPerSocket)
        queues = Array(repeating: Queue(), count: limits.sockets)
    }

    func deallocate() { memory.deallocate() }

    func bytes(of slot: Int) -> Int { queues[slot].bytes }

    /// Bytes `slot` can accept now without refusal.
    func capacity(of slot: Int) -> Int {
        let queue = queues[slot]
        let room = chunkSize - queue.tailFill
        let inTail = queue.chunks > 0 ? room : 0
        let newChunks = min(free.count, chunksPerSocket - queue.chunks)
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
    mutating func append(_ bytes: Span<UInt8>, to slot: Int) throws(ReactorError) {
        let count = bytes.count
        if count == 0 { return }
        var queue = queues[slot]
        if queue.bytes + count > bytesPerSocket { throw .limitReached(.sendQueueBytes) }
        let room = queue.chunks > 0 ? chunkSize - queue.tailFill : 0
        let needed = count > room ? (count - room + chunkSize - 1) / chunkSize : 0
        if needed > 0 {
            if queue.chunks + needed > chunksPerSocket { throw .limitReached(.sendQueueBytes) }
            if needed > free.count { throw .limitReached(.sendChunks) }
        }
        bytes.withUnsafeBytes { source in
            var copied = 0
            while copied < count {
                if queue.chunks == 0 || queue.tailFill == chunkSize {
                    queue.tailChunk = free.removeLast()
                    rings[ringIndex(slot, queue.chunks)] = queue.tailChunk
                    queue.chunks += 1
                    queue.tailFill = 0
                }
                let length = min(count - copied, chunkSize - queue.tailFill)
                let destination = memory + Int(queue.tailChunk) * chunkSize + queue.tailFill
                destination.copyMemory(from: source.baseAddress! + copied, byteCount: length)
                copied += length
                queue.tailFill += length
            }
        }
        queue.bytes += count
        queues[slot] = queue
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
        var remaining = count
        queues[slot].bytes -= count
        while remaining > 0 && queues[slot].chunks > 0 {
            let end = queues[slot].chunks == 1 ? queues[slot].tailFill : chunkSize
            let available = end - queues[slot].headOffset
            if remaining < available {
                queues[slot].headOffset += remaining
                return
            }
            remaining -= available
            free.append(chunk(slot, 0))
            queues[slot].first = queues[slot].first + 1 == chunksPerSocket ? 0 : queues[slot].first + 1
            queues[slot].chunks -= 1
            queues[slot].headOffset = 0
        }
        if queues[slot].chunks == 0 { queues[slot] = Queue() }
    }

    /// Discards everything queued for `slot`; returns how many bytes that was.
    mutating func discard(_ slot: Int) -> Int {
        let bytes = queues[slot].bytes
        consume(bytes, from: slot)
        queues[slot] = Queue()
        return bytes
    }
}
