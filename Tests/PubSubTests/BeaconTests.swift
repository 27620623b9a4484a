import PubSub
import Reactor
import Testing
import Transport

/// LAN beacons: what a host directory accepts, and what it ignores.
@Suite("LAN beacons")
struct BeaconTests {
    let realm = RealmSecret.generate()
    let now: UInt64 = 1_790_000_000

    func beacon(_ host: String = "10.0.0.7", port: UInt16 = 32177, at time: UInt64? = nil) -> LANBeacon {
        LANBeacon(directoryHost: host, directoryPort: port, sentAt: time ?? now)
    }

    @Test("a beacon of the realm decodes to the directory's address, port and time")
    func roundTrip() throws {
        let sent = beacon()
        let bytes = try #require(sent.encoded(secret: realm))
        #expect(bytes.count == 60 && Array(bytes[0..<4]) == Array("ANSB".utf8))
        #expect(try LANBeacon.decode(bytes, from: "10.0.0.7", secret: realm, now: now + 3).get() == sent)
        // Two beacons of one moment differ (their nonces), so neither is a copy of the other.
        #expect(bytes != beacon().encoded(secret: realm))
        #expect(LANBeacon(directoryHost: "::1", directoryPort: 1, sentAt: now).encoded(secret: realm) == nil)
    }

    @Test(
        "ignored, with the reason: another realm, a changed byte, a wrong size, another version, a stale time, another sender"
    )
    func refused() throws {
        let good = try #require(beacon().encoded(secret: realm))
        func reason(_ bytes: [UInt8], from sender: String = "10.0.0.7", at time: UInt64? = nil) -> String? {
            if case .failure(let why) = LANBeacon.decode(bytes, from: sender, secret: realm, now: time ?? now) {
                return why.description
            }
            return nil
        }
        #expect(reason(try #require(beacon().encoded(secret: RealmSecret.generate()))) == "beacon of another realm")
        for index in [7, 27] { // the port; the address
            var changed = good
            changed[index] ^= 1
            #expect(reason(changed) == "beacon of another realm")
        }
        #expect(reason(Array(good.dropLast())) == "not an ansar beacon")
        #expect(reason(Array("hello".utf8)) == "not an ansar beacon")
        var version = good
        version[4] = 9
        #expect(reason(version) == "beacon version 9 is not supported")
        #expect(reason(good, at: now + 61) == "stale beacon (a replay, or clocks apart)")
        #expect(reason(good, at: now - 61) == "stale beacon (a replay, or clocks apart)")
        #expect(reason(good, at: now + 60) == nil)
        #expect(reason(good, from: "10.0.0.66") == "beacon of 10.0.0.7 sent from elsewhere (a replay)")
    }

    @Test("a beacon is taken once: its copy is not; the record stays bounded")
    func replays() {
        var taken = BeaconReplays(capacity: 3)
        let first = beacon()
        let once = taken.firstSighting(of: first)
        let twice = taken.firstSighting(of: first)
        #expect(once && !twice, "the same beacon again")
        var all = true
        for offset in UInt64(1)...10 {
            all = taken.firstSighting(of: beacon(at: now + offset)) && all
        }
        let later = taken.firstSighting(of: beacon(at: now + 100))
        #expect(all && later, "new beacons are taken however many came before")
        #expect(taken.count <= 3)
    }

    @Test("over real UDP on loopback: sent, received with the sender's address, decoded")
    func overUDP() throws {
        let listener = try DatagramSocket()
        let sender = try DatagramSocket()
        let bytes = try #require(beacon("127.0.0.1", port: 40000).encoded(secret: realm))
        try sender.send(bytes, to: "127.0.0.1", port: listener.port)
        let received = try #require(try listener.receive(timeout: .seconds(5)))
        #expect(received.from == "127.0.0.1")
        #expect(
            try LANBeacon.decode(received.bytes, from: received.from, secret: realm, now: now).get().directoryPort
                == 40000)
        #expect(try listener.receive(timeout: .milliseconds(20)) == nil, "nothing more: a timeout is nil, not an error")
    }
}
