// Feeds arbitrary bytes to the relay's ticket check: it must refuse them (the tag is the relay
// key's) and never crash; a ticket it issued itself, with one byte changed, is refused too.
import FuzzMain
import Transport

let key = [UInt8](repeating: 9, count: RelayTicket.keyBytes)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if (try? RelayTicket(checking: bytes, key: key, now: 0)) != nil { preconditionFailure("a forged ticket was taken") }
    // A real ticket, changed where the input says.
    guard bytes.count >= 2 else { return 0 }
    var ticket = RelayTicket.issue(token: Array(repeating: 1, count: RelayTicket.tokenBytes), expiresAt: .max, key: key)
        .client
    ticket[Int(bytes[0]) % ticket.count] ^= bytes[1] | 1
    if (try? RelayTicket(checking: ticket, key: key, now: 0)) != nil {
        preconditionFailure("a changed ticket was taken")
    }
    return 0
}

runLibFuzzer { data, size in fuzz(data, size) }
