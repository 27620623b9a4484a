// Feeds arbitrary datagrams to the LAN beacon decoder: it must refuse them with a reason (the tag
// is the realm's) and never crash.
import FuzzMain
import PubSub
import Transport

let secret = RealmSecret(bytes: [UInt8](repeating: 7, count: 32))!

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if case .success = LANBeacon.decode(bytes, from: "10.0.0.1", secret: secret, now: 1_790_000_000) {
        preconditionFailure("a forged beacon was taken")
    }
    return 0
}

runLibFuzzer { data, size in fuzz(data, size) }
