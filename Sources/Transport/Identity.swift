import Cryptography
import Platform

/// A process's static key: what it proves in every handshake besides the realm secret, so a peer
/// knows not only that the other end is of the realm but which member it is.
///
/// `ansar` issues one per role into the home (`HOME/keys/ROLE`); a process without one makes a
/// fresh identity when its transport starts, which is enough to tell it from every other process
/// (a connection back to itself is refused) but carries no permission of its own.
public final class Identity: Sendable {
    /// What peers see of this identity.
    public let publicKey: PeerIdentity
    let pair: Sodium.X25519Pair

    init(pair: Sodium.X25519Pair) {
        self.pair = pair
        publicKey = PeerIdentity(bytes: pair.publicKey)!
    }

    /// A fresh identity.
    public static func generate() -> Identity { Identity(pair: Sodium.X25519Pair()) }

    /// The secret key as 64 lowercase hexadecimal digits, for a file only its owner may read.
    public var secretHex: String {
        var bytes = pair.secretKeyBytes
        defer { Sodium.wipe(&bytes) }
        return SystemAccess.hex(bytes)
    }

    /// Reads an identity file: 64 hexadecimal digits, in a file not readable by group or others.
    public convenience init(contentsOfFile path: String) throws(KeyFileError) {
        // The same file rules as the realm secret's: one reader, one set of errors.
        let key = try RealmSecret(contentsOfFile: path)
        self.init(pair: Sodium.X25519Pair(secretKey: key.bytes)!)
    }
}

/// The public half of an ``Identity``: 32 bytes, shown as 64 hexadecimal digits.
public struct PeerIdentity: Hashable, Sendable, Codable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Fails unless `bytes` is exactly 32 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Sodium.X25519Pair.keyBytes else { return nil }
        self.bytes = bytes
    }

    /// Parses 64 hexadecimal digits.
    public init?(hex text: String) {
        guard let key = RealmSecret(hex: text) else { return nil }
        bytes = key.bytes
    }

    public var description: String { SystemAccess.hex(bytes) }

    /// The first 8 bytes in hexadecimal, enough for a person to tell identities apart in a log.
    public var short: String { SystemAccess.hex(Array(bytes.prefix(8))) }

    public init(from decoder: any Decoder) throws {
        let bytes = try decoder.singleValueContainer().decode([UInt8].self)
        guard let identity = PeerIdentity(bytes: bytes) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "an identity is 32 bytes"))
        }
        self = identity
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }
}
