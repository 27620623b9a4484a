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

    /// An X25519 key pair: a connection's ephemeral key, or a process's static one (its identity).
    /// The secret half lives in memory of its own, written once and wiped when the pair is
    /// released, so a pair can be shared between threads.
    public final class X25519Pair: @unchecked Sendable {
        public static let keyBytes = 32
        public let publicKey: [UInt8]
        private let secretKey: UnsafeMutableRawBufferPointer

        /// A fresh pair from the system's CSPRNG.
        public convenience init() {
            var secret = Sodium.randomBytes(Self.keyBytes)
            defer { Sodium.wipe(&secret) }
            self.init(secretKey: secret)!
        }

        /// The pair of a stored secret key; nil unless it is 32 bytes.
        public init?(secretKey bytes: [UInt8]) {
            Sodium.ensureReady()
            guard bytes.count == Self.keyBytes else { return nil }
            let secret = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.keyBytes, alignment: 16)
            secret.copyBytes(from: bytes)
            var publicKey = [UInt8](repeating: 0, count: Self.keyBytes)
            publicKey.withUnsafeMutableBufferPointer { p in
                _ = crypto_scalarmult_curve25519_base(
                    p.baseAddress!, secret.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            secretKey = secret
            self.publicKey = publicKey
        }

        deinit {
            sodium_memzero(secretKey.baseAddress, secretKey.count)
            secretKey.deallocate()
        }

        /// The secret key's bytes, to store (a file only its owner may read).
        public var secretKeyBytes: [UInt8] { Array(secretKey) }

        /// The X25519 shared secret with the owner of `peer`; nil when the peer's key is not 32
        /// bytes or is a low-order point (the result would be all zeros).
        public func sharedSecret(with peer: [UInt8]) -> [UInt8]? {
            guard peer.count == Self.keyBytes else { return nil }
            var shared = [UInt8](repeating: 0, count: Self.keyBytes)
            let result = shared.withUnsafeMutableBufferPointer { q in
                peer.withUnsafeBufferPointer { p in
                    crypto_scalarmult_curve25519(
                        q.baseAddress!, secretKey.baseAddress!.assumingMemoryBound(to: UInt8.self), p.baseAddress!)
                }
            }
            return result == 0 ? shared : nil
        }
    }
}
