import Cryptography
import Platform
import Reactor

/// The secret shared by the members of one deployment (a realm): 32 bytes. Both ends of every
/// connection prove they hold it before anything else is exchanged.
///
/// A process gets it from its home (a file `ansar create` writes), from any file, or from an
/// environment variable; as text it is 64 hexadecimal digits.
public struct RealmSecret: Sendable, Equatable {
    public static let byteCount = 32
    /// The environment variable ``fromEnvironment(_:)`` reads by default.
    public static let environmentVariable = "ANSAR_REALM_SECRET"
    let bytes: [UInt8]

    /// Fails unless `bytes` is exactly 32 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Parses 64 hexadecimal digits (either case; surrounding whitespace ignored).
    public init?(hex text: String) {
        let digits = Array(text.utf8).filter { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        guard digits.count == 2 * Self.byteCount else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        for pair in stride(from: 0, to: digits.count, by: 2) {
            guard let high = Self.nibble(digits[pair]), let low = Self.nibble(digits[pair + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.bytes = bytes
    }

    /// A 32-byte tag over `parts` that only holders of this secret can make: a keyed BLAKE2b hash
    /// under a `purpose` label, so a tag made for one purpose is never valid for another. Lets a
    /// message that carries no secret (a LAN beacon) prove which realm sent it.
    public func tag(_ purpose: String, _ parts: [[UInt8]]) -> [UInt8] {
        Sodium.keyedHash(key: bytes, [Array(purpose.utf8)] + parts)
    }

    /// The secret as 64 lowercase hexadecimal digits, for writing to a file.
    public var hex: String { SystemAccess.hex(bytes) }

    /// A fresh random secret (what `ansar create` writes to a home).
    public static func generate() -> RealmSecret { RealmSecret(bytes: Sodium.randomBytes(byteCount))! }

    /// Reads a secret file: 64 hexadecimal digits. Like an SSH key, the file must not be readable by
    /// group or others.
    public init(contentsOfFile path: String) throws(KeyFileError) {
        let file: (bytes: [UInt8], mode: UInt32)
        do {
            file = try SystemAccess.readSmallFile(path, limit: 4096)
        } catch {
            throw .unreadable(path: path, error)
        }
        guard file.mode & 0o077 == 0 else { throw .tooOpen(path: path, mode: file.mode) }
        guard let secret = RealmSecret(hex: String(decoding: file.bytes, as: UTF8.self)) else {
            throw .malformed(source: path)
        }
        self = secret
    }

    /// The secret in environment variable `name`, nil if it is not set.
    public static func fromEnvironment(_ name: String = environmentVariable) throws(KeyFileError) -> RealmSecret? {
        guard let text = SystemAccess.environment(name) else { return nil }
        guard let secret = RealmSecret(hex: text) else { throw .malformed(source: "$" + name) }
        return secret
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: return digit - 0x30
        case 0x61...0x66: return digit - 0x61 + 10
        case 0x41...0x46: return digit - 0x41 + 10
        default: return nil
        }
    }
}

/// Why a key file (a realm secret, an identity) could not be loaded; each names where it looked.
public enum KeyFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be read (missing, not a regular file, too long…).
    case unreadable(path: String, SystemError)
    /// The file can be read by group or others.
    case tooOpen(path: String, mode: UInt32)
    /// The text is not 64 hexadecimal digits.
    case malformed(source: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let error): return "\(path): \(error)"
        case .tooOpen(let path, let mode):
            return "\(path) is readable by others (mode \(String(mode, radix: 8))); run chmod 600 \(path)"
        case .malformed(let source): return "\(source): expected 64 hexadecimal digits"
        }
    }
}
