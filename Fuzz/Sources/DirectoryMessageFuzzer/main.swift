// Feeds arbitrary bodies to the decoders of the messages directories take from members and
// parents (listings, searches, sessions, relays): each either decodes or throws, never crashes,
// and what decodes holds only checked names, searches and addresses.
import FuzzMain

@testable import Actors
@testable import PubSub

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let kind = bytes.first else { return 0 }
    let body = Array(bytes.dropFirst())
    switch kind % 8 {
    case 0:
        if let up = try? WireDecoder.decode(EntryUp.self, from: body), let search = up.search {
            precondition((try? search.validated()) != nil, "an unchecked search got through")
        }
    case 1: _ = try? WireDecoder.decode(EntryDown.self, from: body)
    case 2: _ = try? WireDecoder.decode(OpenSession.self, from: body)
    case 3: _ = try? WireDecoder.decode(CloseSession.self, from: body)
    case 4: _ = try? WireDecoder.decode(Relayed.self, from: body)
    case 5: _ = try? WireDecoder.decode(SessionHello.self, from: body)
    case 6: _ = try? WireDecoder.decode(EntryRefused.self, from: body)
    default: _ = try? WireDecoder.decode(RelayWanted.self, from: body)
    }
    return 0
}

runLibFuzzer { data, size in fuzz(data, size) }
