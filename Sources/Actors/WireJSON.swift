import FoundationEssentials
import Platform

extension JSON {
    /// The JSON object in the file at `path`; the error says what is wrong (unreadable, not JSON
    /// — with line and column — or not an object).
    public init(objectAt path: String, limit: Int = 16 << 20) throws(WireError) {
        let bytes: [UInt8]
        do {
            bytes = try SystemAccess.readSmallFile(path, limit: limit).bytes
        } catch {
            throw WireError(path: "", problem: "\(error)")
        }
        self = try JSON(parsing: String(decoding: bytes, as: UTF8.self))
        guard case .object = self else { throw WireError(path: "", problem: "expected a JSON object") }
    }

    /// Writes this value, indented, to `path` all or nothing.
    public func store(at path: String) throws(SystemError) {
        try SystemAccess.writeFileAtomically(path, Array((pretty + "\n").utf8))
    }

    /// The JSON form of one wire item: bytes become base64 text, addresses their printed form, and
    /// a message inside a message `{"type": name, "value": fields}`.
    init(wire bytes: [UInt8]) throws(WireError) {
        var reader = WireReader(bytes)
        self = try JSON(reading: &reader, depth: 0)
        guard reader.atEnd else { throw WireError(path: "", problem: "bytes after the item") }
    }

    private init(reading reader: inout WireReader, depth: Int) throws(WireError) {
        guard depth < WireReader.maximumDepth else { throw WireError(path: "", problem: "nested too deep") }
        switch try reader.tag() {
        case .null: self = .null
        case .false: self = .bool(false)
        case .true: self = .bool(true)
        case .integer:
            let raw = try reader.varint()
            self = .integer(Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))))
        case .unsigned: self = .unsigned(try reader.varint())
        case .double: self = .double(Double(bitPattern: try reader.fixed(UInt64.self)))
        case .string: self = .string(try reader.text())
        case .bytes:
            let count = try reader.length()
            // Standard base64 (RFC 4648, padded): how bytes appear in JSON.
            self = .string(Data(reader.bytes[reader.offset..<(reader.offset + count)]).base64EncodedString())
            reader.offset += count
        case .array:
            var items: [JSON] = []
            for _ in 0..<(try reader.count()) { items.append(try JSON(reading: &reader, depth: depth + 1)) }
            self = .array(items)
        case .object:
            var members: [(String, JSON)] = []
            for _ in 0..<(try reader.count()) {
                let key = try reader.text()
                members.append((key, try JSON(reading: &reader, depth: depth + 1)))
            }
            self = .object(members)
        case .address, .returningAddress:
            self = .string(Address(local: try reader.fixed(UInt64.self)).description)
        case .message:
            let name = try reader.text()
            self = .object([("type", .string(name)), ("value", try JSON(reading: &reader, depth: depth + 1))])
        }
    }

    /// Appends this value as one wire item.
    func write(to writer: inout WireWriter) {
        switch self {
        case .null: writer.tag(.null)
        case .bool(let value): writer.bool(value)
        case .integer(let value): writer.integer(value)
        case .unsigned(let value): writer.unsigned(value)
        case .double(let value): writer.double(value)
        case .string(let value): writer.string(value)
        case .array(let items):
            let countAt = writer.container(.array)
            for item in items {
                writer.bumpCount(at: countAt)
                item.write(to: &writer)
            }
        case .object(let members):
            let countAt = writer.container(.object)
            for (key, value) in members {
                writer.bumpCount(at: countAt)
                writer.text(key)
                value.write(to: &writer)
            }
        }
    }

    /// Decodes a `Decodable` value from this JSON; errors name the field.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        var writer = WireWriter()
        write(to: &writer)
        return try WireDecoder.decode(type, from: writer.bytes)
    }

    /// The JSON form of an `Encodable` value.
    public init(encoding value: some Encodable) throws {
        self = try JSON(wire: try WireEncoder.encode(value))
    }
}

/// How messages are shown to people and scripts.
public enum Printing {
    /// The type name, then one `name: value` line per field (values as compact JSON).
    public static func human(_ message: any Message) -> String {
        let (name, fields) = parts(message)
        guard case .object(let members) = fields else { return "\(name) \(fields)" }
        var text = name
        for (key, value) in members { text += "\n  \(key): \(value)" }
        return text
    }

    /// `{"type": name, "value": fields}`, one line.
    public static func json(_ message: any Message) -> JSON {
        let (name, fields) = parts(message)
        return .object([("type", .string(name)), ("value", fields)])
    }

    static func parts(_ message: any Message) -> (String, JSON) {
        if let incognito = message as? Incognito { return (incognito.typeName, incognito.fields) }
        let fields = (try? JSON(encoding: message)) ?? .string("<fields not encodable>")
        return (type(of: message).typeName, fields)
    }
}
