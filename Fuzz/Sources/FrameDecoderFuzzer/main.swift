// Feeds arbitrary bytes to the frame decoder, split at a point the input chooses, and checks that
// it either refuses with a TransportError or yields frames whose bodies match their headers.
import FuzzMain
import Reactor
import Transport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let split = Int(first) % (bytes.count)
    var decoder = FrameDecoder(maximumBody: 4096)
    var total = 0
    do {
        for part in [bytes[1..<max(1, split)], bytes[max(1, split)...]] {
            try decoder.feed(Array(part).span) { header, body in
                precondition(body.count == header.bodyLength, "body length disagrees with its header")
                precondition(header.bodyLength <= 4096, "a body over the maximum got through")
                total += FrameHeader.size + body.count
            }
        }
        precondition(total + decoder.bufferedBytes == bytes.count - 1, "bytes lost or invented")
        try? decoder.finish()
    } catch {
        // Refused input is the expected outcome for most inputs.
    }
    return 0
}

runLibFuzzer { data, size in fuzz(data, size) }
