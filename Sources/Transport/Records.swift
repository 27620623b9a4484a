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

/// The sending half of an encrypted session. Each coalesced write becomes one record:
/// `length (u32 LE, ciphertext + tag) | ciphertext | tag`, the length authenticated as associated data.
public struct RecordSealer {
    public static let overhead = 4 + AEAD.tagBytes
    private let aead: AEAD
    private var rekey: RekeyCounter
    private var lengthBytes = [UInt8](repeating: 0, count: 4)

    public init(key: [UInt8], policy: RekeyPolicy = RekeyPolicy(), algorithm: AEAD.Algorithm = .preferred) {
        aead = AEAD(key: key, algorithm: algorithm)
        rekey = RekeyCounter(policy)
    }

    public var algorithm: AEAD.Algorithm { aead.algorithm }

    /// Seals `plaintext` as one record at the start of `record` (grown if too small, never shrunk,
    /// so a reused buffer costs nothing) and returns the record's length. Encryption reads the
    /// plaintext where it is: no copy first.
    public mutating func seal(_ plaintext: Span<UInt8>, into record: inout [UInt8]) -> Int {
        let length = plaintext.count + AEAD.tagBytes
        let total = 4 + length
        if record.count < total { record.append(contentsOf: repeatElement(0, count: total - record.count)) }
        for index in 0..<4 {
            lengthBytes[index] = UInt8(truncatingIfNeeded: length >> (8 * index))
            record[index] = lengthBytes[index]
        }
        aead.seal(plaintext, into: &record, at: 4, additional: lengthBytes)
        if rekey.count(length) { aead.rekey() }
        return total
    }

    /// Appends one record holding `plaintext` to `output`.
    public mutating func seal(_ plaintext: Span<UInt8>, appendingTo output: inout [UInt8]) {
        var record: [UInt8] = []
        let length = seal(plaintext, into: &record)
        output.append(contentsOf: record[0..<length])
    }
}

/// The receiving half: fed ciphertext as it arrives, hands out each record's plaintext once it has
/// been authenticated. A record that fails (forged, corrupted, replayed, reordered) or a length out
/// of range fails the session for good.
public struct RecordOpener {
    private let aead: AEAD
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

    /// Bytes held waiting for the rest of a record.
    public var bufferedBytes: Int { buffer.count }

    /// Opens every whole record in what was buffered plus `bytes`, passing each plaintext on.
    public mutating func feed(_ bytes: Span<UInt8>, _ plaintext: (Span<UInt8>) throws(TransportError) -> Void) throws(TransportError) {
        if let failure { throw failure }
        buffer.append(span: bytes)
        var offset = 0
        do throws(TransportError) {
            while buffer.count - offset >= 4 {
                let length = Int(buffer.span.loadLittleEndian(UInt32.self, at: offset))
                guard length >= AEAD.tagBytes && length <= maximumRecord else { throw TransportError.recordLength(length) }
                guard buffer.count - offset - 4 >= length else { break }
                let start = offset + 4
                let end = start + length - AEAD.tagBytes
                for index in 0..<4 { lengthBytes[index] = buffer[offset + index] }
                guard aead.open(&buffer, range: start..<end, additional: lengthBytes) else {
                    throw TransportError.recordRejected
                }
                if rekey.count(length) { aead.rekey() }
                try plaintext(buffer.span.extracting(start..<end))
                offset = end + AEAD.tagBytes
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
            let missing = buffer.count >= 4 ? 4 + Int(buffer.span.loadLittleEndian(UInt32.self, at: 0)) - buffer.count : 4 - buffer.count
            throw .truncated(missing: missing)
        }
    }
}
