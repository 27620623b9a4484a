/// Byte copying and integer loads for the memory-safe modules (Transport and up). They are compiled with strict
/// memory safety and so cannot reach `memcpy` or unaligned loads themselves, and a byte-at-a-time
/// loop costs them ~10× on bulk data. Everything here is inlinable, so callers get specialised code
/// instead of generic metadata look-ups at run time.
extension Array where Element == UInt8 {
    /// Appends every byte of `bytes` with one bulk copy.
    @inlinable
    public mutating func append(span bytes: Span<UInt8>) {
        guard bytes.count > 0 else { return }
        bytes.withUnsafeBufferPointer { source in
            append(contentsOf: source)
        }
    }
}

extension Span where Element == UInt8 {
    /// The little-endian integer stored at `offset`, bounds-checked, in one unaligned load: header
    /// parsing in Transport needs it on every frame.
    @inlinable @inline(__always)
    public func loadLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "read past the end of the bytes")
        return withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
