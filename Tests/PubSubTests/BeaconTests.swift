import PubSub
import Reactor
import Testing
import Transport

/// LAN beacons: what a host directory accepts, and what it ignores.
@Suite("LAN beacons")
struct BeaconTests {
    let realm = RealmSecret.generate()
    let now: UInt64 = 1_790_000_000

    @Test("a beacon of the realm decodes to the directory's port and time")
    func roundTrip() throws {
        let bytes = LANBeacon(directoryPort: 32177, sentAt: now).encoded(secret: realm)
        #expect(bytes.count == 56 && Array(bytes[0..<4]) == Array("ANSB".utf8))
        #expect(
            try LANBeacon.decode(bytes, secret: realm, now: now + 3).get()
                == LANBeacon(directoryPort: 32177, sentAt: now))
        // Two beacons of one moment differ (their random bytes), so neither is a copy of the other.
        #expect(bytes != LANBeacon(directoryPort: 32177, sentAt: now).encoded(secret: realm))
    }

    @Test("ignored, with the reason: another realm, a changed byte, a wrong size, another version, a stale time")
    func refused() {
        let good = LANBeacon(directoryPort: 32177, sentAt: now).encoded(secret: realm)
        func reason(_ bytes: [UInt8], at time: UInt64? = nil) -> String? {
            if case .failure(let why) = LANBeacon.decode(bytes, secret: realm, now: time ?? now) {
                return why.description
            }
            return nil
        }
        #expect(
            reason(LANBeacon(directoryPort: 32177, sentAt: now).encoded(secret: RealmSecret.generate()))
                == "beacon of another realm")
        var portChanged = good
        portChanged[7] ^= 1 // a forged port
        #expect(reason(portChanged) == "beacon of another realm")
        #expect(reason(Array(good.dropLast())) == "not an ansar beacon")
        #expect(reason(Array("hello".utf8)) == "not an ansar beacon")
        var version = good
        version[4] = 9
        #expect(reason(version) == "beacon version 9 is not supported")
        #expect(reason(good, at: now + 601) == "stale beacon (a replay, or clocks apart)")
        #expect(reason(good, at: now - 601) == "stale beacon (a replay, or clocks apart)")
        #expect(reason(good, at: now + 600) == nil)
    }

    @Test("over real UDP on loopback: sent, received with the sender's address, decoded")
    func overUDP() throws {
        let listener = try DatagramSocket()
        let sender = try DatagramSocket()
        let bytes = LANBeacon(directoryPort: 40000, sentAt: now).encoded(secret: realm)
        try sender.send(bytes, to: "127.0.0.1", port: listener.port)
        let received = try #require(try listener.receive(timeout: .seconds(5)))
        #expect(received.from == "127.0.0.1")
        #expect(try LANBeacon.decode(received.bytes, secret: realm, now: now).get().directoryPort == 40000)
        #expect(try listener.receive(timeout: .milliseconds(20)) == nil, "nothing more: a timeout is nil, not an error")
    }
}
