/// Every bound a reactor enforces, fixed when it is created. Reaching one is an error the owner of
/// the operation sees (``ReactorError/limitReached(_:)``), never growth and never a crash.
public struct Limits: Sendable, Equatable {
    /// Open sockets (listeners, connections) at once.
    public var sockets = 1024
    /// Armed timers at once (connect deadlines included).
    public var timers = 4096
    /// Receive buffers shared by all sockets; a power of two (io_uring's provided-buffer ring).
    public var receiveBuffers = 256
    /// Bytes per receive buffer: the most one receive completion carries.
    public var receiveBufferSize = 32 * 1024
    /// Send chunks shared by all sockets; outbound bytes are copied into them until sent.
    public var sendChunks = 1024
    /// Bytes per send chunk.
    public var sendChunkSize = 16 * 1024
    /// Unsent bytes one socket may hold; a send beyond it is refused with `.limitReached(.sendQueueBytes)`
    /// and the owner is told with ``ReactorEvent/writable(_:)`` once the queue is down to half.
    public var sendQueueBytesPerSocket = 1024 * 1024
    /// Kernel submissions per loop turn (io_uring submission queue entries).
    public var submissionQueue = 512
    /// Completions reaped per loop turn; the rest wait for the next turn.
    public var completionsPerTurn = 1024

    public init() {}

    /// Send chunks one socket may hold at once.
    var chunksPerSocket: Int { (sendQueueBytesPerSocket + sendChunkSize - 1) / sendChunkSize + 1 }

    func validated() throws(ReactorError) -> Limits {
        func check(_ ok: Bool, _ why: String) throws(ReactorError) {
            if !ok { throw .unavailable("bad limits: \(why)") }
        }
        try check(sockets > 0 && sockets <= 1 << 20, "sockets must be 1…1048576")
        try check(timers > 0 && timers <= 1 << 24, "timers must be 1…16777216")
        try check(
            receiveBuffers > 0 && receiveBuffers <= 32768 && receiveBuffers & (receiveBuffers - 1) == 0,
            "receiveBuffers must be a power of two up to 32768")
        try check(receiveBufferSize >= 64 && receiveBufferSize <= 1 << 24, "receiveBufferSize must be 64 B…16 MiB")
        try check(sendChunks > 0 && sendChunkSize >= 64, "sendChunks > 0 and sendChunkSize ≥ 64")
        try check(sendQueueBytesPerSocket >= sendChunkSize, "sendQueueBytesPerSocket must hold one chunk")
        try check(submissionQueue >= 8 && submissionQueue <= 32768, "submissionQueue must be 8…32768")
        try check(completionsPerTurn >= 16, "completionsPerTurn must be ≥ 16")
        return self
    }
}
