/// Where a message can be sent: an object in this process, or one reached through a connection.
///
/// An object's identifier is 64 bits: a table slot in the low 24 bits, the runtime (thread) it
/// lives on in the next 8, and 32 random bits drawn when the object is created. A peer can reach
/// only identifiers handed to its connection (as a sender, or inside a message) or exposed to
/// every connection (``ObjectContext/expose(_:)``); anything else is dropped, and a connection
/// that keeps missing is closed.
///
/// An address received over a connection keeps that connection as its route (`link`). Sending to it
/// goes back over the same connection, whatever number of hops lie beyond: each process on the way
/// stands in for the next with a forwarder entry of its own.
public struct Address: Hashable, Sendable, CustomStringConvertible {
    /// The object's identifier where the route ends (or at the next hop, for a forwarder).
    public let object: UInt64
    /// The link and the runtime that owns it, packed in one word (0: none), so that an address is
    /// two plain words and copies of it cost nothing on the hot path: the ``LinkID`` in the low 56
    /// bits, the runtime's index + 1 above.
    private let route: UInt64

    /// The link the address routes through; `nil` for an object in this process.
    public var link: LinkID? {
        let value = route & Address.linkMask
        return value == 0 ? nil : LinkID(value: value)
    }

    /// The runtime (thread) whose connection the address routes through.
    var linkRuntime: Int { Int(route >> 56) - 1 }

    /// No object: sends to it are dropped. The return address of messages the runtime makes up.
    public static let none = Address(local: 0)

    /// An object of this process.
    init(local object: UInt64) {
        self.object = object
        route = 0
    }

    /// An object beyond `link`, a link of runtime `runtime`.
    init(object: UInt64, link: LinkID, runtime: Int) {
        self.object = object
        route = link.value & Address.linkMask | UInt64(runtime + 1) << 56
    }

    /// Object `object` of the process `other` lives in, reached the same way as `other`: how a
    /// directory names an object it was told of by number, over a connection it already has.
    public init(object: UInt64, via other: Address) {
        self.object = object
        route = other.route
    }

    /// The object at the far end of `link` that owns it (the listener's or connector's owner).
    static func owner(of link: LinkID, runtime: Int) -> Address { Address(object: 0, link: link, runtime: runtime) }

    static let linkMask: UInt64 = (1 << 56) - 1

    /// Whether the address names an object of this process.
    public var isLocal: Bool { route == 0 }

    var slot: Int { Int(object & Address.slotMask) }
    /// The runtime (thread) of this process the object lives on.
    var runtime: Int { Int((object >> Address.slotBits) & 0xFF) }

    static let slotBits: UInt64 = 24
    static let slotMask: UInt64 = (1 << slotBits) - 1
    static let randomShift: UInt64 = slotBits + 8

    public var description: String {
        let hex = String(object, radix: 16)
        let padded = String(repeating: "0", count: max(0, 16 - hex.count)) + hex
        guard let link else { return "<\(padded)>" }
        return "<\(padded)@\(link)>"
    }
}

extension Address: Codable {
    // The wire coders handle addresses themselves (they route); other coders see the printed form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(
            .init(codingPath: decoder.codingPath, debugDescription: "an address is read only from a message"))
    }
}
