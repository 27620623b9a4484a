import Cryptography

/// What one end of a relayed session shows a ``RelaySwitch`` first: the rendezvous token both ends
/// share, which end this is, when the ticket stops being good, and a tag under the relay's key.
/// The directory that matched the session issues one per end (it holds the key; the ends do
/// not), so the relay joins only pairs a directory asked for: a stranger cannot tunnel through it,
/// and a member cannot pair one ticket with itself or use a ticket twice.
///
/// Wire form (49 bytes): `ANSR`, version 2, three zero bytes, token (16), end (1), expiry (8,
/// seconds since 1970, big-endian), tag (16: keyed BLAKE2b over everything before it).
public struct RelayTicket: Equatable, Sendable {
    /// Which side of the realm handshake the end plays across the relay.
    public enum End: UInt8, Sendable {
        /// The subscriber's process: the handshake's client.
        case client = 0
        /// The publisher's process: the handshake's server.
        case server = 1

        var other: End { self == .client ? .server : .client }
    }

    /// Why a relay refuses what an end sent first.
    public enum Refusal: Error, Equatable, Sendable {
        /// Not a ticket of this version.
        case malformed
        /// Its tag is not the relay key's: not issued by a directory of this relay.
        case forged
        /// Past its expiry.
        case expired
    }

    public static let tokenBytes = 16
    public static let keyBytes = 32
    static let magic: [UInt8] = Array("ANSR".utf8)
    static let version: UInt8 = 2
    static let tagBytes = 16
    static let signedBytes = 8 + tokenBytes + 1 + 8
    /// Its size on the wire.
    public static let bytes = signedBytes + tagBytes

    /// Shared by the two ends of one rendezvous.
    public let token: [UInt8]
    public let end: End
    /// Seconds since 1970 after which the relay refuses it.
    public let expiresAt: UInt64

    /// A fresh random key: a relay and the one directory that names it share it (in a file for a
    /// relay that runs on its own), so no one else — no realm member — can issue its tickets, and
    /// the relay cannot join the realm.
    public static func newKey() -> [UInt8] { Sodium.randomBytes(keyBytes) }

    /// A relay key kept in a file, written like a realm secret: 64 hexadecimal digits, readable
    /// by its owner only.
    public static func key(contentsOfFile path: String) throws(KeyFileError) -> [UInt8] {
        try RealmSecret(contentsOfFile: path).bytes
    }

    /// `key` as the text of a key file.
    public static func text(of key: [UInt8]) -> String { RealmSecret(bytes: key)!.hex }

    /// A fresh random token for one rendezvous.
    public static func newToken() -> [UInt8] { Sodium.randomBytes(tokenBytes) }

    /// The tickets of one rendezvous, one per end, good until `expiresAt`.
    public static func issue(token: [UInt8], expiresAt: UInt64, key: [UInt8]) -> (client: [UInt8], server: [UInt8]) {
        (
            issue(token: token, end: .client, expiresAt: expiresAt, key: key),
            issue(token: token, end: .server, expiresAt: expiresAt, key: key)
        )
    }

    static func issue(token: [UInt8], end: End, expiresAt: UInt64, key: [UInt8]) -> [UInt8] {
        precondition(token.count == tokenBytes && key.count == keyBytes, "a relay token is 16 bytes, its key 32")
        var signed = magic + [version, 0, 0, 0] + token + [end.rawValue]
        for shift in stride(from: 56, through: 0, by: -8) {
            signed.append(UInt8(truncatingIfNeeded: expiresAt >> UInt64(shift)))
        }
        return signed + tag(signed, key: key)
    }

    /// Reads and checks a ticket: well-formed, tagged under `key`, not expired at `now`.
    public init(checking bytes: [UInt8], key: [UInt8], now: UInt64) throws(Refusal) {
        guard bytes.count == Self.bytes, Array(bytes[0..<4]) == Self.magic, bytes[4] == Self.version,
            bytes[5...7].allSatisfy({ $0 == 0 }), let end = End(rawValue: bytes[8 + Self.tokenBytes])
        else { throw .malformed }
        let signed = Array(bytes[0..<Self.signedBytes])
        guard Sodium.constantTimeEqual(Self.tag(signed, key: key), Array(bytes[Self.signedBytes...])) else {
            throw .forged
        }
        let expiresAt = bytes[(Self.signedBytes - 8)..<Self.signedBytes].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard now <= expiresAt else { throw .expired }
        self.token = Array(bytes[8..<(8 + Self.tokenBytes)])
        self.end = end
        self.expiresAt = expiresAt
    }

    private static func tag(_ signed: [UInt8], key: [UInt8]) -> [UInt8] {
        Sodium.keyedHash(key: key, [Array("ansar relay ticket".utf8), signed], length: tagBytes)
    }
}
