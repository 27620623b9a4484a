/// Why a transport refused input or closed a connection. Each closes only the offending
/// connection, and the reason is logged and carried in its Closed/Abandoned event.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The first bytes of a frame are not the frame magic: garbage, or a different protocol.
    case badMagic(UInt16)
    /// A frame of a protocol version this side does not speak.
    case unsupportedVersion(UInt8)
    /// Reserved header bytes were not zero (a corrupt or future header).
    case reservedNotZero
    /// A header announced a body longer than the configured maximum.
    case frameTooLarge(length: Int, maximum: Int)
    /// A record announced a length outside 1…maximum.
    case recordLength(Int)
    /// A record failed authentication: forged, corrupted, replayed, reordered or truncated.
    case recordRejected
    /// The stream ended inside a frame or record.
    case truncated(missing: Int)
    /// The handshake failed; the reason says how (wrong realm secret, plaintext peer…).
    case handshake(String)
    /// The peer stayed silent past the keep-alive deadline.
    case peerSilent(milliseconds: Int64)
    /// A frame in progress arrived slower than the configured minimum rate (a trickling peer).
    case tooSlow(bytesPerSecond: Int, minimum: Int)
    /// A control record carried something this transport does not know.
    case unknownControl(UInt8)

    public var description: String {
        switch self {
        case .badMagic(let magic): return "not a frame: magic 0x\(String(magic, radix: 16))"
        case .unsupportedVersion(let version): return "unsupported frame version \(version)"
        case .reservedNotZero: return "reserved header bytes are not zero"
        case .frameTooLarge(let length, let maximum):
            return "frame body of \(length) bytes exceeds the maximum of \(maximum)"
        case .recordLength(let length): return "record length \(length) out of range"
        case .recordRejected: return "record failed authentication (forged, corrupted, replayed or reordered)"
        case .truncated(let missing): return "stream ended \(missing) bytes short of a whole frame or record"
        case .handshake(let why): return "handshake failed: \(why)"
        case .peerSilent(let milliseconds): return "peer silent for \(milliseconds) ms"
        case .tooSlow(let rate, let minimum):
            return "frame arriving at \(rate) B/s, below the minimum of \(minimum) B/s"
        case .unknownControl(let kind): return "unknown control record \(kind)"
        }
    }
}
