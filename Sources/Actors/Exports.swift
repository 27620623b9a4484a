// What a program written against Actors needs from the layers below comes with it, so a user
// imports one module: the platform (deadlines, processes, files), addresses to listen on and
// connect to, the realm secret, the reconnect backoff, the keep-alive settings of `Tuning`, the ids
// of listeners and connections, the rendezvous relay `Context.connect(to:preface:)` reaches, the
// transport configuration a runtime is made with, and the network interfaces datagrams go out of
// (`DatagramSocket.interfaces()`).
@_exported import Platform

@_exported import class Reactor.DatagramSocket
@_exported import enum Reactor.SocketAddress
@_exported import struct Transport.Backoff
@_exported import struct Transport.ConnectionID
@_exported import struct Transport.ConnectorID
@_exported import class Transport.Identity
@_exported import struct Transport.KeepAlive
@_exported import enum Transport.KeyFileError
@_exported import struct Transport.ListenerID
@_exported import struct Transport.PeerIdentity
@_exported import struct Transport.RealmSecret
@_exported import class Transport.RelaySwitch
@_exported import struct Transport.RelayTicket
@_exported import struct Transport.TransportConfiguration
