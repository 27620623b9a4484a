/// Writes a message's fields in the wire form by hand: the fast path for hot message types.
/// Every message gets a `Codable` implementation of ``Message/writeFields(to:)`` and
/// ``Message/init(fields:)``; a type on a hot path can write its own — same bytes, no `Codable`
/// machinery, no allocation:
///
/// ```swift
/// struct Sample: Message {
///     var sequence: Int
///     var payload: [UInt8]
///     func writeFields(to writer: inout MessageWriter) throws {
///         writer.field("sequence", sequence)
///         writer.field("payload", payload)
///     }
///     init(fields reader: inout MessageReader) throws {
///         sequence = try reader.int("sequence")
///         payload = try reader.bytes("payload")
///     }
/// }
/// ```
public struct MessageWriter {
    var writer: WireWriter
    let translator: AddressTranslator?
    private var countAt: Int?
    /// Set when the fields were written whole (the `Codable` path, an ``Incognito``).
    var complete = false

    init(reusing bytes: consuming [UInt8], translator: AddressTranslator?) {
        writer = WireWriter(reusing: bytes)
        self.translator = translator
    }

    private mutating func key(_ name: String) {
        if countAt == nil { countAt = writer.container(.object) }
        writer.bumpCount(at: countAt!)
        writer.text(name)
    }

    public mutating func field(_ name: String, _ value: Int) {
        key(name)
        writer.integer(Int64(value))
    }
    public mutating func field(_ name: String, _ value: Int64) {
        key(name)
        writer.integer(value)
    }
    public mutating func field(_ name: String, _ value: UInt64) {
        key(name)
        writer.unsigned(value)
    }
    public mutating func field(_ name: String, _ value: Double) {
        key(name)
        writer.double(value)
    }
    public mutating func field(_ name: String, _ value: Bool) {
        key(name)
        writer.bool(value)
    }
    public mutating func field(_ name: String, _ value: String) {
        key(name)
        writer.string(value)
    }
    public mutating func field(_ name: String, _ value: [UInt8]) {
        key(name)
        writer.blob(value)
    }

    public mutating func field(_ name: String, _ value: Address) throws {
        key(name)
        let (tag, wire) = try translator?.wire(value) ?? (.address, value.object)
        writer.tag(tag)
        writer.fixed(wire)
    }

    /// Any `Encodable` value, through the `Codable` path.
    public mutating func field(_ name: String, encoding value: some Encodable) throws {
        key(name)
        let sink = WireSink(reusing: [], translator: translator)
        swap(&sink.writer, &writer)
        defer { swap(&sink.writer, &writer) }
        try sink.value(value, path: FieldPath([]))
    }

    /// The finished fields: an empty object if no field was written.
    mutating func finish() -> [UInt8] {
        if countAt == nil && !complete { countAt = writer.container(.object) }
        return writer.bytes
    }

    /// The `Codable` path: the whole value through ``WireEncoder``.
    mutating func encodeCodable(_ value: some Encodable) throws {
        let sink = WireSink(reusing: [], translator: translator)
        swap(&sink.writer, &writer)
        defer { swap(&sink.writer, &writer) }
        try sink.value(value, path: FieldPath([]))
        complete = true
    }
}

/// Reads a message's fields from the wire form by hand; see ``MessageWriter``. Fields may come
/// in any order and unknown ones are ignored; a missing or mistyped field throws, naming it.
public struct MessageReader {
    let source: WireSource
    private var count = -1 // the object is opened on the first field read
    private var entriesAt = 0
    private var cursorIndex = 0
    private var cursorOffset = 0

    /// Checks that `bytes` hold exactly one whole item.
    init(_ bytes: [UInt8], resolver: AddressResolver?) throws(WireError) {
        source = WireSource(bytes, resolver: resolver)
        var reader = WireReader(bytes)
        try reader.skip()
        guard reader.atEnd else {
            throw WireError(path: "", problem: "\(bytes.count - reader.offset) bytes after the message")
        }
    }

    /// Where `name`'s value starts: searched from after the last field read, wrapping once.
    private mutating func find(_ name: String) throws(WireError) -> Int {
        if count < 0 {
            let (fields, reader) = try source.open(.object, at: 0, path: FieldPath([]))
            count = fields
            entriesAt = reader.offset
            cursorOffset = entriesAt
        }
        var reader = source.reader(at: cursorOffset)
        var index = cursorIndex
        for _ in 0..<count {
            if index == count {
                index = 0
                reader.offset = entriesAt
            }
            let matches = try reader.textEquals(name)
            let valueAt = reader.offset
            try reader.skip()
            index += 1
            if matches {
                cursorIndex = index
                cursorOffset = reader.offset
                return valueAt
            }
        }
        throw WireError(path: name, problem: "missing")
    }

    private func path(_ name: String) -> FieldPath { FieldPath([], NameKey(name)) }

    public mutating func int(_ name: String) throws(WireError) -> Int {
        try source.integer(Int.self, at: try find(name), path: path(name))
    }
    public mutating func int64(_ name: String) throws(WireError) -> Int64 {
        try source.integer(Int64.self, at: try find(name), path: path(name))
    }
    public mutating func uint64(_ name: String) throws(WireError) -> UInt64 {
        try source.integer(UInt64.self, at: try find(name), path: path(name))
    }
    public mutating func double(_ name: String) throws(WireError) -> Double {
        try source.double(at: try find(name), path: path(name))
    }
    public mutating func bool(_ name: String) throws(WireError) -> Bool {
        try source.bool(at: try find(name), path: path(name))
    }
    public mutating func string(_ name: String) throws(WireError) -> String {
        try source.string(at: try find(name), path: path(name))
    }
    public mutating func bytes(_ name: String) throws(WireError) -> [UInt8] {
        try source.bytes(at: try find(name), path: path(name))
    }
    public mutating func address(_ name: String) throws(WireError) -> Address {
        try source.address(at: try find(name), path: path(name))
    }

    /// Any `Decodable` value, through the `Codable` path.
    public mutating func value<T: Decodable>(_ name: String, decoding type: T.Type) throws -> T {
        try source.value(type, at: try find(name), path: path(name))
    }

    /// The `Codable` path: the whole value through ``WireDecoder``.
    func decodeCodable<T: Decodable>(_ type: T.Type) throws -> T {
        try source.value(type, at: 0, path: FieldPath([]))
    }
}

/// A field name as a coding key, for error paths.
struct NameKey: CodingKey {
    let stringValue: String
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

extension Message {
    public func writeFields(to writer: inout MessageWriter) throws {
        try writer.encodeCodable(self)
    }

    public init(fields reader: inout MessageReader) throws {
        self = try reader.decodeCodable(Self.self)
    }
}
