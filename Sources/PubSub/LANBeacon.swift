import Actors
import Cryptography
import Platform

/// A LAN directory's announcement, sent by UDP multicast (and broadcast, for networks that drop
/// multicast) so that host directories find it with no configuration. It carries no secret: only
/// the directory's port, the time, and a tag made with the realm secret — a host directory of
/// another realm cannot make or check it and ignores it; the TCP handshake that follows proves
/// the realm again. The sender's address is the one the datagram came from.
///
/// Wire form, 56 bytes: "ANSB", version 1, 0, port (big-endian 16 bits), seconds since 1970
/// (big-endian 64 bits), 8 random bytes, then the 32-byte tag over the first 24.
public struct LANBeacon: Equatable, Sendable {
    /// Administratively scoped (RFC 2365): never routed off the site.
    public static let multicastGroup = "239.255.41.77"
    public static let defaultPort: UInt16 = 32180
    /// How far a beacon's clock may be from ours before it is taken for a replay.
    public static let freshness: UInt64 = 600
    static let magic: [UInt8] = Array("ANSB".utf8)
    static let version: UInt8 = 1
    static let size = 56
    static let purpose = "ansar LAN beacon"

    /// Where the LAN directory listens (port); its host is the beacon's sender.
    public var directoryPort: UInt16
    public var sentAt: UInt64

    public init(directoryPort: UInt16, sentAt: UInt64) {
        self.directoryPort = directoryPort
        self.sentAt = sentAt
    }

    public func encoded(secret: RealmSecret) -> [UInt8] {
        var body = Self.magic + [Self.version, 0, UInt8(directoryPort >> 8), UInt8(directoryPort & 0xFF)]
        for shift in stride(from: 56, through: 0, by: -8) {
            body.append(UInt8(truncatingIfNeeded: sentAt >> UInt64(shift)))
        }
        body += Sodium.randomBytes(8)
        return body + secret.tag(Self.purpose, [body])
    }

    /// The beacon in `bytes` if it is well formed, fresh and made with `secret`; else why not.
    public static func decode(_ bytes: [UInt8], secret: RealmSecret, now: UInt64) -> Result<LANBeacon, BeaconError> {
        guard bytes.count == size, Array(bytes[0..<4]) == magic else {
            return .failure(BeaconError(description: "not an ansar beacon"))
        }
        guard bytes[4] == version else {
            return .failure(BeaconError(description: "beacon version \(bytes[4]) is not supported"))
        }
        let body = Array(bytes[0..<24])
        guard Sodium.constantTimeEqual(secret.tag(purpose, [body]), Array(bytes[24...])) else {
            return .failure(BeaconError(description: "beacon of another realm"))
        }
        let port = UInt16(bytes[6]) << 8 | UInt16(bytes[7])
        let sentAt = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard (sentAt > now ? sentAt - now : now - sentAt) <= freshness else {
            return .failure(BeaconError(description: "stale beacon (a replay, or clocks apart)"))
        }
        return .success(LANBeacon(directoryPort: port, sentAt: sentAt))
    }

    /// Sends `self` out of each of `interfaces` (those that are up) — to the multicast group, and
    /// to the interface's broadcast address — through `send(bytes, host, interface)`, which says
    /// whether the datagram went. The number of interfaces it went out of.
    @discardableResult
    public func send(
        port: UInt16, secret: RealmSecret, interfaces: [DatagramSocket.Interface],
        through send: (_ bytes: [UInt8], _ host: String, _ interface: String?) -> Bool
    ) -> Int {
        let bytes = encoded(secret: secret)
        var sent = 0
        for interface in interfaces {
            var out = send(bytes, Self.multicastGroup, interface.address)
            if let broadcast = interface.broadcast, send(bytes, broadcast, nil) { out = true }
            if out { sent += 1 }
        }
        return sent
    }
}

/// Why a datagram was not taken for a beacon of this realm.
public struct BeaconError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
}
