import Cryptography
import Reactor
import Testing

@testable import Transport

@Suite("Records: AEAD per coalesced write, counters, rekeying")
struct RecordTests {
    static let algorithms: [AEAD.Algorithm] = [.aes256gcm, .xchacha20poly1305]
    let key = Sodium.randomBytes(32)

    func open(
        _ stream: [UInt8], key: [UInt8], algorithm: AEAD.Algorithm, pieces: Int = 1 << 30,
        policy: RekeyPolicy = RekeyPolicy()
    ) throws(TransportError) -> [[UInt8]] {
        var opener = RecordOpener(key: key, maximumRecord: 1 << 20, policy: policy, algorithm: algorithm)
        var out: [[UInt8]] = []
        var offset = 0
        while offset < stream.count {
            let end = min(stream.count, offset + pieces)
            try opener.feed(stream[offset..<end].span) { kind, plaintext throws(TransportError) in
                #expect(kind == .data)
                var copy: [UInt8] = []
                for index in plaintext.indices { copy.append(plaintext[index]) }
                out.append(copy)
            }
            offset = end
        }
        try opener.finish()
        return out
    }

    @Test("records round-trip whatever the split", arguments: algorithms, [1, 7, 100, 1 << 20])
    func roundTrip(algorithm: AEAD.Algorithm, pieces: Int) throws {
        guard algorithm != .aes256gcm || AEAD.Algorithm.preferred == .aes256gcm else { return }
        var sealer = RecordSealer(key: key, algorithm: algorithm)
        var stream: [UInt8] = []
        let messages = (0..<30).map { index in (0..<(index * 37)).map { UInt8(truncatingIfNeeded: $0 ^ index) } }
        for message in messages { sealer.seal(message.span, appendingTo: &stream) }
        #expect(stream.count == messages.reduce(0) { $0 + $1.count + RecordSealer.overhead })
        #expect(try open(stream, key: key, algorithm: algorithm, pieces: pieces) == messages)
    }

    @Test("tampered, replayed, reordered, dropped and truncated records are refused", arguments: algorithms)
    func refusals(algorithm: AEAD.Algorithm) throws {
        guard algorithm != .aes256gcm || AEAD.Algorithm.preferred == .aes256gcm else { return }
        var sealer = RecordSealer(key: key, algorithm: algorithm)
        var records: [[UInt8]] = []
        for index in 0..<3 {
            var record: [UInt8] = []
            sealer.seal([UInt8](repeating: UInt8(index), count: 50).span, appendingTo: &record)
            records.append(record)
        }
        var flipped = records[0]
        flipped[10] ^= 0x80
        #expect(throws: TransportError.recordRejected) { try open(flipped, key: key, algorithm: algorithm) }
        #expect(throws: TransportError.recordRejected) {
            try open(records[0] + records[0], key: key, algorithm: algorithm)
        }
        #expect(throws: TransportError.recordRejected) {
            try open(records[1] + records[0], key: key, algorithm: algorithm)
        }
        #expect(throws: TransportError.recordRejected) {
            try open(records[0] + records[2], key: key, algorithm: algorithm)
        }
        #expect(throws: TransportError.truncated(missing: 5)) {
            try open(Array(records[0].dropLast(5)), key: key, algorithm: algorithm)
        }
        #expect(throws: TransportError.recordRejected) {
            try open(records[0], key: Sodium.randomBytes(32), algorithm: algorithm)
        }
        var longLength = records[0]
        longLength[3] = 0x7F
        #expect(throws: TransportError.recordLength(0x7F00_0042)) {
            try open(longLength, key: key, algorithm: algorithm)
        }
    }

    @Test("both ends rekey at the same record; a stale key fails after it")
    func rekeying() throws {
        let policy = RekeyPolicy(records: 4, bytes: 1 << 40)
        var sealer = RecordSealer(key: key, policy: policy)
        var stream: [UInt8] = []
        for index in 0..<10 { sealer.seal([UInt8(index)].span, appendingTo: &stream) }
        #expect(try open(stream, key: key, algorithm: .preferred, policy: policy).count == 10)
        #expect(throws: TransportError.recordRejected) {
            try open(stream, key: key, algorithm: .preferred, policy: RekeyPolicy(records: 5, bytes: 1 << 40))
        }
    }
}
