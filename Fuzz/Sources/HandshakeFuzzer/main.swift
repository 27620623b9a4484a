// Feeds both sides of the handshake bytes they must refuse with a TransportError, and never
// establish on. The first byte chooses what: arbitrary bytes to a fresh server and client, or one
// message of a real exchange with the rest of the input XORed over it (a changed ClientHello, a
// changed ServerHello, a changed Finished) — every byte of each is under a MAC or binds a key, so
// any change must be refused, and the exchange's X25519 runs on keys the fuzzer chose.
import FuzzMain
import Reactor
import Transport

let secret = RealmSecret(bytes: [UInt8](repeating: 7, count: 32))!
let (clientIdentity, serverIdentity) = (Identity.generate(), Identity.generate())

func client() -> Handshake { Handshake(role: .client, secret: secret, identity: clientIdentity, encrypted: true) }
func server() -> Handshake { Handshake(role: .server, secret: secret, identity: serverIdentity, encrypted: true) }

/// `message` with `mask` XORed over its start; nil when the mask changes nothing.
func changed(_ message: [UInt8], by mask: ArraySlice<UInt8>) -> [UInt8]? {
    var result = message
    for (offset, byte) in mask.prefix(message.count).enumerated() { result[offset] ^= byte }
    return result == message ? nil : result
}

/// Feeds `bytes` to `side` until it refuses, wants more, or (a failure) establishes.
func feed(_ bytes: [UInt8], to side: inout Handshake) -> Handshake.Step? {
    var offset = 0
    var last: Handshake.Step? = nil
    while offset < bytes.count {
        guard let (used, step) = try? side.receive(Array(bytes[offset...]).span) else { return nil }
        if case .established = step { preconditionFailure("a forged or changed handshake was accepted") }
        last = step
        if used == 0 { break }
        offset += used
    }
    return last
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = bytes.first else { return 0 }
    let mask = bytes.dropFirst()
    var (a, b) = (client(), server())
    guard let hello = a.start() else { return 0 }
    switch mode % 4 {
    case 0: // arbitrary bytes, to a server awaiting a hello and a client awaiting the server's
        var fresh = server()
        _ = feed(Array(mask), to: &fresh)
        _ = feed(Array(mask), to: &a)
    case 1:
        guard let bad = changed(hello, by: mask) else { return 0 }
        _ = feed(bad, to: &b)
    case 2:
        guard case .send(let reply)? = try? b.receive(hello.span).step, let bad = changed(reply, by: mask) else {
            return 0
        }
        _ = feed(bad, to: &a)
    default:
        guard case .send(let reply)? = try? b.receive(hello.span).step,
            case .established(_, let finished?)? = try? a.receive(reply.span).step,
            let bad = changed(finished, by: mask)
        else { return 0 }
        _ = feed(bad, to: &b)
    }
    return 0
}

runLibFuzzer { data, size in fuzz(data, size) }
