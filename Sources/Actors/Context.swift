import Transport

/// A handler-style object: the runtime calls ``receive(_:context:)`` once per message, on the
/// runtime's thread, one message at a time. The first message is always ``Start``.
///
/// ```swift
/// final class Echo: Object {
///     func receive(_ message: any Message, context: Context) throws {
///         switch message {
///         case let hello as Hello: try context.reply(Welcome(myName: "Buster", yourName: hello.name))
///         case is Stop: context.complete(Ack())
///         default: break
///         }
///     }
/// }
/// ```
///
/// A thrown error ends the object with ``Faulted``. For state machines see ``Machine``.
///
/// A process decodes a message from another process only if it knows the type: list in
/// ``messageTypes`` the types this object expects from other processes and never sends or
/// selects itself (the runtime registers them when the object is created), or they arrive as
/// ``Incognito``.
public protocol Object: AnyObject {
    func receive(_ message: any Message, context: Context) throws
    /// Message types to register when the object is created.
    static var messageTypes: [any Message.Type] { get }
}

extension Object {
    public static var messageTypes: [any Message.Type] { [] }
}

/// What an object can do: the same verbs for handler-style objects (``Context``) and sequential
/// ones (``Mailbox``).
public protocol ObjectContext {
    var runtime: Runtime { get }
    /// The object's own address.
    var address: Address { get }
    /// The sender of the message being handled (for a sequential object, of the last one selected).
    var returnAddress: Address { get }
}

extension ObjectContext {
    /// Sends `message` to `address`. Throws only when the message cannot be queued now — a full
    /// mailbox or connection — and then nothing was sent. A message for an address that no longer
    /// exists is dropped (logged at debug level); with `notifyIfUndelivered` the sender then
    /// receives ``NotDelivered``.
    public func send(_ message: some Message, to address: Address, notifyIfUndelivered: Bool = false)
        throws(SendRefused)
    {
        try runtime.deliver(message, to: address, from: self.address, notifyIfUndelivered: notifyIfUndelivered)
    }

    /// Sends `message` to the sender of the current message.
    public func reply(_ message: some Message) throws(SendRefused) {
        try runtime.deliver(message, to: returnAddress, from: address, notifyIfUndelivered: false)
    }

    /// Sends `message` to `address` as if `sender` had sent it: replies go to `sender`.
    public func forward(_ message: some Message, to address: Address, as sender: Address) throws(SendRefused) {
        try runtime.deliver(message, to: address, from: sender, notifyIfUndelivered: false)
    }

    /// Creates a handler-style child; this object receives ``Completed`` when it ends.
    @discardableResult
    public func create(_ object: some Object) -> Address? {
        runtime.create(object, parent: address)
    }

    /// Creates a sequential child running `body`; this object receives ``Completed`` when it ends.
    @discardableResult
    public func create(_ body: @escaping @Sendable (Mailbox) async throws -> any Message) -> Address? {
        runtime.create(parent: address, body)
    }

    /// Ends this object with `value`: the parent receives ``Completed`` with it. Messages still
    /// waiting for the object are dropped. (A sequential object completes by returning.)
    public func complete(_ value: any Message) {
        runtime.complete(address, with: value)
    }

    /// Lets every link address `object` of this thread (a published service: peers learn its
    /// number from a directory, not from this process). Any other object is reachable only over
    /// links it was handed to — as a sender, or inside a message.
    public func expose(_ object: Address) {
        guard object.isLocal else { return }
        runtime.tables.value.exposed.insert(object.object)
    }

    /// Takes back ``expose(_:)``: links that were handed the object keep it.
    public func unexpose(_ object: Address) {
        runtime.tables.value.exposed.remove(object.object)
    }

    /// Asks to be told (``Ended``, from that object) when the object at `address`, of this
    /// process and thread, ends; at once if it already has.
    public func watch(_ address: Address) {
        runtime.watch(address, by: self.address)
    }

    /// Delivers `message` to this object after `delay`, and every `delay` after that if
    /// `repeating`. Timers are keyed by the message's type: starting one of a type that is
    /// running re-arms it.
    public func startTimer(_ message: some Message, after delay: Duration, repeating: Bool = false) {
        runtime.startTimer(message, after: delay, repeating: repeating, for: address)
    }

    /// Delivers `message` to this object at `deadline` (at once if it has passed): for an object that
    /// keeps many due times and arms one timer for the earliest.
    public func startTimer(_ message: some Message, at deadline: Deadline) {
        startTimer(message, after: .nanoseconds(Int64(clamping: Deadline.now().nanoseconds(until: deadline))))
    }

    /// Stops the timer keyed by `type`. A message from it that was already queued still arrives.
    public func cancelTimer(_ type: (some Message).Type) {
        runtime.cancelTimer(MessageType.identifier(of: type.typeName), for: address)
    }

    /// Listens on `address` for other processes of the realm. This object receives ``Listening``
    /// (or ``NotListening``, and the listener keeps trying), then ``Accepted`` for each peer,
    /// from an address that reaches that peer's listening object.
    @discardableResult
    public func listen(at address: SocketAddress) -> ListenerID {
        runtime.listen(at: address, owner: self.address)
    }

    /// Connects to a listening process. This object receives ``Connected`` from an address that
    /// reaches the far end's listening object, or ``NotConnected``; with `backoff` it retries, and
    /// reconnects after a loss.
    ///
    /// `preface` and `role` are for meeting a peer at a ``RelaySwitch``: the preface carries the
    /// rendezvous token, and one of the two ends plays the handshake's server.
    ///
    /// `deadline` bounds each attempt (connect and handshake; default: the transport's handshake
    /// timeout) — shorter for a peer that should answer at once, so a lost SYN costs less than the
    /// kernel's first retransmission.
    ///
    /// The far end must prove the identity `expecting` in the handshake (a listing's publisher);
    /// without one, any member but this process (unless `address` is one of its own listeners).
    @discardableResult
    public func connect(
        to address: SocketAddress, backoff: Backoff? = nil, deadline: Duration? = nil, preface: [UInt8] = [],
        role: Handshake.Role = .client, expecting: PeerIdentity? = nil
    ) -> ConnectorID {
        runtime.connect(
            to: address, backoff: backoff, deadline: deadline, preface: preface, role: role, expecting: expecting,
            owner: self.address)
    }

    /// Stops a connector made by ``connect(to:backoff:deadline:preface:role:expecting:)``: no more attempts, and its
    /// connection, if up, closes (the owner receives ``Closed``).
    public func closeConnector(_ id: ConnectorID) {
        runtime.connections.closeConnector(id)
        runtime.connectorOwners[id] = nil
    }

    /// A UDP/IPv4 socket bound to `port` on every interface (0: the kernel's choice), for this
    /// object: it receives ``DatagramReceived`` for each datagram that arrives. An ordinary socket
    /// of the runtime's loop; it closes with ``closeDatagramSocket(_:)`` or the runtime's end.
    public func openDatagramSocket(port: UInt16 = 0) throws(ReactorError) -> DatagramSocketID {
        let socket = try runtime.reactor.openDatagramSocket(port: port)
        runtime.datagramOwners[socket] = address
        return DatagramSocketID(socket: socket)
    }

    /// Sends one datagram to `host:port` (for a multicast group, out of the interface with address
    /// `interface`); a full socket buffer is an error, not a wait.
    public func sendDatagram(
        _ bytes: [UInt8], on socket: DatagramSocketID, to host: String, port: UInt16, interface: String? = nil
    ) throws(ReactorError) {
        try runtime.reactor.sendDatagram(bytes, on: socket.socket, to: host, port: port, interface: interface)
    }

    /// Receives `group`'s multicast on the interface with address `interface`.
    public func joinMulticastGroup(_ group: String, interface: String, on socket: DatagramSocketID) throws(ReactorError)
    {
        try runtime.reactor.joinMulticastGroup(group, interface: interface, on: socket.socket)
    }

    /// The IPv4 interfaces of this machine that are up, loopback excepted (as the runtime's
    /// reactor sees them: a simulated network has its own).
    public func networkInterfaces() -> [DatagramSocket.Interface] { runtime.reactor.networkInterfaces() }

    /// The port a datagram socket is bound to.
    public func port(of socket: DatagramSocketID) throws(ReactorError) -> UInt16 {
        try runtime.reactor.datagramPort(of: socket.socket)
    }

    /// Closes a datagram socket this object opened; nothing more arrives from it.
    public func closeDatagramSocket(_ socket: DatagramSocketID) {
        runtime.datagramOwners[socket.socket] = nil
        try? runtime.reactor.close(socket.socket)
    }

    /// Closes the connection `address` routes through, gracefully: what was sent before, and the
    /// confirmation of what the peer's messages objects here took, still go out. The owner
    /// receives ``Closed``. A connection made by a connector with a backoff comes back only if
    /// `reconnecting` (a reset, to start the link over).
    public func close(_ address: Address, reconnecting: Bool = false) {
        guard let id = address.link, let link = runtime.link(id) else { return }
        runtime.grantCredit()
        runtime.connections.close(link.connection, reconnecting: reconnecting)
    }
}

/// What a handler-style object is given with each message.
public struct Context: ObjectContext {
    public let runtime: Runtime
    public let address: Address
    public let returnAddress: Address
    /// Whether the sender of the message being handled asked for ``NotDelivered``.
    var notifyIfUndelivered = false
}
