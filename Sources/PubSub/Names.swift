import Actors

/// How far a listing or a search travels: a match is made only between ends whose requested
/// scopes both reach the directory that sees them.
public enum Scope: Int, Codable, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    /// Objects of one process; no socket at all.
    case process = 1
    /// The processes of one group (one `ansar run`).
    case group
    /// The groups of one host.
    case host
    /// The hosts of one local network.
    case lan
    /// Across networks.
    case wan

    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The scope a word names, in any case: "process", "group", "host", "lan" or "wan".
    public init?(named name: String) {
        guard let scope = Scope.allCases.first(where: { $0.description.lowercased() == name.lowercased() }) else {
            return nil
        }
        self = scope
    }

    public var description: String {
        switch self {
        case .process: return "PROCESS"
        case .group: return "GROUP"
        case .host: return "HOST"
        case .lan: return "LAN"
        case .wan: return "WAN"
        }
    }
}

/// Why a name or a search was refused.
public struct NameError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
}

/// A published service's name: 1 to 255 characters of letters, digits and `-_./`, starting with a
/// letter or digit — safe in files, logs and URLs, and the same in every language.
public struct ServiceName: Hashable, Sendable, CustomStringConvertible {
    public static let maximumLength = 255
    public let text: String

    public init(_ text: String) throws(NameError) {
        guard !text.isEmpty else { throw NameError(description: "a name cannot be empty") }
        guard text.utf8.count <= Self.maximumLength else {
            throw NameError(description: "name of \(text.utf8.count) bytes is over \(Self.maximumLength)")
        }
        guard let first = text.unicodeScalars.first, Self.isAlphanumeric(first) else {
            throw NameError(description: "name \"\(text)\" must start with a letter or digit")
        }
        if let bad = text.unicodeScalars.first(where: {
            !Self.isAlphanumeric($0) && !"-_./".unicodeScalars.contains($0)
        }) {
            throw NameError(description: "name \"\(text)\" holds \"\(bad)\"; use letters, digits and -_./")
        }
        self.text = text
    }

    static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    public var description: String { text }
}

extension ServiceName: ExpressibleByStringLiteral {
    /// A name written in the program: `publish("hello-welcome")`. A literal that is not a valid name
    /// is a bug in the program, and stops it with the reason; names from input go through the
    /// throwing ``init(_:)``.
    public init(stringLiteral text: String) {
        do {
            try self.init(text)
        } catch {
            preconditionFailure("service name literal: \(error)")
        }
    }
}

extension ServiceName: Codable {
    // A plain string on the wire, checked again when read: a peer cannot slip in a bad name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    public init(from decoder: any Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }
}

/// What a subscriber looks for. An exact name by default (a string literal is one:
/// `subscribe("hello-welcome")`); prefixes and regular expressions only when asked for by name.
public enum Search: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    case exact(ServiceName)
    /// Names that start with this text.
    case prefix(String)
    /// Names the whole of which match this regular expression (``NamePattern``'s syntax: the
    /// POSIX ERE that fits names, matched in time linear in the name).
    case pattern(String)

    /// An exact search for `name`.
    public static func name(_ name: String) throws(NameError) -> Search { .exact(try ServiceName(name)) }

    /// An exact search for a name written in the program.
    public init(stringLiteral text: String) { self = .exact(ServiceName(stringLiteral: text)) }

    /// A search in its printed form (``description``): `name`, `prefix…` or `/pattern/`,
    /// validated. Names cannot start with `/` or hold `…`, so the three cannot be confused.
    public init(parsing text: String) throws(NameError) {
        if text.count >= 2, text.hasPrefix("/"), text.hasSuffix("/") {
            self = try Search.pattern(String(text.dropFirst().dropLast())).validated()
        } else if text.hasSuffix("…") {
            self = try Search.prefix(String(text.dropLast())).validated()
        } else {
            self = .exact(try ServiceName(text))
        }
    }

    /// Checks the search can be used: a valid prefix, a pattern that compiles.
    public func validated() throws(NameError) -> Search {
        switch self {
        case .exact: return self
        case .prefix(let text):
            guard !text.isEmpty, text.utf8.count <= ServiceName.maximumLength else {
                throw NameError(description: "a prefix must be 1 to \(ServiceName.maximumLength) bytes")
            }
            return self
        case .pattern(let text):
            _ = try NamePattern(text)
            return self
        }
    }

    public func matches(_ name: ServiceName) -> Bool {
        switch self {
        case .exact(let wanted): return wanted == name
        case .prefix(let text): return name.text.hasPrefix(text)
        case .pattern(let text):
            return (try? NamePattern(text))?.matches(name.text) ?? false
        }
    }

    public var description: String {
        switch self {
        case .exact(let name): return name.text
        case .prefix(let text): return "\(text)…"
        case .pattern(let text): return "/\(text)/"
        }
    }
}

extension Search: Codable {
    // Its printed form on the wire and in files, checked again when read.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public init(from decoder: any Decoder) throws {
        try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }
}
