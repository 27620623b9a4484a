import Cryptography
import Testing

/// AES-GCM records go through libcrypto from ``AEAD/bulkRecord`` bytes and through libsodium below:
/// the same algorithm, so a record sealed by either must open with the other, and a forgery must
/// fail both.
@Suite("AEAD engines: libcrypto for bulk records, libsodium for small, one wire format")
struct AEADEngineTests {
    static let sizes = [0, 1, 15, 16, 17, 1023, 1024, 1025, 4096, 65536, 1 << 20]
    let key = Sodium.randomBytes(32)
    let additional: [UInt8] = [7, 0, 0, 0]

    /// Every record through libcrypto (0) or through libsodium (`Int.max`).
    func aead(bulkThreshold: Int) -> AEAD { AEAD(key: key, algorithm: .aes256gcm, bulkThreshold: bulkThreshold) }

    func sealed(_ plaintext: [UInt8], by sealer: AEAD) -> [UInt8] {
        var record = [UInt8](repeating: 0, count: plaintext.count + AEAD.tagBytes)
        sealer.seal(plaintext.span, into: &record, at: 0, additional: additional)
        return record
    }

    @Test("a record sealed by either engine opens with the other, at every size", arguments: sizes)
    func interoperate(size: Int) {
        guard AEAD.Algorithm.preferred == .aes256gcm else { return }
        let plaintext = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) }
        for (sealing, opening) in [(0, Int.max), (Int.max, 0), (0, 0)] {
            let sealer = aead(bulkThreshold: sealing)
            let opener = aead(bulkThreshold: opening)
            for round in 0..<3 { // the nonce counter advances alike on both
                var record = sealed(plaintext, by: sealer)
                #expect(
                    opener.open(&record, range: 0..<size, additional: additional),
                    "\(size) B, round \(round), sealed with threshold \(sealing), opened with \(opening)")
                #expect(Array(record[0..<size]) == plaintext)
            }
        }
    }

    @Test("a flipped bit in the ciphertext, the tag or the additional data fails both engines", arguments: [16, 4096])
    func forgeries(size: Int) {
        guard AEAD.Algorithm.preferred == .aes256gcm else { return }
        let plaintext = [UInt8](repeating: 0x42, count: size)
        for threshold in [0, Int.max] {
            let record = sealed(plaintext, by: aead(bulkThreshold: threshold))
            for index in [0, size - 1, size, size + AEAD.tagBytes - 1] {
                var forged = record
                forged[index] ^= 0x01
                #expect(
                    !aead(bulkThreshold: threshold).open(&forged, range: 0..<size, additional: additional),
                    "bit flipped at \(index) of \(size), threshold \(threshold)")
            }
            var intact = record
            #expect(!aead(bulkThreshold: threshold).open(&intact, range: 0..<size, additional: [8, 0, 0, 0]))
            intact = record
            #expect(aead(bulkThreshold: threshold).open(&intact, range: 0..<size, additional: additional))
        }
    }

    @Test("both engines rekey alike: records after a rekey open across them, a stale key fails")
    func rekeying() {
        guard AEAD.Algorithm.preferred == .aes256gcm else { return }
        let plaintext = [UInt8](repeating: 0x17, count: 8192)
        let sealer = aead(bulkThreshold: 0)
        let opener = aead(bulkThreshold: Int.max)
        let stale = aead(bulkThreshold: 0)
        var first = sealed(plaintext, by: sealer) // makes libcrypto's context before the rekey
        #expect(opener.open(&first, range: 0..<plaintext.count, additional: additional))
        var staleFirst = sealed(plaintext, by: aead(bulkThreshold: 0))
        #expect(stale.open(&staleFirst, range: 0..<plaintext.count, additional: additional))
        sealer.rekey()
        opener.rekey()
        let second = sealed(plaintext, by: sealer)
        var copy = second
        #expect(opener.open(&copy, range: 0..<plaintext.count, additional: additional))
        #expect(Array(copy[0..<plaintext.count]) == plaintext)
        copy = second
        #expect(!stale.open(&copy, range: 0..<plaintext.count, additional: additional), "the old key is refused")
    }
}
