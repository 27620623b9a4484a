/// A bounded first-in first-out queue. Its buffer starts small and doubles as needed up to the
/// bound, so an idle runtime costs little; pushing and popping never allocate once it has grown.
struct Ring<Element> {
    private var storage: [Element?]
    private var head = 0
    private(set) var count = 0
    /// The most elements it will hold.
    let capacity: Int

    init(capacity: Int, initial: Int = 256) {
        precondition(capacity > 0, "a ring needs room")
        self.capacity = capacity
        storage = Array(repeating: nil, count: min(capacity, initial))
    }

    var isEmpty: Bool { count == 0 }

    /// Appends `element`; false, appending nothing, when `capacity` elements are queued.
    mutating func push(_ element: consuming Element) -> Bool {
        if count == storage.count {
            guard count < capacity else { return false }
            grow()
        }
        var tail = head + count
        if tail >= storage.count { tail -= storage.count }
        storage[tail] = element
        count += 1
        return true
    }

    mutating func pop() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head].take()
        head += 1
        if head == storage.count { head = 0 }
        count -= 1
        return element
    }

    /// Doubles the buffer (up to `capacity`), unrolling the queue to its start.
    private mutating func grow() {
        var larger: [Element?] = Array(repeating: nil, count: min(capacity, storage.count * 2))
        for index in 0..<count {
            var position = head + index
            if position >= storage.count { position -= storage.count }
            larger[index] = storage[position].take()
        }
        storage = larger
        head = 0
    }
}
