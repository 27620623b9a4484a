/// Names one socket of one reactor. The index is dense (below ``Limits/sockets``), so an owner can
/// keep its per-socket state in an array; the generation makes an identifier of a closed socket
/// stale, so it can never reach the socket that later reuses its slot.
public struct SocketID: Hashable, Sendable, CustomStringConvertible {
    /// The slot, in `0 ..< limits.sockets`.
    public let index: Int
    let generation: UInt32

    init(slot: UInt32, generation: UInt32) {
        self.index = Int(slot)
        self.generation = generation
    }

    var slot: UInt32 { UInt32(truncatingIfNeeded: index) }

    /// Slot and generation in one word, for compact tables; never 0.
    public var packed: UInt64 { (UInt64(slot) + 1) << 32 | UInt64(generation) }

    /// The identifier ``packed`` stands for; nil for 0.
    public init?(packed: UInt64) {
        guard packed >> 32 != 0 else { return nil }
        self.init(slot: UInt32(truncatingIfNeeded: (packed >> 32) - 1), generation: UInt32(truncatingIfNeeded: packed))
    }

    public var description: String { "socket#\(index).\(generation)" }
}

extension SocketID: Codable {
    // Its packed form: a socket named in a message is only ever this process's own.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(packed)
    }

    public init(from decoder: any Decoder) throws {
        guard let socket = SocketID(packed: try decoder.singleValueContainer().decode(UInt64.self)) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a socket"))
        }
        self = socket
    }
}

/// Names one armed timer. Stale once the timer fired or was cancelled.
public struct TimerID: Hashable, Sendable, CustomStringConvertible {
    /// The slot, in `0 ..< limits.timers`.
    public let index: Int
    let generation: UInt32
    /// Whose timer it is.
    public let space: TimerSpace

    init(slot: UInt32, generation: UInt32, space: TimerSpace = .shared) {
        self.index = Int(slot)
        self.generation = generation
        self.space = space
    }

    var slot: UInt32 { UInt32(truncatingIfNeeded: index) }

    public var description: String {
        space == .shared ? "timer#\(index).\(generation)" : "timer#\(index).\(generation)@\(space.value)"
    }
}

/// Whose timers these are, when layers share one reactor: each takes a space of its own
/// (``Reactor/newTimerSpace()``), starts its timers in it, and knows its own by
/// ``TimerID/space`` when they fire, so each layer chooses its tags freely and none is handed
/// another's.
public struct TimerSpace: Hashable, Sendable {
    let value: UInt8
    /// The space of a handler that owns the whole reactor.
    public static let shared = TimerSpace(value: 0)
}

/// What a kernel operation was, carried in its user data so its completion finds its way home.
enum OperationKind: UInt8 {
    case accept = 1, connect, receive, send, cancel, signal, wake, readable
}

/// A set of socket operation kinds, for cancelling several at once without allocating.
struct OperationKinds: OptionSet {
    let rawValue: UInt8
    static let accept = OperationKinds(rawValue: 1 << 0)
    static let connect = OperationKinds(rawValue: 1 << 1)
    static let receive = OperationKinds(rawValue: 1 << 2)
    static let send = OperationKinds(rawValue: 1 << 3)
    static let readable = OperationKinds(rawValue: 1 << 4)
    /// Every operation a socket can have in flight.
    static let everything: OperationKinds = [.accept, .connect, .receive, .send, .readable]

    /// The kinds in the order a backend cancels them.
    static let all: [(OperationKinds, OperationKind)] = [
        (.accept, .accept), (.connect, .connect), (.receive, .receive), (.send, .send), (.readable, .readable),
    ]
}

/// The 64-bit user data of a submission: kind (8 bits) | generation (24 bits) | slot (32 bits).
/// A completion whose generation no longer matches its slot belongs to a closed socket and is dropped.
struct UserData: Equatable {
    static let generationMask: UInt32 = 0xFF_FFFF

    let kind: OperationKind
    let slot: UInt32
    let generation: UInt32

    init(kind: OperationKind, slot: UInt32, generation: UInt32) {
        self.kind = kind
        self.slot = slot
        self.generation = generation & Self.generationMask
    }

    init?(packed: UInt64) {
        guard let kind = OperationKind(rawValue: UInt8(truncatingIfNeeded: packed >> 56)) else { return nil }
        self.kind = kind
        self.generation = UInt32(truncatingIfNeeded: packed >> 32) & Self.generationMask
        self.slot = UInt32(truncatingIfNeeded: packed)
    }

    var packed: UInt64 {
        UInt64(kind.rawValue) << 56 | UInt64(generation & Self.generationMask) << 32 | UInt64(slot)
    }
}
