import CAESGCM
import CSodium

/// Authenticated encryption for one direction of one connection, with counter nonces.
///
/// AES-256-GCM where the CPU has AES-NI (`crypto_aead_aes256gcm_is_available()`; its key schedule is
/// expanded once), else XChaCha20-Poly1305. AES-GCM records of ``bulkRecord`` bytes or more go
/// through OpenSSL's libcrypto, whose implementation is two to three times as fast there (its
/// context made on the first such record, so a link of small messages never pays its memory);
/// smaller ones through libsodium, as fast at that size. Both are the same algorithm with the same
/// nonce, tag and additional data, so either end may use either. Each seal or open uses the next
/// counter as the nonce, so a replayed, reordered or dropped record fails to open. Works on the
/// caller's buffers (sealing reads the plaintext where it lies, opening decrypts in place): nothing
/// is allocated per record.
public final class AEAD {
    /// The two AEADs libsodium offers for this.
    public enum Algorithm: String, Sendable {
        case aes256gcm = "AES-256-GCM"
        case xchacha20poly1305 = "XChaCha20-Poly1305"

        /// The fastest algorithm this machine supports.
        public static var preferred: Algorithm {
            Sodium.ensureReady()
            return crypto_aead_aes256gcm_is_available() == 1 ? .aes256gcm : .xchacha20poly1305
        }
    }

    /// Bytes of authentication tag appended to each sealed record.
    public static let tagBytes = 16
    public static let keyBytes = 32
    /// The smallest AES-GCM record sealed and opened through libcrypto by default (measured: from
    /// about 1 KiB it is faster than libsodium's, 2.5× at 8–64 KiB; below, the two are even).
    public static let bulkRecord = 1024

    /// The cipher in use, fixed for the key's life.
    public let algorithm: Algorithm
    /// Records sealed or opened so far: the next nonce.
    public private(set) var counter: UInt64 = 0
    private var key: [UInt8]
    private let aesState: UnsafeMutableRawPointer?
    /// libcrypto's contexts for records of `bulkThreshold` bytes or more (AES-GCM only); nil
    /// until the first, and for good if libcrypto cannot make them (libsodium then seals all).
    private var bulk: OpaquePointer?
    private var bulkFailed = false
    /// Records of at least this many bytes go through libcrypto: ``bulkRecord``, `Int.max` for
    /// never, 0 for every one.
    public let bulkThreshold: Int
    private var nonce = [UInt8](repeating: 0, count: 24)

    public init(key: [UInt8], algorithm: Algorithm = .preferred, bulkThreshold: Int = AEAD.bulkRecord) {
        precondition(key.count == Self.keyBytes, "AEAD keys are 32 bytes")
        Sodium.ensureReady()
        self.algorithm = algorithm
        self.bulkThreshold = bulkThreshold
        self.key = key
        if algorithm == .aes256gcm {
            let state = UnsafeMutableRawPointer.allocate(byteCount: crypto_aead_aes256gcm_statebytes(), alignment: 16)
            key.withUnsafeBufferPointer {
                _ = crypto_aead_aes256gcm_beforenm(
                    state.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self), $0.baseAddress!)
            }
            aesState = state
        } else {
            aesState = nil
        }
    }

    deinit {
        ansar_aesgcm_free(bulk)
        if let aesState {
            sodium_memzero(aesState, crypto_aead_aes256gcm_statebytes())
            aesState.deallocate()
        }
        key.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
    }

    /// Replaces the key with one derived from it (BLAKE2b keyed by the old key), for rekeying after
    /// a bounded number of records. Both ends do it at the same record count; no message is needed.
    public func rekey() {
        let next = Sodium.keyedHash(key: key, [Array("ansar rekey".utf8)])
        key.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
        key = next
        if let aesState {
            key.withUnsafeBufferPointer {
                _ = crypto_aead_aes256gcm_beforenm(
                    aesState.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self), $0.baseAddress!)
            }
        }
        if let bulk, key.withUnsafeBufferPointer({ ansar_aesgcm_rekey(bulk, $0.baseAddress!) }) != 0 {
            dropBulk()
        }
    }

    /// libcrypto's contexts when a record of `length` bytes should go through them.
    private func bulkEngine(for length: Int) -> OpaquePointer? {
        guard aesState != nil, length >= bulkThreshold, !bulkFailed else { return nil }
        if bulk == nil {
            bulk = key.withUnsafeBufferPointer { ansar_aesgcm_new($0.baseAddress!) }
            bulkFailed = bulk == nil
        }
        return bulk
    }

    /// libcrypto failed (out of memory): libsodium takes every record from here on.
    private func dropBulk() {
        ansar_aesgcm_free(bulk)
        bulk = nil
        bulkFailed = true
    }

    private func advanceNonce() {
        // Little-endian counter; the rest stays zero. Unique per key since the counter never repeats.
        var value = counter
        for index in 0..<8 {
            nonce[index] = UInt8(truncatingIfNeeded: value)
            value >>= 8
        }
        counter += 1
    }

    /// Encrypts `plaintext` into `buffer` at `offset` (one pass, no copy first) and writes the tag
    /// in the `tagBytes` after it. `buffer` must have room.
    public func seal(_ plaintext: Span<UInt8>, into buffer: inout [UInt8], at offset: Int, additional: [UInt8]) {
        precondition(offset >= 0 && offset + plaintext.count + Self.tagBytes <= buffer.count, "no room for the record")
        advanceNonce()
        plaintext.withUnsafeBufferPointer { message in
            buffer.withUnsafeMutableBufferPointer { bytes in
                let output = bytes.baseAddress! + offset
                let tag = output + message.count
                nonce.withUnsafeBufferPointer { nonce in
                    additional.withUnsafeBufferPointer { ad in
                        if let bulk = bulkEngine(for: message.count) {
                            if ansar_aesgcm_seal(
                                bulk, output, tag, message.baseAddress, message.count, ad.baseAddress, ad.count,
                                nonce.baseAddress!) == 0
                            {
                                return
                            }
                            dropBulk() // libsodium seals this record (over whatever was written) and the rest
                        }
                        if let aesState {
                            _ = crypto_aead_aes256gcm_encrypt_detached_afternm(
                                output, tag, nil, message.baseAddress, UInt64(message.count), ad.baseAddress,
                                UInt64(ad.count), nil, nonce.baseAddress!,
                                aesState.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self))
                        } else {
                            key.withUnsafeBufferPointer { key in
                                _ = crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
                                    output, tag, nil, message.baseAddress, UInt64(message.count), ad.baseAddress,
                                    UInt64(ad.count), nil, nonce.baseAddress!, key.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Decrypts `buffer[range]` in place, checking the tag in the `tagBytes` after it. False when
    /// the record is forged, corrupted, replayed or out of order; the buffer is then garbage.
    public func open(_ buffer: inout [UInt8], range: Range<Int>, additional: [UInt8]) -> Bool {
        guard range.upperBound + Self.tagBytes <= buffer.count else { return false }
        advanceNonce()
        let result = buffer.withUnsafeMutableBufferPointer { bytes -> Int32 in
            let message = bytes.baseAddress! + range.lowerBound
            let tag = bytes.baseAddress! + range.upperBound
            return nonce.withUnsafeBufferPointer { nonce in
                additional.withUnsafeBufferPointer { ad in
                    if let bulk = bulkEngine(for: range.count) {
                        // A failure is a forgery or libcrypto's own: either way the record is lost.
                        return ansar_aesgcm_open(
                            bulk, message, range.count, tag, ad.baseAddress, ad.count, nonce.baseAddress!)
                    }
                    if let aesState {
                        return crypto_aead_aes256gcm_decrypt_detached_afternm(
                            message, nil, message, UInt64(range.count), tag, ad.baseAddress, UInt64(ad.count),
                            nonce.baseAddress!, aesState.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self))
                    }
                    return key.withUnsafeBufferPointer { key in
                        crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
                            message, nil, message, UInt64(range.count), tag, ad.baseAddress, UInt64(ad.count),
                            nonce.baseAddress!, key.baseAddress!)
                    }
                }
            }
        }
        return result == 0
    }
}
