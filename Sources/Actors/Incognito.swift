/// A message whose type this process does not know: its type name and its fields, kept in wire
/// form. It prints like any message and, sent on, travels under its own type name with its fields
/// unchanged — addresses inside it still reach the objects they named.
public struct Incognito: Message, CustomStringConvertible {
    public static let typeName = "ansar.Incognito"

    /// The type name the message was sent under.
    public let typeName: String
    /// The fields, with addresses as identifiers of this process (forwarders where need be).
    let wireFields: [UInt8]

    init(typeName: String, wireFields: [UInt8], resolver: AddressResolver?) throws(WireError) {
        self.typeName = typeName
        guard let resolver else {
            self.wireFields = wireFields
            return
        }
        self.wireFields = try WireReader.rewriteAddresses(in: wireFields) {
            (tag: inout WireTag, value: inout UInt64) throws(WireError) in
            value = try resolver.localIdentifier(for: try resolver.address(tag, value))
            tag = .address
        }
    }

    /// A received body of a type unknown here: checked to be one whole item first.
    init(checking bytes: [UInt8], typeName: String, resolver: AddressResolver?) throws(WireError) {
        var reader = WireReader(bytes)
        try reader.skip()
        guard reader.atEnd else { throw WireError(path: "", problem: "bytes after the message") }
        try self.init(typeName: typeName, wireFields: bytes, resolver: resolver)
    }

    /// This message as `type`, if its fields decode as one (addresses in them are already this
    /// process's): for a type registered after the message arrived.
    func decoded(as type: any Message.Type) -> (any Message)? {
        // A peer's Stop, held before Stop was first selected, stays what it is: a stranger's bytes.
        guard !(type is any LocalOnlyMessage.Type), var reader = try? MessageReader(wireFields, resolver: nil) else {
            return nil
        }
        return try? type.init(fields: &reader)
    }

    /// Makes an incognito message from JSON fields, e.g. to send a type this program lacks.
    public init(typeName: String, fields: JSON) {
        self.typeName = typeName
        var writer = WireWriter()
        fields.write(to: &writer)
        wireFields = writer.bytes
    }

    /// The fields, as JSON.
    public var fields: JSON { (try? JSON(wire: wireFields)) ?? .null }

    /// The fields for one destination: each address re-aimed by `translator`.
    func fields(for translator: AddressTranslator?) throws(WireError) -> [UInt8] {
        guard let translator else { return wireFields }
        return try WireReader.rewriteAddresses(in: wireFields) {
            (tag: inout WireTag, value: inout UInt64) throws(WireError) in
            (tag, value) = try translator.wire(Address(local: value))
        }
    }

    /// Its own fields, re-aimed at the destination: it travels as it came.
    public func writeFields(to writer: inout MessageWriter) throws {
        writer.writer.bytes.append(contentsOf: try fields(for: writer.translator))
        writer.complete = true
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(typeName, forKey: .typeName)
        try container.encode(fields.description, forKey: .fields)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            typeName: try container.decode(String.self, forKey: .typeName),
            fields: try JSON(parsing: try container.decode(String.self, forKey: .fields)))
    }

    private enum CodingKeys: String, CodingKey { case typeName = "type_name", fields }

    public var description: String { "\(typeName) \(fields)" }
}
