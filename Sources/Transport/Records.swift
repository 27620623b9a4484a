import Cryptography
import Platform
import Reactor

/// When both ends replace their record keys. Both count the same records and bytes, so they rekey
/// at the same record without a message.
public struct RekeyPolicy: Sendable, Equatable {
    public var records: UInt64
    public var bytes: UInt64

    public init(records: UInt64 = 1 << 20, bytes: UInt64 = 1 << 30) {
        self.records = records
        self.bytes = bytes
    }
}

/// Counts records and bytes under one key and says when the policy wants the next key.
struct RekeyCounter {
    let policy: RekeyPolicy
    private var records: UInt64 = 0
    private var bytes: UInt64 = 0

    init(_ policy: RekeyPolicy) { self.policy = policy }

    /// Counts one record of `length` bytes; true when it is time to rekey (and starts counting anew).
    mutating func count(_ length: Int) -> Bool {
        records += 1
        bytes += UInt64(length)
        guard records >= policy.records || bytes >= policy.bytes else { return false }
        records = 0
        bytes = 0
        return true
    }
}

/// Records are the unit on the wire once the handshake is done:
/// `word (u32 LE) | payload | tag`. The word's low 31 bits are the length of payload plus tag; its
/// top bit marks a control record (keep-alive), which carries the transport's own signal instead of
/// frame bytes, so a probe can be sealed between two records of a long frame. The word is
/// authenticated as associated data. Plaintext sessions use the same records without a tag.
public enum RecordKind: Sendable, Equatable {
    /// Bytes of the frame stream.
    case data
    /// A transport signal, never part of a frame.
    case control
}

enum RecordWord {
    static let controlBit: UInt32 = 1 << 31

    static func make(length: Int, kind: RecordKind) -> UInt32 {
        UInt32(length) | (kind == .control ? controlBit : 0)
    }
}

/// The sending half of a session. Each coalesced write becomes one record (see ``RecordKind``).
public struct RecordSealer {
    /// Record bytes beyond the payload of an encrypted session.
    public static let overhead = 4 + AEAD.tagBytes
    /// Nil for a plaintext session.
    private let aead: AEAD?
    private var rekey: RekeyCounter
    private var lengthBytes = [UInt8](repeating: 0, count: 4)

    /// An encrypting sealer.
    public init(key: [UInt8], policy: RekeyPolicy = RekeyPolicy(), algorithm: AEAD.Algorithm = .preferred) {
        aead = AEAD(key: key, algorithm: algorithm)
        rekey = RekeyCounter(policy)
    }

    /// A sealer of plaintext records: the same framing, no tag.
    public init(plaintext: Void) {
        aead = nil
        rekey = RekeyCounter(RekeyPolicy())
    }

    public var algorithm: AEAD.Algorithm? { aead?.algorithm }

    /// Record bytes beyond the payload.
    public var overhead: Int { aead == nil ? 4 : Self.overhead }

    /// Seals `plaintext` as one record at the start of `record` (grown if too small, never shrunk,
    /// so a reused buffer costs nothing) and returns the record's length. Encryption reads the
    /// plaintext where it is: no copy first.
    public mutating func seal(_ plaintext: Span<UInt8>, kind: RecordKind = .data, into record: inout [UInt8]) -> Int {
        let length = plaintext.count + (aead == nil ? 0 : AEAD.tagBytes)
        let total = 4 + length
        if record.count < total { record.append(contentsOf: repeatElement(0, count: total - record.count)) }
        let word = RecordWord.make(length: length, kind: kind)
        for index in 0..<4 {
            lengthBytes[index] = UInt8(truncatingIfNeeded: word >> (8 * UInt32(index)))
            record[index] = lengthBytes[index]
        }
        guard let aead else {
            record.removeSubrange(4...) // keeps the capacity
            record.append(span: plaintext)
            return total
        }
        aead.seal(plaintext, into: &record, at: 4, additional: lengthBytes)
        if rekey.count(length) { aead.rekey() }
        return total
    }

    /// Appends one record holding `plaintext` to `output`.
    public mutating func seal(_ plaintext: Span<UInt8>, kind: RecordKind = .data, appendingTo output: inout [UInt8]) {
        var record: [UInt8] = []
        let length = seal(plaintext, kind: kind, into: &record)
        output.append(contentsOf: record[0..<length])
    }
}

/// The receiving half: fed bytes as they arrive, hands out each record's payload once it has been
/// authenticated. A record that fails (forged, corrupted, replayed, reordered) or a length out of
/// range fails the session for good.
public struct RecordOpener {
    /// Nil for a plaintext session.
    private let aead: AEAD?
    private var rekey: RekeyCounter
    public let maximumRecord: Int
    private var buffer: [UInt8] = []
    private var lengthBytes = [UInt8](repeating: 0, count: 4)
    private var failure: TransportError? = nil

    /// `maximumRecord` bounds one record's ciphertext; a longer one is refused before it is buffered.
    public init(
        key: [UInt8], maximumRecord: Int = FrameHeader.defaultMaximumBody + FrameHeader.size + AEAD.tagBytes,
        policy: RekeyPolicy = RekeyPolicy(), algorithm: AEAD.Algorithm = .preferred
    ) {
        aead = AEAD(key: key, algorithm: algorithm)
        rekey = RekeyCounter(policy)
        self.maximumRecord = maximumRecord
    }

    /// An opener of plaintext records (see ``RecordSealer/init(plaintext:)``).
    public init(plaintextWithMaximumRecord maximumRecord: Int) {
        aead = nil
        rekey = RekeyCounter(RekeyPolicy())
        self.maximumRecord = maximumRecord
    }

    /// Bytes held waiting for the rest of a record.
    public var bufferedBytes: Int { buffer.count }

    /// Capacity of the record buffer (for tests of what is retained).
    var bufferCapacity: Int { buffer.capacity }

    /// Gives the record buffer back when no record is in progress (an idle connection).
    public mutating func releaseBuffer() {
        if buffer.isEmpty && buffer.capacity > 0 { buffer = [] }
    }

    /// Record bytes beyond the payload.
    public var overhead: Int { aead == nil ? 4 : RecordSealer.overhead }

    /// Opens every whole record in what was buffered plus `bytes`, passing each payload on with
    /// its kind.
    public mutating func feed(
        _ bytes: Span<UInt8>, _ record: (RecordKind, Span<UInt8>) throws(TransportError) -> Void
    ) throws(TransportError) {
        if let failure { throw failure }
        buffer.append(span: bytes)
        let tagBytes = aead == nil ? 0 : AEAD.tagBytes
        var offset = 0
        do throws(TransportError) {
            while buffer.count - offset >= 4 {
                let word = buffer.span.loadLittleEndian(UInt32.self, at: offset)
                let length = Int(word & ~RecordWord.controlBit)
                let kind: RecordKind = word & RecordWord.controlBit != 0 ? .control : .data
                guard length >= tagBytes && length <= maximumRecord else { throw TransportError.recordLength(length) }
                guard buffer.count - offset - 4 >= length else { break }
                let start = offset + 4
                let end = start + length - tagBytes
                if let aead {
                    for index in 0..<4 { lengthBytes[index] = buffer[offset + index] }
                    guard aead.open(&buffer, range: start..<end, additional: lengthBytes) else {
                        throw TransportError.recordRejected
                    }
                    if rekey.count(length) { aead.rekey() }
                }
                try record(kind, buffer.span.extracting(start..<end))
                offset = end + tagBytes
            }
        } catch {
            failure = error
            throw error
        }
        buffer.removeFirst(offset)
    }

    /// Called at end of stream: an error if a record was cut short.
    public func finish() throws(TransportError) {
        if let failure { throw failure }
        if !buffer.isEmpty {
            let missing =
                buffer.count >= 4
                ? 4 + Int(buffer.span.loadLittleEndian(UInt32.self, at: 0) & ~RecordWord.controlBit) - buffer.count
                : 4 - buffer.count
            throw .truncated(missing: missing)
        }
    }
}
