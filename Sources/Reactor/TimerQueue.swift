/// Armed timers: a fixed-capacity indexed binary min-heap on deadline, so start, cancel and
/// "what is next" are O(log n) / O(1) with no allocation after init and no lazy tombstones.
struct TimerQueue {
    /// What a timer does when it fires.
    enum Purpose: Equatable {
        /// The owner's timer; fires ``ReactorEvent/timer(_:tag:)``.
        case user(tag: UInt64, space: TimerSpace)
        /// A connect deadline for the socket in this slot and generation.
        case connectDeadline(slot: UInt32, generation: UInt32)
        /// A listener whose accept failed (e.g. out of descriptors) tries again.
        case acceptRetry(slot: UInt32, generation: UInt32)
    }

    private struct Slot {
        var generation: UInt32 = 0
        var heapIndex: Int32 = -1
        var deadline = Deadline(nanoseconds: 0)
        var purpose = Purpose.user(tag: 0, space: .shared)
        var reserved = false
    }

    private var slots: [Slot]
    private var heap: [UInt32] // slot indices ordered as a min-heap on deadline
    private var free: [UInt32]

    /// Timers anyone may start; beyond them, `reserve` more for the ones that keep sockets alive
    /// (one connection timer and one connect deadline or accept retry per socket), so that a full
    /// table of ordinary timers never silently disables a keep-alive.
    let ordinaryCapacity: Int
    private var ordinary = 0

    init(capacity: Int, reserve: Int = 0) {
        ordinaryCapacity = capacity
        slots = Array(repeating: Slot(), count: capacity + reserve)
        heap = []
        heap.reserveCapacity(capacity + reserve)
        free = (0..<UInt32(capacity + reserve)).reversed()
    }

    var count: Int { heap.count }

    /// The earliest deadline, if any timer is armed.
    var nextDeadline: Deadline? { heap.first.map { slots[Int($0)].deadline } }

    /// Arms a timer: an ordinary one within ``ordinaryCapacity``, a `reserved` one from the reserve.
    mutating func start(at deadline: Deadline, purpose: Purpose, reserved: Bool = false) throws(ReactorError) -> TimerID
    {
        guard reserved || ordinary < ordinaryCapacity, let slot = free.popLast() else { throw .limitReached(.timers) }
        if !reserved { ordinary += 1 }
        slots[Int(slot)].reserved = reserved
        slots[Int(slot)].deadline = deadline
        slots[Int(slot)].purpose = purpose
        slots[Int(slot)].heapIndex = Int32(heap.count)
        heap.append(slot)
        siftUp(heap.count - 1)
        return TimerID(slot: slot, generation: slots[Int(slot)].generation)
    }

    /// Disarms a timer. Returns false when it had already fired or been cancelled.
    @discardableResult
    mutating func cancel(_ id: TimerID) -> Bool {
        guard isArmed(id) else { return false }
        remove(heapIndex: Int(slots[id.index].heapIndex))
        release(id.slot)
        return true
    }

    func isArmed(_ id: TimerID) -> Bool {
        id.index < slots.count && slots[id.index].generation == id.generation && slots[id.index].heapIndex >= 0
    }

    /// Removes and returns the earliest timer if its deadline is at or before `now`.
    mutating func popExpired(now: Deadline) -> (TimerID, Purpose)? {
        guard let first = heap.first, slots[Int(first)].deadline <= now else { return nil }
        let id = TimerID(slot: first, generation: slots[Int(first)].generation)
        let purpose = slots[Int(first)].purpose
        remove(heapIndex: 0)
        release(first)
        return (id, purpose)
    }

    private mutating func release(_ slot: UInt32) {
        if !slots[Int(slot)].reserved { ordinary -= 1 }
        slots[Int(slot)].heapIndex = -1
        slots[Int(slot)].generation &+= 1
        free.append(slot)
    }

    private mutating func remove(heapIndex index: Int) {
        let last = heap.count - 1
        if index != last {
            swapAt(index, last)
        }
        heap.removeLast()
        if index < heap.count {
            siftDown(index)
            siftUp(index)
        }
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        slots[Int(heap[a])].deadline < slots[Int(heap[b])].deadline
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        slots[Int(heap[a])].heapIndex = Int32(a)
        slots[Int(heap[b])].heapIndex = Int32(b)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count && less(left + 1, left) { smallest = left + 1 }
            guard less(smallest, parent) else { return }
            swapAt(smallest, parent)
            parent = smallest
        }
    }
}
