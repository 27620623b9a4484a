import AnsarTestKit
import Testing

@testable import Actors
@testable import PubSub

/// A host directory that finds its LAN directory by beacon, over real UDP on loopback.
@Suite("A host directory listening for beacons")
struct BeaconListenerTests {
    @Test("a beacon replayed from another address is not followed; the one its directory sent is")
    func replayedElsewhere() throws {
        let port = UInt16.random(in: 40_000...60_000)
        let secret = groupSecret.secret
        let now = UInt64(SystemAccess.wallClock())
        // A real directory's beacon (127.0.0.9), replayed from 127.0.0.1; and the one 127.0.0.1 sent.

        let replayed = try #require(
            LANBeacon(directoryHost: "127.0.0.9", directoryPort: 32177, sentAt: now).encoded(secret: secret))
        let own = try #require(
            LANBeacon(directoryHost: "127.0.0.1", directoryPort: 32178, sentAt: now).encoded(secret: secret))
        let host = RuntimeThread(transport: groupSecret) { mailbox in
            guard
                let directory = mailbox.create(
                    ScopeDirectory(
                        listening: .unixAbstract(name: "ansar-test-host-\(port)"), scope: .host,
                        links: .init(discoverOnPort: port)))
            else { return Faulted("no directory") }
            let sender = try DatagramSocket()
            var heard: [String] = []
            let deadline = Deadline.after(.seconds(10))
            // Beacons may come before the directory listens: send until the good one is heard.
            while !heard.contains("127.0.0.1:32178"), Deadline.now() < deadline {
                try sender.send(replayed, to: "127.0.0.1", port: port)
                try sender.send(own, to: "127.0.0.1", port: port)
                let report = try await mailbox.ask(
                    NetworkEnquiry(), to: directory, expecting: NetworkReport.self, timeout: .seconds(5))
                heard = (report as? NetworkReport)?.lanDirectoriesHeard ?? []
            }
            return Seen(events: heard)
        }
        #expect((host.wait() as? Seen)?.events == ["127.0.0.1:32178"])
    }
}
