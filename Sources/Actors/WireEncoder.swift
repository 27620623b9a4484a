/// Turns addresses into wire items for one destination (a connection), creating forwarders as needed.
protocol AddressTranslator: AnyObject {
    func wire(_ address: Address) throws(WireError) -> (WireTag, UInt64)
}

/// The byte sink every container of one encoding shares.
final class WireSink {
    var writer: WireWriter
    let translator: AddressTranslator?

    init(reusing bytes: consuming [UInt8] = [], translator: AddressTranslator?) {
        writer = WireWriter(reusing: bytes)
        self.translator = translator
    }

    func address(_ address: Address) throws {
        guard let translator else {
            // Outside a connection (files, printing) an address is shown, not routed.
            writer.tag(.address)
            writer.fixed(address.object)
            return
        }
        let (tag, value) = try translator.wire(address)
        writer.tag(tag)
        writer.fixed(value)
    }

    func value<T: Encodable>(_ value: T, path: FieldPath) throws {
        // Casting an empty array succeeds for any element type: test the static type for bytes.
        if T.self == [UInt8].self, let bytes = value as? [UInt8] {
            writer.blob(bytes)
            return
        }
        switch value {
        case let address as Address: try self.address(address)
        case let text as String: writer.string(text)
        case let number as Int: writer.integer(Int64(number))
        case let number as Double: writer.double(number)
        case let flag as Bool: writer.bool(flag)
        default:
            let start = writer.bytes.count
            try value.encode(to: WireEncoder(sink: self, codingPath: path.keys))
            if writer.bytes.count == start { writer.tag(.null) }
        }
    }
}

/// A `Codable` encoder producing ``WireTag`` items.
final class WireEncoder: Encoder {
    let sink: WireSink
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(sink: WireSink, codingPath: [any CodingKey] = []) {
        self.sink = sink
        self.codingPath = codingPath
    }

    /// Encodes one message's fields into `bytes` (cleared first, capacity kept).
    static func encode(_ message: some Encodable, into bytes: inout [UInt8], translator: AddressTranslator?) throws {
        var buffer: [UInt8] = []
        swap(&buffer, &bytes)
        let sink = WireSink(reusing: consume buffer, translator: translator)
        try sink.value(message, path: FieldPath([]))
        swap(&bytes, &sink.writer.bytes)
    }

    static func encode(_ message: some Encodable, translator: AddressTranslator? = nil) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try encode(message, into: &bytes, translator: translator)
        return bytes
    }

    /// A message as a typed item: its type name, then its fields.
    func encodeTyped(_ message: any Message) throws {
        if let incognito = message as? Incognito {
            sink.writer.tag(.message)
            sink.writer.text(incognito.typeName)
            sink.writer.bytes.append(contentsOf: try incognito.fields(for: sink.translator))
            return
        }
        sink.writer.tag(.message)
        sink.writer.text(type(of: message).typeName)
        try sink.value(message, path: FieldPath(codingPath))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(
            KeyedWireWriter<Key>(sink: sink, countAt: sink.writer.container(.object), codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedWireWriter(sink: sink, countAt: sink.writer.container(.array), codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleWireWriter(sink: sink, codingPath: codingPath)
    }
}

/// The scalar cases every container shares: each writes one item.
protocol WireScalarWriter {
    var sink: WireSink { get }
}

extension WireScalarWriter {
    func writeNil() { sink.writer.tag(.null) }
    func write(_ value: Bool) { sink.writer.bool(value) }
    func write(_ value: String) { sink.writer.string(value) }
    func write(_ value: Double) { sink.writer.double(value) }
    func write(_ value: Float) { sink.writer.double(Double(value)) }
    func write<T: SignedInteger & FixedWidthInteger>(_ value: T) { sink.writer.integer(Int64(value)) }
    func write<T: UnsignedInteger & FixedWidthInteger>(_ value: T) { sink.writer.unsigned(UInt64(value)) }
}

struct KeyedWireWriter<Key: CodingKey>: KeyedEncodingContainerProtocol, WireScalarWriter {
    let sink: WireSink
    let countAt: Int
    let codingPath: [any CodingKey]

    private func key(_ key: Key) {
        sink.writer.bumpCount(at: countAt)
        sink.writer.text(key.stringValue)
    }

    mutating func encodeNil(forKey k: Key) throws {
        key(k)
        writeNil()
    }
    mutating func encode(_ value: Bool, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: String, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: Double, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: Float, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: Int, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: Int8, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: Int16, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: Int32, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: Int64, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: UInt, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: UInt8, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: UInt16, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: UInt32, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode(_ value: UInt64, forKey k: Key) throws {
        key(k)
        write(value)
    }
    mutating func encode<T: Encodable>(_ value: T, forKey k: Key) throws {
        key(k)
        try sink.value(value, path: FieldPath(codingPath, k))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey k: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        key(k)
        return WireEncoder(sink: sink, codingPath: codingPath + [k]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey k: Key) -> any UnkeyedEncodingContainer {
        key(k)
        return WireEncoder(sink: sink, codingPath: codingPath + [k]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

    mutating func superEncoder(forKey k: Key) -> any Encoder {
        key(k)
        return WireEncoder(sink: sink, codingPath: codingPath + [k])
    }
}

struct UnkeyedWireWriter: UnkeyedEncodingContainer, WireScalarWriter {
    let sink: WireSink
    let countAt: Int
    let codingPath: [any CodingKey]
    private(set) var count = 0

    init(sink: WireSink, countAt: Int, codingPath: [any CodingKey]) {
        self.sink = sink
        self.countAt = countAt
        self.codingPath = codingPath
    }

    private mutating func item() {
        sink.writer.bumpCount(at: countAt)
        count += 1
    }

    private var itemPath: FieldPath { FieldPath(codingPath, IndexKey(count)) }

    mutating func encodeNil() throws {
        item()
        writeNil()
    }
    mutating func encode(_ value: Bool) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: String) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: Double) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: Float) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: Int) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: Int8) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: Int16) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: Int32) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: Int64) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: UInt) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: UInt8) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: UInt16) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: UInt32) throws {
        item()
        write(value)
    }
    mutating func encode(_ value: UInt64) throws {
        item()
        write(value)
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = itemPath
        item()
        try sink.value(value, path: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
        NestedKey
    > {
        let path = itemPath
        item()
        return WireEncoder(sink: sink, codingPath: path.keys).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = itemPath
        item()
        return WireEncoder(sink: sink, codingPath: path.keys).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let path = itemPath
        item()
        return WireEncoder(sink: sink, codingPath: path.keys)
    }
}

struct SingleWireWriter: SingleValueEncodingContainer, WireScalarWriter {
    let sink: WireSink
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { writeNil() }
    mutating func encode(_ value: Bool) throws { write(value) }
    mutating func encode(_ value: String) throws { write(value) }
    mutating func encode(_ value: Double) throws { write(value) }
    mutating func encode(_ value: Float) throws { write(value) }
    mutating func encode(_ value: Int) throws { write(value) }
    mutating func encode(_ value: Int8) throws { write(value) }
    mutating func encode(_ value: Int16) throws { write(value) }
    mutating func encode(_ value: Int32) throws { write(value) }
    mutating func encode(_ value: Int64) throws { write(value) }
    mutating func encode(_ value: UInt) throws { write(value) }
    mutating func encode(_ value: UInt8) throws { write(value) }
    mutating func encode(_ value: UInt16) throws { write(value) }
    mutating func encode(_ value: UInt32) throws { write(value) }
    mutating func encode(_ value: UInt64) throws { write(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try sink.value(value, path: FieldPath(codingPath)) }
}

/// An array position in a coding path.
struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "[\(intValue ?? 0)]" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

extension Array where Element == any CodingKey {
    /// `outer.inner[2].name`
    var dotted: String {
        var text = ""
        for key in self {
            if key is IndexKey { text += key.stringValue } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
        }
        return text
    }
}
