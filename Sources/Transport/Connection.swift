import Cryptography
import Platform
import Reactor

/// The state of one connection: handshake, then framed (and usually encrypted) traffic with
/// keep-alive. Owned by ``Connections``, which drives it from reactor events. A class, so the hot
/// path reaches its fields in place instead of copying a large value in and out of the table.
final class Connection {
    enum Phase { case connecting, handshaking, established }

    let id: ConnectionID
    let role: Handshake.Role
    let listener: ListenerID?
    let connector: ConnectorID?
    var phase: Phase
    /// Until established; then dropped, which wipes its ephemeral secret key.
    var handshake: Handshake?
    var sealer: RecordSealer? = nil
    var opener: RecordOpener? = nil
    var decoder: FrameDecoder
    var keepAlive: KeepAlive
    var minimumRate: MinimumRate
    /// Bytes of unfinished records and frames this connection holds, as last counted into the
    /// transport's receive budget.
    var heldBytes = 0
    /// The peer's progress through what we sent (``Reactor/sendProgress(on:)``), and what was left
    /// for it to take, at the last check.
    var delivered: UInt64 = 0
    var outstanding = 0
    /// Control records to seal ahead of queued data at the next flush.
    var probeOwed = false
    var answerOwed = false
    var aliveOwed = false
    /// Receiving stopped by the owner (``Connections/pauseReceiving(_:)``).
    var paused = false
    /// Plaintext frames queued this turn, sealed into records when the turn ends.
    var staging: [UInt8] = []
    var stagingOffset = 0
    var flushQueued = false
    var refusedSend = false
    /// Closing gracefully: queued frames go out, then our side of the stream ends, then the peer's.
    var closing = false
    /// The handshake deadline, then the keep-alive check.
    var timer: TimerID? = nil
    /// Who the peer proved to be in the handshake; nil until then.
    var peerIdentity: PeerIdentity? = nil
    /// Where the peer is, for the log.
    var peer: String
    /// Sent once connected, before the handshake (see ``Connections/connect(to:deadline:backoff:preface:role:expecting:)``).
    var preface: [UInt8] = []

    init(
        id: ConnectionID, role: Handshake.Role, listener: ListenerID?, connector: ConnectorID?,
        configuration: TransportConfiguration, identity: Identity, expected: Handshake.Expected,
        hellos: HelloRecord? = nil, keepAlive: KeepAlive.Configuration, peer: String, now: Deadline
    ) {
        self.id = id
        self.role = role
        self.listener = listener
        self.connector = connector
        phase = role == .client ? .connecting : .handshaking
        handshake = Handshake(
            role: role, secret: configuration.secret, identity: identity, expected: expected,
            encrypted: configuration.encrypted, hardwareAES: AEAD.Algorithm.preferred == .aes256gcm, replays: hellos)
        decoder = FrameDecoder(maximumBody: configuration.maximumBody)
        self.keepAlive = KeepAlive(configuration: keepAlive, now: now)
        minimumRate = MinimumRate(configuration: configuration.minimumRate)
        self.peer = peer
    }

    /// Queued plaintext not yet handed to the reactor.
    var pendingBytes: Int { staging.count - stagingOffset }

    /// Appends one frame to the staging buffer.
    func stage(_ header: FrameHeader, _ body: Span<UInt8>) {
        header.write(into: &staging)
        staging.append(span: body)
    }
}
