import FoundationEssentials

/// Turns address items that arrived over one connection into addresses, and addresses into
/// identifiers this process can hand on (for ``Incognito`` bodies).
protocol AddressResolver: AnyObject {
    func address(_ tag: WireTag, _ value: UInt64) throws(WireError) -> Address
    func localIdentifier(for address: Address) throws(WireError) -> UInt64
}

/// The bytes every container of one decoding shares (a struct: copies share the array).
struct WireSource {
    let bytes: [UInt8]
    let resolver: AddressResolver?

    init(_ bytes: [UInt8], resolver: AddressResolver?) {
        self.bytes = bytes
        self.resolver = resolver
    }

    func reader(at offset: Int) -> WireReader { WireReader(bytes, offset: offset) }

    func failure(_ path: FieldPath, _ problem: String) -> WireError { WireError(path: path.dotted, problem: problem) }

    /// Reads the item at `offset` as `T`, with the same leniency JSON needs: integers read as
    /// doubles, base64 strings and integer arrays as bytes.
    func value<T: Decodable>(_ type: T.Type, at offset: Int, path: FieldPath) throws -> T {
        do {
            switch type {
            case is Address.Type: return try address(at: offset, path: path) as! T
            case is [UInt8].Type: return try bytes(at: offset, path: path) as! T
            case is String.Type: return try string(at: offset, path: path) as! T
            case is Int.Type: return try integer(Int.self, at: offset, path: path) as! T
            case is Double.Type: return try double(at: offset, path: path) as! T
            case is Bool.Type: return try bool(at: offset, path: path) as! T
            default: return try T(from: WireDecoder(source: self, offset: offset, codingPath: path.keys))
            }
        } catch var error as WireError {
            if error.path.isEmpty { error.path = path.dotted }
            throw error
        }
    }

    func tag(at offset: Int) throws(WireError) -> WireTag { try reader(at: offset).peekTag() }

    func isNull(at offset: Int) throws(WireError) -> Bool { try tag(at: offset) == .null }

    private func kindName(_ tag: WireTag) -> String {
        switch tag {
        case .null: return "null"
        case .false, .true: return "a boolean"
        case .integer, .unsigned: return "an integer"
        case .double: return "a number"
        case .string: return "a string"
        case .bytes: return "bytes"
        case .array: return "a list"
        case .object: return "an object"
        case .address, .returningAddress: return "an address"
        case .message: return "a message"
        }
    }

    func mismatch(_ path: FieldPath, expected: String, found tag: WireTag) -> WireError {
        failure(path, "expected \(expected), found \(kindName(tag))")
    }

    /// Reads a container's tag and count; the reader is left at its first item.
    func open(_ kind: WireTag, at offset: Int, path: FieldPath) throws(WireError) -> (Int, WireReader) {
        var reader = reader(at: offset)
        let tag = try reader.tag()
        guard tag == kind else { throw mismatch(path, expected: kind == .object ? "an object" : "a list", found: tag) }
        return (try reader.count(), reader)
    }

    func bool(at offset: Int, path: FieldPath) throws(WireError) -> Bool {
        var reader = reader(at: offset)
        switch try reader.tag() {
        case .true: return true
        case .false: return false
        case let other: throw mismatch(path, expected: "a boolean", found: other)
        }
    }

    func string(at offset: Int, path: FieldPath) throws(WireError) -> String {
        var reader = reader(at: offset)
        let tag = try reader.tag()
        guard tag == .string else { throw mismatch(path, expected: "a string", found: tag) }
        return try reader.text()
    }

    func integer<T: FixedWidthInteger>(_ type: T.Type, at offset: Int, path: FieldPath) throws(WireError) -> T {
        var reader = reader(at: offset)
        let tag = try reader.tag()
        let converted: T?
        switch tag {
        case .integer:
            let raw = try reader.varint()
            converted = T(exactly: Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))))
        case .unsigned:
            converted = T(exactly: try reader.varint())
        default:
            throw mismatch(path, expected: "an integer", found: tag)
        }
        guard let converted else { throw failure(path, "integer out of range for \(T.self)") }
        return converted
    }

    func double(at offset: Int, path: FieldPath) throws(WireError) -> Double {
        var reader = reader(at: offset)
        let tag = try reader.tag()
        switch tag {
        case .double: return Double(bitPattern: try reader.fixed(UInt64.self))
        case .integer, .unsigned: return Double(try integer(Int64.self, at: offset, path: path))
        default: throw mismatch(path, expected: "a number", found: tag)
        }
    }

    func bytes(at offset: Int, path: FieldPath) throws(WireError) -> [UInt8] {
        var reader = reader(at: offset)
        let tag = try reader.tag()
        switch tag {
        case .bytes:
            let count = try reader.length()
            return Array(bytes[reader.offset..<(reader.offset + count)])
        case .string:
            guard let decoded = Data(base64Encoded: try reader.text()) else {
                throw failure(path, "expected base64 text")
            }
            return Array(decoded)
        case .array:
            var items: [UInt8] = []
            for _ in 0..<(try reader.count()) {
                items.append(try integer(UInt8.self, at: reader.offset, path: path))
                try reader.skip()
            }
            return items
        default:
            throw mismatch(path, expected: "bytes", found: tag)
        }
    }

    func address(at offset: Int, path: FieldPath) throws(WireError) -> Address {
        var reader = reader(at: offset)
        let tag = try reader.tag()
        guard tag == .address || tag == .returningAddress else {
            throw mismatch(path, expected: "an address", found: tag)
        }
        let value = try reader.fixed(UInt64.self)
        guard let resolver else {
            guard tag == .address else { throw failure(path, "an address coming home outside a connection") }
            return Address(local: value)
        }
        return try resolver.address(tag, value)
    }
}

/// A coding path built only when it is needed (an error, a nested container): a container's path
/// plus the key being read. Building `path + [key]` for every field cost an allocation per field.
struct FieldPath {
    let base: [any CodingKey]
    let key: (any CodingKey)?

    init(_ base: [any CodingKey], _ key: (any CodingKey)? = nil) {
        self.base = base
        self.key = key
    }

    var keys: [any CodingKey] { key.map { base + [$0] } ?? base }
    var dotted: String { keys.dotted }
}

/// A `Codable` decoder reading ``WireTag`` items.
final class WireDecoder: Decoder {
    let source: WireSource
    let offset: Int
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    /// Where the keyed container reading this value left off.
    var cursorIndex = 0
    var cursorOffset = 0

    init(source: WireSource, offset: Int, codingPath: [any CodingKey]) {
        self.source = source
        self.offset = offset
        self.codingPath = codingPath
    }

    /// Decodes `T` from a whole body; trailing bytes are an error.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], resolver: AddressResolver? = nil) throws -> T
    {
        let source = WireSource(bytes, resolver: resolver)
        var reader = source.reader(at: 0)
        try reader.skip()
        guard reader.atEnd else {
            throw WireError(path: "", problem: "\(bytes.count - reader.offset) bytes after the message")
        }
        return try source.value(type, at: 0, path: FieldPath([]))
    }

    /// A typed item: the registered type, or an ``Incognito`` when the name is unknown here.
    func decodeTyped() throws -> any Message {
        var reader = source.reader(at: offset)
        let tag = try reader.tag()
        guard tag == .message else { throw source.mismatch(FieldPath(codingPath), expected: "a message", found: tag) }
        let name = try reader.text()
        let fieldsAt = reader.offset
        switch MessageRegistry.wireType(named: name) {
        case .known(let known):
            return try known.init(from: WireDecoder(source: source, offset: fieldsAt, codingPath: codingPath))
        case .localOnly:
            throw source.failure(FieldPath(codingPath), "\(name) is made by a runtime for its own process: never sent")
        case .unknown: break
        }
        try reader.skip()
        return try Incognito(
            typeName: name, wireFields: Array(source.bytes[fieldsAt..<reader.offset]), resolver: source.resolver)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(
            try KeyedWireReader<Key>(source: source, offset: offset, codingPath: codingPath, decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try UnkeyedWireReader(source: source, offset: offset, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleWireReader(source: source, offset: offset, codingPath: codingPath)
    }
}

/// The scalar cases every container shares, reading the item at a given offset.
protocol WireScalarReader {
    var source: WireSource { get }
}

extension WireScalarReader {
    func read<T: Decodable>(_ type: T.Type, at offset: Int, _ path: FieldPath) throws -> T {
        if T.self == Float.self { return Float(try source.double(at: offset, path: path)) as! T }
        if let integer = T.self as? any FixedWidthInteger.Type, T.self != Int.self {
            return try readInteger(integer, at: offset, path) as! T
        }
        return try source.value(type, at: offset, path: path)
    }

    private func readInteger<I: FixedWidthInteger>(_ type: I.Type, at offset: Int, _ path: FieldPath) throws -> I {
        try source.integer(type, at: offset, path: path)
    }
}

struct KeyedWireReader<Key: CodingKey>: KeyedDecodingContainerProtocol, WireScalarReader {
    let source: WireSource
    let codingPath: [any CodingKey]
    private let count: Int
    private let entriesAt: Int
    // Members are usually read in the order they were written: each search starts after the last
    // hit. The position lives in the decoder (a class), which exists anyway for most containers.
    private let cursor: WireDecoder

    init(source: WireSource, offset: Int, codingPath: [any CodingKey], decoder: WireDecoder? = nil) throws {
        let (count, reader) = try source.open(.object, at: offset, path: FieldPath(codingPath))
        self.source = source
        self.codingPath = codingPath
        self.count = count
        entriesAt = reader.offset
        cursor = decoder ?? WireDecoder(source: source, offset: offset, codingPath: codingPath)
        cursor.cursorIndex = 0
        cursor.cursorOffset = entriesAt
    }

    /// Where the value of `key` starts, if present.
    private func find(_ key: Key) throws -> Int? {
        guard count > 0 else { return nil }
        var reader = source.reader(at: cursor.cursorOffset)
        var index = cursor.cursorIndex
        for _ in 0..<count {
            if index == count {
                index = 0
                reader.offset = entriesAt
            }
            let matches = try reader.textEquals(key.stringValue)
            let valueAt = reader.offset
            try reader.skip()
            index += 1
            if matches {
                cursor.cursorIndex = index
                cursor.cursorOffset = reader.offset
                return valueAt
            }
        }
        return nil
    }

    private func required(_ key: Key) throws -> Int {
        guard let offset = try find(key) else { throw source.failure(FieldPath(codingPath, key), "missing") }
        return offset
    }

    var allKeys: [Key] {
        var reader = source.reader(at: entriesAt)
        var keys: [Key] = []
        for _ in 0..<count {
            guard let name = try? reader.text(), (try? reader.skip()) != nil else { break }
            if let key = Key(stringValue: name) { keys.append(key) }
        }
        return keys
    }

    func contains(_ key: Key) -> Bool { ((try? find(key)) ?? nil) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let offset = try find(key) else { return true }
        return try source.isNull(at: offset)
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try read(type, at: try required(key), FieldPath(codingPath, key))
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let offset = try find(key), try !source.isNull(at: offset) else { return nil }
        return try read(type, at: offset, FieldPath(codingPath, key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        KeyedDecodingContainer(
            try KeyedWireReader<NestedKey>(source: source, offset: try required(key), codingPath: codingPath + [key]))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try UnkeyedWireReader(source: source, offset: try required(key), codingPath: codingPath + [key])
    }

    func superDecoder() throws -> any Decoder { try superDecoder(forKey: Key(stringValue: "super")!) }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        WireDecoder(source: source, offset: try required(key), codingPath: codingPath + [key])
    }
}

struct UnkeyedWireReader: UnkeyedDecodingContainer, WireScalarReader {
    let source: WireSource
    let codingPath: [any CodingKey]
    let count: Int?
    private(set) var currentIndex = 0
    private var reader: WireReader

    init(source: WireSource, offset: Int, codingPath: [any CodingKey]) throws {
        let (count, reader) = try source.open(.array, at: offset, path: FieldPath(codingPath))
        self.source = source
        self.codingPath = codingPath
        self.count = count
        self.reader = reader
    }

    var isAtEnd: Bool { currentIndex >= count! }

    /// The next item's offset, stepping past it.
    private mutating func next() throws -> (Int, FieldPath) {
        let path = FieldPath(codingPath, IndexKey(currentIndex))
        guard !isAtEnd else { throw source.failure(path, "list has only \(count!) items") }
        let offset = reader.offset
        try reader.skip()
        currentIndex += 1
        return (offset, path)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, try source.isNull(at: reader.offset) else { return false }
        _ = try next()
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (offset, path) = try next()
        return try read(type, at: offset, path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<
        NestedKey
    > {
        let (offset, path) = try next()
        return KeyedDecodingContainer(
            try KeyedWireReader<NestedKey>(source: source, offset: offset, codingPath: path.keys))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (offset, path) = try next()
        return try UnkeyedWireReader(source: source, offset: offset, codingPath: path.keys)
    }

    mutating func superDecoder() throws -> any Decoder {
        let (offset, path) = try next()
        return WireDecoder(source: source, offset: offset, codingPath: path.keys)
    }
}

struct SingleWireReader: SingleValueDecodingContainer, WireScalarReader {
    let source: WireSource
    let offset: Int
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { (try? source.isNull(at: offset)) ?? false }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try read(type, at: offset, FieldPath(codingPath)) }
}
