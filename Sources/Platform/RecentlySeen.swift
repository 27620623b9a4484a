/// The last `capacity` keys seen, each taken once: a bounded replay record. When full, the key
/// seen longest ago is forgotten for the new one (what a replay of it then gets through is bounded
/// by the caller's own freshness rule, if any).
public struct RecentlySeen<Key: Hashable>: Sendable where Key: Sendable {
    public let capacity: Int
    private var keys: Set<Key> = []
    /// Keys in the order they were seen, as a ring from `oldest`.
    private var order: [Key] = []
    private var oldest = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "a replay record holds at least one key")
        self.capacity = capacity
    }

    /// Keys remembered.
    public var count: Int { keys.count }

    /// True the first time `key` is seen (it is remembered); false for a key remembered already.
    public mutating func firstSighting(of key: Key) -> Bool {
        guard keys.insert(key).inserted else { return false }
        if order.count < capacity {
            order.append(key)
        } else {
            keys.remove(order[oldest])
            order[oldest] = key
            oldest = (oldest + 1) % capacity
        }
        return true
    }
}
