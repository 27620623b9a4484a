import Actors
import Cryptography
import Platform

/// A LAN directory's announcement, sent by UDP multicast (and broadcast, for networks that drop
/// multicast) so that host directories find it with no configuration. It carries no secret: the
/// directory's address and port, the time, a random nonce, and a tag made with the realm secret
/// over all of them — a host directory of another realm cannot make or check it and ignores it;
/// the TCP handshake that follows proves the realm again. The address is the one it is sent from
/// on that network, and a beacon is taken only from that address: one replayed from elsewhere
/// cannot steer hosts to another machine. A host remembers the nonces it took within the
/// freshness window (``BeaconReplays``), so an exact replay is taken once.
///
/// Wire form, 60 bytes: "ANSB", version 2, 0, port (big-endian 16 bits), seconds since 1970
/// (big-endian 64 bits), 8 random bytes, the IPv4 address (4 bytes), then the 32-byte tag over
/// the first 28.
public struct LANBeacon: Equatable, Sendable {
    /// Administratively scoped (RFC 2365): never routed off the site.
    public static let multicastGroup = "239.255.41.77"
    public static let defaultPort: UInt16 = 32180
    /// How far a beacon's clock may be from ours before it is taken for a replay (hosts of one
    /// network keep their clocks within this by NTP).
    public static let freshness: UInt64 = 60
    static let magic: [UInt8] = Array("ANSB".utf8)
    static let version: UInt8 = 2
    static let bodySize = 28
    static let size = bodySize + 32
    static let purpose = "ansar LAN beacon"

    /// Where the LAN directory listens: its address on this network, and its port.
    public var directoryHost: String
    public var directoryPort: UInt16
    public var sentAt: UInt64
    /// Random: no two beacons are alike, so a copy is known for one.
    public var nonce: [UInt8]

    public init(directoryHost: String, directoryPort: UInt16, sentAt: UInt64, nonce: [UInt8] = Sodium.randomBytes(8)) {
        self.directoryHost = directoryHost
        self.directoryPort = directoryPort
        self.sentAt = sentAt
        self.nonce = nonce
    }

    /// Nil when `directoryHost` is not a dotted IPv4 address.
    public func encoded(secret: RealmSecret) -> [UInt8]? {
        guard let address = Self.octets(directoryHost), nonce.count == 8 else { return nil }
        var body = Self.magic + [Self.version, 0, UInt8(directoryPort >> 8), UInt8(directoryPort & 0xFF)]
        for shift in stride(from: 56, through: 0, by: -8) {
            body.append(UInt8(truncatingIfNeeded: sentAt >> UInt64(shift)))
        }
        body += nonce + address
        return body + secret.tag(Self.purpose, [body])
    }

    /// The beacon in `bytes` if it is well formed, made with `secret`, fresh, and names `sender`
    /// (the address the datagram came from); else why not.
    public static func decode(_ bytes: [UInt8], from sender: String, secret: RealmSecret, now: UInt64) -> Result<
        LANBeacon, BeaconError
    > {
        guard bytes.count == size, Array(bytes[0..<4]) == magic else {
            return .failure(BeaconError(description: "not an ansar beacon"))
        }
        guard bytes[4] == version else {
            return .failure(BeaconError(description: "beacon version \(bytes[4]) is not supported"))
        }
        let body = Array(bytes[0..<bodySize])
        guard Sodium.constantTimeEqual(secret.tag(purpose, [body]), Array(bytes[bodySize...])) else {
            return .failure(BeaconError(description: "beacon of another realm"))
        }
        let port = UInt16(bytes[6]) << 8 | UInt16(bytes[7])
        let sentAt = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let host = bytes[24..<28].map { String($0) }.joined(separator: ".")
        guard (sentAt > now ? sentAt - now : now - sentAt) <= freshness else {
            return .failure(BeaconError(description: "stale beacon (a replay, or clocks apart)"))
        }
        guard host == sender else {
            return .failure(BeaconError(description: "beacon of \(host) sent from elsewhere (a replay)"))
        }
        return .success(
            LANBeacon(directoryHost: host, directoryPort: port, sentAt: sentAt, nonce: Array(bytes[16..<24])))
    }

    /// Sends a beacon for `directoryPort` out of each of `interfaces` (those that are up), each
    /// naming that interface's address — to the multicast group, and to the interface's broadcast
    /// address — through `send(bytes, host, interface)`, which says whether the datagram went.
    /// The number of interfaces it went out of.
    @discardableResult
    public static func send(
        directoryPort: UInt16, sentAt: UInt64, toPort port: UInt16, secret: RealmSecret,
        interfaces: [DatagramSocket.Interface],
        through send: (_ bytes: [UInt8], _ host: String, _ interface: String?) -> Bool
    ) -> Int {
        var sent = 0
        for interface in interfaces {
            let beacon = LANBeacon(directoryHost: interface.address, directoryPort: directoryPort, sentAt: sentAt)
            guard let bytes = beacon.encoded(secret: secret) else { continue }
            var out = send(bytes, Self.multicastGroup, interface.address)
            if let broadcast = interface.broadcast, send(bytes, broadcast, nil) { out = true }
            if out { sent += 1 }
        }
        return sent
    }

    private static func octets(_ host: String) -> [UInt8]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        return parts.count == 4 ? parts : nil
    }
}

/// The beacons a host took lately, by nonce: a beacon copied off the network and sent again is
/// taken once. Bounded: past `capacity` the longest seen are forgotten (a replay of one of those
/// within its freshness is at worst one more sighting of a real directory).
public struct BeaconReplays: Sendable {
    private var seen: RecentlySeen<[UInt8]>

    public init(capacity: Int = 4_096) { seen = RecentlySeen(capacity: capacity) }

    public var capacity: Int { seen.capacity }

    /// Nonces remembered.
    public var count: Int { seen.count }

    /// True the first time `beacon` is seen.
    public mutating func firstSighting(of beacon: LANBeacon) -> Bool {
        seen.firstSighting(of: beacon.nonce)
    }
}

/// Why a datagram was not taken for a beacon of this realm.
public struct BeaconError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
}
