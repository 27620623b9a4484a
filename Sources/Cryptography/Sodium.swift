import CSodium

/// The libsodium primitives the transports need, behind safe value-typed APIs, so that the modules
/// using them can be compiled with strict memory safety.
public enum Sodium {
    /// Initialises libsodium once (it is idempotent and thread-safe); traps if it cannot start.
    public static func ensureReady() {
        _ = ready
    }

    private static let ready: Bool = {
        precondition(sodium_init() >= 0, "libsodium failed to initialise")
        return true
    }()

    /// `count` bytes from the system's CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        ensureReady()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return bytes
    }

    /// Overwrites `bytes` with zeros where the compiler cannot skip it: for key material once it
    /// has served (the array must be the only owner of its storage for that storage to be wiped).
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
    }

    /// Compares two byte strings in time independent of where they differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in sodium_memcmp(x.baseAddress, y.baseAddress, x.count) == 0 }
        }
    }

    /// Keyed BLAKE2b over the concatenation of `parts`; `length` 16…64 bytes, `key` 16…64 bytes.
    public static func keyedHash(key: [UInt8], _ parts: [[UInt8]], length: Int = 32) -> [UInt8] {
        ensureReady()
        precondition(
            (16...64).contains(length) && (16...64).contains(key.count), "BLAKE2b key and output are 16…64 bytes")
        // The state type is 64-byte aligned, which Swift does not import: allocate it by size.
        let memory = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        defer { memory.deallocate() }
        let state = OpaquePointer(memory)
        var output = [UInt8](repeating: 0, count: length)
        key.withUnsafeBufferPointer { key in
            _ = crypto_generichash_init(state, key.baseAddress, key.count, length)
        }
        for part in parts {
            part.withUnsafeBufferPointer { _ = crypto_generichash_update(state, $0.baseAddress, UInt64($0.count)) }
        }
        output.withUnsafeMutableBufferPointer { _ = crypto_generichash_final(state, $0.baseAddress!, length) }
        return output
    }

    /// An ephemeral X25519 key pair for `crypto_kx`. The secret half is wiped when the pair is
    /// released: drop the pair as soon as the session keys are derived.
    public final class KeyExchangePair {
        public static let publicKeyBytes = 32
        public let publicKey: [UInt8]
        private var secretKey: [UInt8]

        public init() {
            Sodium.ensureReady()
            var publicKey = [UInt8](repeating: 0, count: Int(crypto_kx_PUBLICKEYBYTES))
            var secretKey = [UInt8](repeating: 0, count: Int(crypto_kx_SECRETKEYBYTES))
            _ = publicKey.withUnsafeMutableBufferPointer { p in
                secretKey.withUnsafeMutableBufferPointer { s in crypto_kx_keypair(p.baseAddress!, s.baseAddress!) }
            }
            self.publicKey = publicKey
            self.secretKey = secretKey
        }

        deinit {
            secretKey.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
        }

        /// The two session keys (receive, transmit) shared with the owner of `peer`; nil when the
        /// peer's key is unacceptable (a low-order point).
        public func sessionKeys(asClient: Bool, peer: [UInt8]) -> (receive: [UInt8], transmit: [UInt8])? {
            guard peer.count == Self.publicKeyBytes else { return nil }
            var receive = [UInt8](repeating: 0, count: Int(crypto_kx_SESSIONKEYBYTES))
            var transmit = [UInt8](repeating: 0, count: Int(crypto_kx_SESSIONKEYBYTES))
            let result = receive.withUnsafeMutableBufferPointer { rx in
                transmit.withUnsafeMutableBufferPointer { tx in
                    publicKey.withUnsafeBufferPointer { ours in
                        secretKey.withUnsafeBufferPointer { secret in
                            peer.withUnsafeBufferPointer { theirs in
                                asClient
                                    ? crypto_kx_client_session_keys(
                                        rx.baseAddress!, tx.baseAddress!, ours.baseAddress!, secret.baseAddress!,
                                        theirs.baseAddress!)
                                    : crypto_kx_server_session_keys(
                                        rx.baseAddress!, tx.baseAddress!, ours.baseAddress!, secret.baseAddress!,
                                        theirs.baseAddress!)
                            }
                        }
                    }
                }
            }
            return result == 0 ? (receive, transmit) : nil
        }
    }
}
