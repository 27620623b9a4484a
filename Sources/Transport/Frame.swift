import Platform

/// The fixed 32-byte header in front of every message on the wire, little-endian:
///
/// ```
/// offset  size  field
///      0     2  magic "AN" (0x41 0x4E)
///      2     1  version (1)
///      3     1  flags (bits 0–3 reserved, zero; bits 4–7 are the application's, carried as
///                 they are)
///      4     4  body length in bytes
///      8     4  message type id
///     12     4  reserved, zero
///     16     8  destination address (an object at the receiving end; 0 = the connection's owner)
///     24     8  return address (the sending object)
/// ```
///
/// The header is validated whole before any body byte is looked at.
public struct FrameHeader: Equatable, Sendable {
    public static let size = 32
    public static let magic: UInt16 = 0x4E41 // bytes 'A', 'N'
    public static let version: UInt8 = 1
    /// A default cap on body length; each decoder takes its own.
    public static let defaultMaximumBody = 16 * 1024 * 1024

    /// Header flag bits.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Bits the transport reserves: zero on the wire. (Keep-alive travels in control records,
        /// not frames; see ``RecordKind``.)
        public static let reserved = Flags(rawValue: 0x0F)
    }

    /// The application's flag bits (4–7).
    public var flags: Flags
    /// Bytes of body after the header. ``Connections/send(_:body:on:)`` fills it in.
    public var bodyLength: Int
    /// Which message this is; the actor layer maps type ids to message types.
    public var typeID: UInt32
    /// The object at the receiving end the frame is for; 0 is the connection's owner.
    public var destination: UInt64
    /// The sending object, where replies go.
    public var returnAddress: UInt64

    public init(typeID: UInt32, bodyLength: Int, destination: UInt64 = 0, returnAddress: UInt64 = 0, flags: Flags = [])
    {
        self.flags = flags
        self.bodyLength = bodyLength
        self.typeID = typeID
        self.destination = destination
        self.returnAddress = returnAddress
    }

    /// Appends the 32 header bytes to `output`, assembled on the stack and appended in one copy.
    public func write(into output: inout [UInt8]) {
        var bytes = InlineArray<32, UInt8>(repeating: 0)
        func store(_ value: UInt64, at offset: Int, count: Int) {
            for index in 0..<count { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
        }
        store(UInt64(Self.magic), at: 0, count: 2)
        bytes[2] = Self.version
        bytes[3] = flags.rawValue
        store(UInt64(UInt32(truncatingIfNeeded: bodyLength)), at: 4, count: 4)
        store(UInt64(typeID), at: 8, count: 4)
        store(destination, at: 16, count: 8)
        store(returnAddress, at: 24, count: 8)
        output.append(span: bytes.span)
    }

    /// Parses and validates a header from the first 32 bytes of `bytes`.
    public init(parsing bytes: Span<UInt8>, maximumBody: Int) throws(TransportError) {
        precondition(bytes.count >= Self.size, "a header needs 32 bytes")
        let magic = bytes.loadLittleEndian(UInt16.self, at: 0)
        guard magic == Self.magic else { throw .badMagic(magic) }
        guard bytes[2] == Self.version else { throw .unsupportedVersion(bytes[2]) }
        guard bytes.loadLittleEndian(UInt32.self, at: 12) == 0, bytes[3] & Flags.reserved.rawValue == 0 else {
            throw .reservedNotZero
        }
        let length = Int(bytes.loadLittleEndian(UInt32.self, at: 4))
        guard length <= maximumBody else { throw .frameTooLarge(length: length, maximum: maximumBody) }
        flags = Flags(rawValue: bytes[3])
        bodyLength = length
        typeID = bytes.loadLittleEndian(UInt32.self, at: 8)
        destination = bytes.loadLittleEndian(UInt64.self, at: 16)
        returnAddress = bytes.loadLittleEndian(UInt64.self, at: 24)
    }
}
