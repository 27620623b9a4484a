import Platform

/// A sans-I/O frame decoder: fed bytes as they arrive, it hands out whole frames.
///
/// Frames that arrive whole are handed out straight from the caller's bytes (no copy); only a frame
/// split across arrivals is gathered in the decoder's own buffer, which never holds more than one
/// header plus the maximum body. After an error the decoder stays failed: the connection must close.
public struct FrameDecoder {
    public let maximumBody: Int
    private var pending: [UInt8] = []
    private var failure: TransportError? = nil

    public init(maximumBody: Int = FrameHeader.defaultMaximumBody) {
        self.maximumBody = maximumBody
    }

    /// Bytes held back waiting for the rest of a frame.
    public var bufferedBytes: Int { pending.count }

    /// The most buffer capacity kept between frames.
    static let retainedCapacity = 1 << 20

    /// Gives the gathering buffer back when no frame is in progress (an idle connection).
    public mutating func releaseBuffer() {
        if pending.isEmpty && pending.capacity > 0 { pending = [] }
    }

    /// Capacity of the gathering buffer (for tests of what is retained).
    var bufferCapacity: Int { pending.capacity }

    /// Decodes every whole frame in what was buffered plus `bytes`, calling `frame` for each in
    /// order; keeps any incomplete tail for the next call.
    public mutating func feed(
        _ bytes: Span<UInt8>, _ frame: (FrameHeader, Span<UInt8>) -> Void
    ) throws(TransportError) {
        if let failure { throw failure }
        var offset = 0
        do {
            if !pending.isEmpty {
                offset = try completePending(bytes, frame)
                if !pending.isEmpty { return }
            }
            while bytes.count - offset >= FrameHeader.size {
                let rest = bytes.extracting(offset...)
                let header = try FrameHeader(parsing: rest, maximumBody: maximumBody)
                let total = FrameHeader.size + header.bodyLength
                guard rest.count >= total else { break }
                frame(header, rest.extracting(FrameHeader.size..<total))
                offset += total
            }
        } catch {
            failure = error
            throw error
        }
        pending.append(span: bytes.extracting(offset...))
    }

    /// Adds bytes to a partly buffered frame; returns how many of `bytes` it used.
    private mutating func completePending(
        _ bytes: Span<UInt8>, _ frame: (FrameHeader, Span<UInt8>) -> Void
    ) throws(TransportError) -> Int {
        var used = 0
        if pending.count < FrameHeader.size {
            let take = min(FrameHeader.size - pending.count, bytes.count)
            pending.append(span: bytes.extracting(0..<take))
            used = take
            if pending.count < FrameHeader.size { return used }
        }
        let header = try FrameHeader(parsing: pending.span, maximumBody: maximumBody)
        let total = FrameHeader.size + header.bodyLength
        let take = min(total - pending.count, bytes.count - used)
        pending.append(span: bytes.extracting(used..<(used + take)))
        used += take
        if pending.count == total {
            frame(header, pending.span.extracting(FrameHeader.size..<total))
            // Keep the buffer for the next split frame, unless a big frame blew it up: one 16 MiB
            // frame must not pin 16 MiB to the connection for good.
            if pending.capacity > Self.retainedCapacity {
                pending = []
            } else {
                pending.removeAll(keepingCapacity: true)
            }
        }
        return used
    }

    /// Called at end of stream: an error if a frame was cut short.
    public func finish() throws(TransportError) {
        if let failure { throw failure }
        guard pending.isEmpty else {
            let expected =
                pending.count >= FrameHeader.size
                ? FrameHeader.size + Int(pending.span.loadLittleEndian(UInt32.self, at: 4)) : FrameHeader.size
            throw .truncated(missing: expected - pending.count)
        }
    }
}
