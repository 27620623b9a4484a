import CShims
import Platform
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The eventfd behind a reactor's wake-ups. A class so the descriptor lives as long as any
/// ``Waker`` or the reactor holds it: a late `wake()` never writes to a reused descriptor.
final class WakeSignal: Sendable {
    let fd: Int32

    init() throws(ReactorError) {
        fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        if fd < 0 { throw .system(SystemError(errno, "eventfd")) }
    }

    deinit { close(fd) }
}

/// Wakes a reactor from any thread: the reactor then delivers ``ReactorEvent/woken`` once, however
/// many wakes came in between. Copy it freely.
public struct Waker: Sendable {
    let signal: WakeSignal

    /// One eventfd write. Cheap, but call it once per batch: ``Inbox`` does.
    public func wake() {
        var one: UInt64 = 1
        _ = write(signal.fd, &one, MemoryLayout<UInt64>.size)
    }
}

/// A bounded queue from other threads into one reactor: the only lock in the runtime. Posting to an
/// empty inbox wakes the reactor; posting to a non-empty one does not (one wake per batch). The
/// reactor's handler drains it on ``ReactorEvent/woken``.
public final class Inbox<Item: Sendable>: Sendable {
    private let items: Mutex<[Item]>
    private let waker: Waker
    /// The most items the inbox holds; ``post(_:)`` refuses beyond it.
    public let capacity: Int

    public init(capacity: Int, waking waker: Waker) {
        precondition(capacity > 0, "Inbox capacity must be positive")
        var storage: [Item] = []
        storage.reserveCapacity(capacity)
        self.items = Mutex(storage)
        self.waker = waker
        self.capacity = capacity
    }

    /// Queues `item`; returns false, queuing nothing, when the inbox is full.
    @discardableResult
    public func post(_ item: sending Item) -> Bool {
        let outcome: (accepted: Bool, wasEmpty: Bool) = items.withLock { items in
            guard items.count < capacity else { return (false, false) }
            items.append(item)
            return (true, items.count == 1)
        }
        if outcome.wasEmpty { waker.wake() }
        return outcome.accepted
    }

    /// Takes everything queued, oldest first, into `batch` (cleared first). Swapping storage keeps
    /// the lock held for two pointer moves and allocates nothing once both arrays have grown.
    public func drain(into batch: inout [Item]) {
        batch.removeAll(keepingCapacity: true)
        items.withLock { items in swap(&items, &batch) }
    }
}
