// Feeds arbitrary bytes to both sides of the handshake: they must refuse with a TransportError and
// never establish a session with a peer that does not hold the realm secret.
import FuzzMain
import Reactor
import Transport

let secret = RealmSecret(bytes: [UInt8](repeating: 7, count: 32))!
let identity = Identity.generate()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let server = Handshake(role: .server, secret: secret, identity: identity, encrypted: true)
    var client = Handshake(role: .client, secret: secret, identity: identity, encrypted: true)
    _ = client.start()
    // A server awaiting a hello, and a client awaiting the server's.
    for var side in [server, client] {
        var offset = 0
        while offset < bytes.count {
            guard let (used, step) = try? side.receive(Array(bytes[offset...]).span) else { break }
            if case .established = step { preconditionFailure("a forged handshake was accepted") }
            if used == 0 { break }
            offset += used
        }
    }
    return 0
}

runLibFuzzer { data, size in fuzz(data, size) }
