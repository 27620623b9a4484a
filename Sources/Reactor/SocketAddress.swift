import CShims
import Platform

#if canImport(Glibc)
    import Glibc
#endif

/// Where a socket listens or connects: TCP over IPv4 or IPv6, or a Unix stream socket by path or by
/// abstract name. Parse one from text with ``init(parsing:)``.
public enum SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// A dotted IPv4 address and a port; port 0 asks the kernel for an ephemeral one.
    case ipv4(String, port: UInt16)
    /// An IPv6 address (no brackets) and a port; port 0 asks the kernel for an ephemeral one.
    case ipv6(String, port: UInt16)
    /// A Unix socket at a filesystem path.
    case unix(path: String)
    /// A Unix socket in the abstract namespace (no file; gone when the last socket closes).
    case unixAbstract(name: String)

    /// Parses `host:port`, `[v6]:port`, `/path/to/socket` or `@abstract-name`.
    public init(parsing text: String) throws(ReactorError) {
        if text.hasPrefix("/") || text.hasPrefix("./") {
            self = .unix(path: text)
        } else if text.hasPrefix("@") {
            self = .unixAbstract(name: String(text.dropFirst()))
        } else if let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) {
            let host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") {
                self = .ipv6(String(host.dropFirst().dropLast()), port: port)
            } else if host.contains(":") {
                self = .ipv6(host, port: port)
            } else {
                self = .ipv4(host == "localhost" ? "127.0.0.1" : host, port: port)
            }
        } else {
            throw .invalidAddress(
                "'\(LogBudget.shown(text, limit: 120))': expected host:port, [v6]:port, /path or @name")
        }
        // Validate now, not at first use, and name the text the caller gave.
        do {
            _ = try SocketAddress.Storage(self)
        } catch {
            guard case .invalidAddress(let why) = error else { throw error }
            throw .invalidAddress("'\(LogBudget.shown(text, limit: 120))': \(why)")
        }
    }

    /// The port of a TCP address, nil for Unix sockets.
    public var port: UInt16? {
        switch self {
        case .ipv4(_, let port), .ipv6(_, let port): return port
        case .unix, .unixAbstract: return nil
        }
    }

    /// True for TCP addresses (which get TCP_NODELAY).
    public var isTCP: Bool { port != nil }

    /// The IP address of a TCP endpoint, without its port; nil for a Unix socket.
    public var host: String? {
        switch self {
        case .ipv4(let host, _), .ipv6(let host, _): return host
        case .unix, .unixAbstract: return nil
        }
    }

    public var description: String {
        switch self {
        case .ipv4(let host, let port): return "\(host):\(port)"
        case .ipv6(let host, let port): return "[\(host)]:\(port)"
        case .unix(let path): return path
        case .unixAbstract(let name): return "@\(name)"
        }
    }

    /// A `sockaddr_storage` and its length, as the socket calls want them.
    struct Storage {
        var raw = sockaddr_storage()
        var length: socklen_t = 0

        var family: Int32 { Int32(raw.ss_family) }

        init() {}

        /// A copy of the address at `pointer` (from getifaddrs and the like); IPv4 and IPv6 only.
        init?(copying pointer: UnsafePointer<sockaddr>) {
            switch Int32(pointer.pointee.sa_family) {
            case AF_INET: length = socklen_t(MemoryLayout<sockaddr_in>.size)
            case AF_INET6: length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            default: return nil
            }
            withUnsafeMutableBytes(of: &raw) {
                $0.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: Int(length)))
            }
        }

        init(_ address: SocketAddress) throws(ReactorError) {
            switch address {
            case .ipv4(let host, let port):
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_port = port.bigEndian
                guard inet_pton(AF_INET, host, &sin.sin_addr) == 1 else {
                    throw .invalidAddress("'\(LogBudget.shown(host, limit: 120))' is not an IPv4 address")
                }
                Self.store(sin, into: &raw)
                length = socklen_t(MemoryLayout<sockaddr_in>.size)
            case .ipv6(let host, let port):
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = port.bigEndian
                guard inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1 else {
                    throw .invalidAddress("'\(LogBudget.shown(host, limit: 120))' is not an IPv6 address")
                }
                Self.store(sin6, into: &raw)
                length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            case .unix(let path):
                try storeUnix(Array(path.utf8), abstract: false, shown: path)
            case .unixAbstract(let name):
                try storeUnix(Array(name.utf8), abstract: true, shown: "@" + name)
            }
        }

        private mutating func storeUnix(_ bytes: [UInt8], abstract: Bool, shown: String) throws(ReactorError) {
            var sun = sockaddr_un()
            sun.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: sun.sun_path)
            // A path needs its terminating NUL; an abstract name starts with one and has none:
            // either way the name takes one byte more than its text.
            guard !bytes.isEmpty, bytes.count + 1 <= capacity else {
                throw .invalidAddress("'\(LogBudget.shown(shown, limit: 120))' must be 1…\(capacity - 1) bytes")
            }
            withUnsafeMutableBytes(of: &sun.sun_path) { path in
                let start = abstract ? 1 : 0
                for (i, byte) in bytes.enumerated() { path[start + i] = byte }
            }
            Self.store(sun, into: &raw)
            let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
            length = socklen_t(pathOffset + bytes.count + 1)
        }

        private static func store<T>(_ value: T, into raw: inout sockaddr_storage) {
            withUnsafeMutableBytes(of: &raw) { destination in
                withUnsafeBytes(of: value) { source in destination.copyMemory(from: source) }
            }
        }

        /// Reads the address back (after getsockname or accept).
        func address() -> SocketAddress? {
            var copy = raw
            return withUnsafeBytes(of: &copy) { bytes -> SocketAddress? in
                switch Int32(raw.ss_family) {
                case AF_INET:
                    var sin = bytes.load(as: sockaddr_in.self)
                    var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                    inet_ntop(AF_INET, &sin.sin_addr, &text, socklen_t(text.count))
                    return .ipv4(Self.string(text), port: UInt16(bigEndian: sin.sin_port))
                case AF_INET6:
                    var sin6 = bytes.load(as: sockaddr_in6.self)
                    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                    inet_ntop(AF_INET6, &sin6.sin6_addr, &text, socklen_t(text.count))
                    return .ipv6(Self.string(text), port: UInt16(bigEndian: sin6.sin6_port))
                case AF_UNIX:
                    let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
                    let count = Int(length) - pathOffset
                    guard count > 0 else { return .unix(path: "") }
                    let path = bytes[pathOffset..<(pathOffset + count)]
                    if path.first == 0 {
                        return .unixAbstract(name: String(decoding: path.dropFirst(), as: UTF8.self))
                    }
                    return .unix(path: String(decoding: path.prefix { $0 != 0 }, as: UTF8.self))
                default:
                    return nil
                }
            }
        }

        private static func string(_ text: [CChar]) -> String {
            String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

extension SocketAddress {
    /// This address with an unspecified IPv4 host (0.0.0.0) replaced by `host` — how a directory
    /// that heard of a listener over the network fills in the host it heard it from. Any other
    /// address, or an empty `host`, stays as it is.
    public func replacingUnspecifiedHost(with host: String) -> SocketAddress {
        guard !host.isEmpty, case .ipv4("0.0.0.0", let port) = self else { return self }
        return .ipv4(host, port: port)
    }
}

extension SocketAddress: Codable {
    // Its printed form (`host:port`, `[v6]:port`, `/path`, `@abstract`), checked again when read.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try SocketAddress(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }
}

/// The process at the other end of a Unix socket, and its user and group, as the kernel recorded
/// them when the connection was made.
public struct PeerCredentials: Equatable, Sendable {
    public let process: Int32
    public let user: UInt32
    public let group: UInt32

    public init(process: Int32, user: UInt32, group: UInt32) {
        self.process = process
        self.user = user
        self.group = group
    }
}
