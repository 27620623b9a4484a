import Testing

@testable import Transport

func frameBytes(_ header: FrameHeader, _ body: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    header.write(into: &out)
    return out + body
}

/// Feeds `bytes` in pieces of the given sizes (cycling) and collects the frames.
func decode(_ bytes: [UInt8], pieces: [Int], maximumBody: Int = 1 << 20) throws(TransportError) -> [(
    FrameHeader, [UInt8]
)] {
    var decoder = FrameDecoder(maximumBody: maximumBody)
    var frames: [(FrameHeader, [UInt8])] = []
    var offset = 0
    var piece = 0
    while offset < bytes.count {
        let size = min(pieces[piece % pieces.count], bytes.count - offset)
        piece += 1
        try decoder.feed(bytes[offset..<(offset + size)].span) { header, body in
            var copy: [UInt8] = []
            for index in body.indices { copy.append(body[index]) }
            frames.append((header, copy))
        }
        offset += size
    }
    try decoder.finish()
    return frames
}

@Suite("Frames: header layout, decoding across any split, refusals")
struct FrameTests {
    @Test("the header is 32 little-endian bytes in the documented layout")
    func layout() {
        let header = FrameHeader(
            typeID: 0x0403_0201, bodyLength: 0x0A0B, destination: 0x1122_3344_5566_7788,
            returnAddress: 0x99, flags: FrameHeader.Flags(rawValue: 1 << 4))
        var bytes: [UInt8] = []
        header.write(into: &bytes)
        #expect(
            bytes == [
                0x41, 0x4E, 1, 0x10, 0x0B, 0x0A, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0,
                0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x99, 0, 0, 0, 0, 0, 0, 0,
            ])
    }

    @Test(
        "frames decode identically whatever the split",
        arguments: [[1], [2, 3], [7], [31, 33], [32], [1000], [5, 64, 1]])
    func splits(pieces: [Int]) throws {
        var stream: [UInt8] = []
        var expected: [(FrameHeader, [UInt8])] = []
        for index in 0..<20 {
            let body = (0..<(index * 13)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
            let header = FrameHeader(
                typeID: UInt32(index), bodyLength: body.count, destination: UInt64(index) << 40,
                returnAddress: UInt64(index))
            expected.append((header, body))
            stream += frameBytes(header, body)
        }
        let frames = try decode(stream, pieces: pieces)
        #expect(frames.count == expected.count)
        for (got, want) in zip(frames, expected) {
            #expect(got.0 == want.0)
            #expect(got.1 == want.1)
        }
    }

    @Test("refusals: bad magic, version, reserved bytes, oversize, truncation")
    func refusals() {
        let good = frameBytes(FrameHeader(typeID: 1, bodyLength: 4), [1, 2, 3, 4])
        var badMagic = good
        badMagic[0] = 0x47
        #expect(throws: TransportError.badMagic(0x4E47)) { try decode(badMagic, pieces: [100]) }
        var badVersion = good
        badVersion[2] = 9
        #expect(throws: TransportError.unsupportedVersion(9)) { try decode(badVersion, pieces: [3]) }
        var reserved = good
        reserved[13] = 1
        #expect(throws: TransportError.reservedNotZero) { try decode(reserved, pieces: [100]) }
        let huge = frameBytes(FrameHeader(typeID: 1, bodyLength: 5000), [])
        #expect(throws: TransportError.frameTooLarge(length: 5000, maximum: 4096)) {
            try decode(huge, pieces: [32], maximumBody: 4096)
        }
        #expect(throws: TransportError.truncated(missing: 2)) { try decode(Array(good.dropLast(2)), pieces: [5]) }
        #expect(throws: TransportError.truncated(missing: 12)) { try decode(Array(good.prefix(20)), pieces: [5]) }
        #expect(throws: TransportError.badMagic(0x4547)) {
            try decode(Array("GET / HTTP/1.1\r\n\r\n".utf8) + [UInt8](repeating: 0, count: 20), pieces: [100])
        }
    }

    @Test("a failed decoder stays failed")
    func staysFailed() throws {
        var decoder = FrameDecoder()
        let garbage = [UInt8](repeating: 0xFF, count: 40)
        #expect(throws: TransportError.self) { try decoder.feed(garbage.span) { _, _ in } }
        let good = frameBytes(FrameHeader(typeID: 1, bodyLength: 0), [])
        #expect(throws: TransportError.self) {
            try decoder.feed(good.span) { _, _ in Issue.record("no frame after failure") }
        }
    }

    @Test("a big split frame does not leave its buffer pinned to the decoder")
    func bigFrameReleasesBuffer() throws {
        var decoder = FrameDecoder(maximumBody: 8 << 20)
        let body = [UInt8](repeating: 9, count: 4 << 20)
        let bytes = frameBytes(FrameHeader(typeID: 1, bodyLength: body.count), body)
        var frames = 0
        var lengths: [Int] = []
        let head = Array(bytes[0..<1000])
        let rest = Array(bytes[1000...])
        try decoder.feed(head.span) { _, _ in frames += 1 }
        try decoder.feed(rest.span) { _, body in
            frames += 1
            lengths.append(body.count)
        }
        #expect(lengths == [4 << 20])
        #expect(frames == 1)
        #expect(decoder.bufferCapacity <= FrameDecoder.retainedCapacity)
    }
}
