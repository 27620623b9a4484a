/// The binary form of message bodies: self-describing tag-value items, little-endian, so a
/// receiver that does not know a message's type can still show its fields (``Incognito``) and
/// forward it unchanged.
///
/// ```
/// tag  value
///   0  null
///   1  false            2  true
///   3  integer          zig-zag varint
///   4  unsigned         varint
///   5  double           8 bytes, IEEE 754
///   6  string           varint length, UTF-8
///   7  bytes            varint length, raw
///   8  array            u32 count, items
///   9  object           u32 count, then count × (varint key length, UTF-8 key, item)
///  10  address          u64: an object of the sending process (or a forwarder it keeps)
///  11  address, yours   u64: an object of the receiving process, coming home
///  12  message          varint name length, type name, item (the message's fields)
/// ```
public enum WireTag: UInt8 {
    case null = 0, `false`, `true`, integer, unsigned, double, string, bytes, array, object, address, returningAddress,
        message
}

/// Appends wire items to a byte array.
struct WireWriter {
    var bytes: [UInt8]

    /// Writes into `bytes`' storage, emptied; pass a buffer nobody else holds and no copy is made.
    init(reusing bytes: consuming [UInt8] = []) {
        bytes.removeAll(keepingCapacity: true)
        self.bytes = bytes
    }

    mutating func tag(_ tag: WireTag) { bytes.append(tag.rawValue) }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func fixed<T: FixedWidthInteger>(_ value: T) {
        var value = value.littleEndian
        for _ in 0..<MemoryLayout<T>.size {
            bytes.append(UInt8(truncatingIfNeeded: value))
            value >>= 8
        }
    }

    mutating func integer(_ value: Int64) {
        tag(.integer)
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func unsigned(_ value: UInt64) {
        tag(.unsigned)
        varint(value)
    }

    mutating func double(_ value: Double) {
        tag(.double)
        fixed(value.bitPattern)
    }

    mutating func string(_ value: String) {
        tag(.string)
        text(value)
    }

    /// A length-prefixed UTF-8 run without a tag (keys, type names).
    mutating func text(_ value: String) {
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    mutating func blob(_ value: [UInt8]) {
        tag(.bytes)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func bool(_ value: Bool) { tag(value ? .true : .false) }

    /// Starts a container; returns where its count lives, for ``bumpCount(at:)``.
    mutating func container(_ kind: WireTag) -> Int {
        tag(kind)
        let position = bytes.count
        fixed(UInt32(0))
        return position
    }

    mutating func bumpCount(at position: Int) {
        let count =
            UInt32(bytes[position]) | UInt32(bytes[position + 1]) << 8
            | UInt32(bytes[position + 2]) << 16 | UInt32(bytes[position + 3]) << 24
        let next = count + 1
        for index in 0..<4 { bytes[position + index] = UInt8(truncatingIfNeeded: next >> (8 * UInt32(index))) }
    }
}

/// Why a body could not be read: where, and what was wrong.
public struct WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The field path, e.g. `settings.retry.seconds`; empty for the top level.
    public var path: String
    public var problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { path.isEmpty ? problem : "field \(path): \(problem)" }
}

/// Reads wire items from bytes, checking every length against what is there.
struct WireReader {
    let bytes: [UInt8]
    var offset: Int
    /// Containers nested deeper than this are refused: a hostile body cannot exhaust the stack.
    static let maximumDepth = 64

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var atEnd: Bool { offset >= bytes.count }

    mutating func byte() throws(WireError) -> UInt8 {
        guard offset < bytes.count else { throw WireError(path: "", problem: "body ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func tag() throws(WireError) -> WireTag {
        let raw = try byte()
        guard let tag = WireTag(rawValue: raw) else { throw WireError(path: "", problem: "unknown item tag \(raw)") }
        return tag
    }

    func peekTag() throws(WireError) -> WireTag {
        var copy = self
        return try copy.tag()
    }

    mutating func varint() throws(WireError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            guard shift < 64 else { throw WireError(path: "", problem: "varint too long") }
            value |= UInt64(next & 0x7F) << shift
            if next < 0x80 { return value }
            shift += 7
        }
    }

    mutating func fixed<T: FixedWidthInteger>(_: T.Type) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        guard bytes.count - offset >= size else { throw WireError(path: "", problem: "body ends early") }
        var value: T = 0
        for index in 0..<size { value |= T(bytes[offset + index]) << (8 * index) }
        offset += size
        return value
    }

    mutating func length() throws(WireError) -> Int {
        let length = try varint()
        guard length <= UInt64(bytes.count - offset) else {
            throw WireError(path: "", problem: "length \(length) runs past the body")
        }
        return Int(length)
    }

    mutating func text() throws(WireError) -> String {
        let count = try length()
        defer { offset += count }
        return String(decoding: bytes[offset..<(offset + count)], as: UTF8.self)
    }

    /// Whether the next `count` bytes equal `key`'s UTF-8, without making a String.
    mutating func textEquals(_ key: String) throws(WireError) -> Bool {
        let count = try length()
        defer { offset += count }
        return key.utf8.count == count && key.utf8.elementsEqual(bytes[offset..<(offset + count)])
    }

    mutating func count() throws(WireError) -> Int {
        let count = Int(try fixed(UInt32.self))
        // Every item takes at least one byte: a count beyond the bytes left is a lie.
        guard count <= bytes.count - offset else {
            throw WireError(path: "", problem: "count \(count) runs past the body")
        }
        return count
    }

    /// Steps over one whole item.
    mutating func skip(depth: Int = 0) throws(WireError) {
        guard depth < Self.maximumDepth else { throw WireError(path: "", problem: "nested too deep") }
        switch try tag() {
        case .null, .false, .true: break
        case .integer, .unsigned: _ = try varint()
        case .double, .address, .returningAddress: _ = try fixed(UInt64.self)
        case .string, .bytes: offset += try length()
        case .array:
            for _ in 0..<(try count()) { try skip(depth: depth + 1) }
        case .object:
            for _ in 0..<(try count()) {
                offset += try length()
                try skip(depth: depth + 1)
            }
        case .message:
            offset += try length()
            try skip(depth: depth + 1)
        }
    }
}

extension WireReader {
    /// Visits every address item of the item at the reader's position (in order), letting
    /// `rewrite` change its tag and value in `output`, a copy of the bytes. Forwarders and forwarded
    /// ``Incognito`` bodies use this to re-aim addresses at the next hop without knowing the type.
    static func rewriteAddresses(
        in bytes: [UInt8], _ rewrite: (inout WireTag, inout UInt64) throws(WireError) -> Void
    ) throws(WireError) -> [UInt8] {
        var output = bytes
        var reader = WireReader(bytes)
        while !reader.atEnd { try reader.rewrite(into: &output, depth: 0, rewrite) }
        return output
    }

    private mutating func rewrite(
        into output: inout [UInt8], depth: Int, _ rewrite: (inout WireTag, inout UInt64) throws(WireError) -> Void
    ) throws(WireError) {
        guard depth < Self.maximumDepth else { throw WireError(path: "", problem: "nested too deep") }
        let start = offset
        var tag = try self.tag()
        switch tag {
        case .address, .returningAddress:
            var value = try fixed(UInt64.self)
            try rewrite(&tag, &value)
            output[start] = tag.rawValue
            for index in 0..<8 { output[start + 1 + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
        case .array:
            for _ in 0..<(try count()) { try self.rewrite(into: &output, depth: depth + 1, rewrite) }
        case .object:
            for _ in 0..<(try count()) {
                offset += try length()
                try self.rewrite(into: &output, depth: depth + 1, rewrite)
            }
        case .message:
            offset += try length()
            try self.rewrite(into: &output, depth: depth + 1, rewrite)
        default:
            offset = start
            try skip(depth: depth)
        }
    }
}
