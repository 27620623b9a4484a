import Transport

/// A datagram socket an object opened (``Context/openDatagramSocket(port:)``).
public struct DatagramSocketID: Hashable, Sendable, Codable, CustomStringConvertible {
    let socket: SocketID

    public var description: String { "datagram \(socket)" }
}
