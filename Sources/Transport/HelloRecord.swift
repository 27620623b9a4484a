import Platform

/// The client hellos a transport's servers took lately, by the client's ephemeral key: a hello
/// recorded off the wire and sent again is refused at once, before the server makes a key or
/// answers. Shared by the transport's handshakes, on its one thread. Bounded: past `capacity` the
/// longest seen is forgotten (its replay would then cost one key pair, and still get nowhere).
final class HelloRecord {
    private var seen: RecentlySeen<[UInt8]>

    init(capacity: Int) { seen = RecentlySeen(capacity: capacity) }

    func firstSighting(of key: [UInt8]) -> Bool { seen.firstSighting(of: key) }
}
