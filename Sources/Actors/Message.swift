import Synchronization

/// A value objects exchange. Any `Codable` struct or enum becomes a message by conforming:
///
/// ```swift
/// struct Welcome: Message {
///     static let typeName = "hello_welcome.Welcome"   // optional; default "Module.Welcome"
///     var myName: String
///     var yourName: String
/// }
/// ```
///
/// The type name is the message's identity on the wire and in files, the same in every language:
/// keep it stable once programs exchange it. Within one process, messages travel by value and are
/// never copied or encoded; between processes they travel in the ``WireTag`` binary form.
public protocol Message: Codable, Sendable {
    /// The language-neutral name of the type, e.g. `hello_welcome.Welcome`.
    static var typeName: String { get }
    /// Writes the fields for the wire; the default goes through `Codable`. See ``MessageWriter``.
    func writeFields(to writer: inout MessageWriter) throws
    /// Reads the fields from the wire; the default goes through `Codable`. See ``MessageReader``.
    init(fields reader: inout MessageReader) throws
}

extension Message {
    /// The module and type name, as Swift spells them (`MyModule.Outer.Inner`).
    public static var typeName: String { String(reflecting: Self.self) }
}

/// A message only a runtime makes, for objects of its own process: ``Start``, ``Stop``,
/// ``Completed``, the network notifications, the pub-sub layer's answers. It is never accepted
/// from a link, in a frame or inside another message: a peer that sends one has its link closed,
/// and no remote peer can stop, start or mislead an object through it.
public protocol LocalOnlyMessage: Message {}

/// What the runtime knows about one message type.
struct MessageType: @unchecked Sendable {
    // `any Message.Type` is a metatype, immutable and safe to share; Swift 6.3 does not yet see it.
    let name: String
    let id: UInt32
    let type: any Message.Type
    /// A ``LocalOnlyMessage``: never decoded from a link.
    let localOnly: Bool

    /// The wire identifier of a type name: 32-bit FNV-1a, with 0 kept for type declarations.
    static func identifier(of name: String) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in name.utf8 {
            hash = (hash ^ UInt32(byte)) &* 0x0100_0193
        }
        return hash == 0 ? 1 : hash
    }
}

/// The message types a process can decode, by name and by wire identifier. Sending, selecting or
/// handling a type registers it; register others (types that only arrive inside other messages)
/// with ``register(_:)``. Two names with the same identifier are refused: the second is reported
/// and arrives as ``Incognito``. A message held as Incognito because it came before its type's
/// first select becomes that type when a select names it.
public enum MessageRegistry {
    private static let table = Mutex<
        (byName: [String: MessageType], byID: [UInt32: MessageType], byType: [ObjectIdentifier: MessageType])
    >(
        ([:], [:], [:]))

    /// Registers `type`; returns false if another type already holds its name or identifier.
    @discardableResult
    public static func register(_ type: any Message.Type) -> Bool {
        entry(for: type) != nil
    }

    /// The registered type with `name`, if any.
    public static func type(named name: String) -> (any Message.Type)? {
        table.withLock { $0.byName[name]?.type }
    }

    /// The type a peer may send under `name`: nil if none is registered, and `.localOnly` for a
    /// ``LocalOnlyMessage``, which no link may carry. The runtime's own local-only types are
    /// known from the start, so a peer cannot slip one in before its first use here.
    static func wireType(named name: String) -> WireType {
        seedLocalOnly
        guard let entry = table.withLock({ $0.byName[name] }) else { return .unknown }
        return entry.localOnly ? .localOnly : .known(entry.type)
    }

    enum WireType {
        case unknown
        case known(any Message.Type)
        case localOnly
    }

    /// The runtime's ``LocalOnlyMessage`` types (the layers above register theirs as they start).
    private static let seedLocalOnly: Void = {
        let types: [any Message.Type] = [
            Start.self, Stop.self, Completed.self, Ended.self, Signalled.self, TimedOut.self, Listening.self,
            NotListening.self, Accepted.self, Connected.self, NotConnected.self, Closed.self, Abandoned.self,
            NotConfirmed.self, Writable.self, DatagramReceived.self, SelectDeadline.self,
        ]
        for type in types { register(type) }
    }()

    static func entry(for type: any Message.Type) -> MessageType? {
        let key = ObjectIdentifier(type)
        if let known = table.withLock({ $0.byType[key] }) { return known }
        let name = type.typeName
        let entry = MessageType(
            name: name, id: MessageType.identifier(of: name), type: type, localOnly: type is any LocalOnlyMessage.Type)
        return table.withLock { table in
            if let clash = table.byID[entry.id], clash.name != name || ObjectIdentifier(clash.type) != key {
                return nil
            }
            table.byName[name] = entry
            table.byID[entry.id] = entry
            table.byType[key] = entry
            return entry
        }
    }
}

/// A message of any type inside another message (``Completed/value``, for one). On the wire it
/// carries its type name; a receiver that does not know the type gets an ``Incognito``.
public struct AnyMessage: Codable, Sendable, CustomStringConvertible {
    public var message: any Message

    public init(_ message: any Message) { self.message = message }

    public var typeName: String { (message as? Incognito)?.typeName ?? type(of: message).typeName }

    public func encode(to encoder: any Encoder) throws {
        guard let encoder = encoder as? WireEncoder else {
            throw EncodingError.invalidValue(
                message,
                .init(
                    codingPath: encoder.codingPath,
                    debugDescription: "a message inside a message needs the wire encoder"))
        }
        try encoder.encodeTyped(message)
    }

    public init(from decoder: any Decoder) throws {
        guard let decoder = decoder as? WireDecoder else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "a message inside a message needs the wire decoder"))
        }
        message = try decoder.decodeTyped()
    }

    public var description: String { Printing.human(message) }
}
