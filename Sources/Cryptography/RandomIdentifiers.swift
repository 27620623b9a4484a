import Platform

/// Non-zero random identifiers a peer could only know by being told (object identifiers, session
/// and listing ids, socket names), drawn from libsodium in batches of 64: the one id maker of the
/// house.
public struct RandomIdentifiers: Sendable {
    private var pool: [UInt8] = []

    public init() {}

    /// A random identifier of `bits` bits (1 to 64), never 0, for which `taken` is false.
    public mutating func next(bits: Int = 64, unless taken: (UInt64) -> Bool = { _ in false }) -> UInt64 {
        precondition((1...64).contains(bits), "an identifier has 1 to 64 bits")
        let mask = bits == 64 ? UInt64.max : (1 << UInt64(bits)) - 1
        while true {
            var value: UInt64 = 0
            if let simulation = Simulation.current {
                value = simulation.next() // a seed replays exactly
            } else {
                if pool.count < 8 { pool = Sodium.randomBytes(512) }
                for _ in 0..<8 { value = value << 8 | UInt64(pool.removeLast()) }
            }
            value &= mask
            if value != 0 && !taken(value) { return value }
        }
    }
}
