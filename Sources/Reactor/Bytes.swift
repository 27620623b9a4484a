/// Byte copying for the modules above Reactor, which are compiled with strict memory safety and so
/// cannot reach `memcpy` themselves; a byte-at-a-time loop would cost them ~10× on bulk data.
extension Array where Element == UInt8 {
    /// Appends every byte of `bytes` with one bulk copy.
    public mutating func append(span bytes: Span<UInt8>) {
        let count = bytes.count
        guard count > 0 else { return }
        let start = self.count
        bytes.withUnsafeBufferPointer { source in
            append(contentsOf: source)
        }
        assert(self.count == start + count)
    }
}
