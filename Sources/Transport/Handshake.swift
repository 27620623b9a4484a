import Cryptography
import Platform
import Reactor

/// The keys a finished handshake agreed, one per direction, whether records are encrypted, and with
/// which AEAD.
public struct HandshakeKeys: Sendable {
    public let encrypted: Bool
    /// AES-256-GCM when both ends have it in hardware, else XChaCha20-Poly1305.
    public let algorithm: AEAD.Algorithm
    public let transmit: [UInt8]
    public let receive: [UInt8]
}

/// The connection handshake as a sans-I/O state machine.
///
/// ```
/// client → server  ClientHello    "ANSH" v1 mode aes 0 | client X25519 key (32) | MAC (32)
/// server → client  ServerHello    "ANSH" v1 mode aes 0 | server X25519 key (32) | MAC (32)
/// client → server  ClientFinished MAC (32)
/// ```
///
/// Every MAC is keyed BLAKE2b-256 under the realm secret over the transcript so far, so each side
/// proves it holds the secret, and the Finished MAC covers the server's fresh key (a replayed hello
/// gets nowhere). Keys are ephemeral (`crypto_kx`), and the session keys are bound to the realm and
/// the transcript. A peer without the secret gets no reply from a server and learns nothing.
/// `mode` is 1 for encrypted records, 0 for plaintext; the ends must agree, and a side configured
/// for encryption never accepts plaintext. `aes` is 1 when the sender has AES-256-GCM in hardware;
/// records use it only if both do (the byte is under the MAC, so it cannot be downgraded).
public struct Handshake {
    /// The connecting end is the client, the accepting end the server.
    public enum Role: Sendable { case client, server }

    /// What the caller must do after feeding bytes.
    public enum Step {
        /// Send these bytes to the peer (and keep feeding).
        case send([UInt8])
        /// Done: send `reply` if any, then switch to records with `keys`.
        case established(HandshakeKeys, reply: [UInt8]?)
        /// Nothing yet: feed more bytes.
        case needMore
    }

    static let magic: [UInt8] = Array("ANSH".utf8)
    static let version: UInt8 = 1
    static let helloSize = 72
    static let finishedSize = 32

    private enum State { case start, awaitingClientHello, awaitingServerHello, awaitingFinished, done, failed }

    /// Which end this is: the client speaks first.
    public let role: Role
    private let secret: RealmSecret
    private let encrypted: Bool
    private let pair = Sodium.KeyExchangePair()
    private var state: State
    private var buffer: [UInt8] = []
    private var clientHello: [UInt8] = []
    private var serverHello: [UInt8] = []
    private var pendingKeys: HandshakeKeys? = nil
    private var peerHasAES = false
    /// Whether this machine has AES-256-GCM in hardware (a parameter so tests can play one without).
    private let hardwareAES: Bool

    public init(role: Role, secret: RealmSecret, encrypted: Bool) {
        self.init(role: role, secret: secret, encrypted: encrypted, hardwareAES: AEAD.Algorithm.preferred == .aes256gcm)
    }

    init(role: Role, secret: RealmSecret, encrypted: Bool, hardwareAES: Bool) {
        self.hardwareAES = hardwareAES
        self.role = role
        self.secret = secret
        self.encrypted = encrypted
        state = role == .client ? .start : .awaitingClientHello
    }

    /// The client's first message; nil for a server, which speaks only when spoken to.
    public mutating func start() -> [UInt8]? {
        guard role == .client, state == .start else { return nil }
        clientHello = hello(label: "ansar client hello", transcript: [])
        state = .awaitingServerHello
        return clientHello
    }

    /// Feeds bytes from the peer. Returns how many bytes the handshake used (the rest belong to the
    /// session that follows) and what to do next.
    public mutating func receive(_ bytes: Span<UInt8>) throws(TransportError) -> (used: Int, step: Step) {
        let needed: Int
        switch state {
        case .awaitingClientHello, .awaitingServerHello: needed = Self.helloSize
        case .awaitingFinished: needed = Self.finishedSize
        case .start: throw fail("data before the handshake started")
        case .done, .failed: throw fail("handshake already finished")
        }
        let take = min(needed - buffer.count, bytes.count)
        buffer.append(span: bytes.extracting(0..<take))
        guard buffer.count == needed else { return (take, .needMore) }
        let message = buffer
        buffer.removeAll()
        switch state {
        case .awaitingClientHello: return (take, try serverReceives(clientHello: message))
        case .awaitingServerHello: return (take, try clientReceives(serverHello: message))
        default: return (take, try serverReceives(finished: message))
        }
    }

    private mutating func fail(_ why: String) -> TransportError {
        state = .failed
        return .handshake(why)
    }

    private func mac(_ label: String, _ parts: [[UInt8]]) -> [UInt8] {
        Sodium.keyedHash(key: secret.bytes, [Array(label.utf8)] + parts)
    }

    private func hello(label: String, transcript: [[UInt8]]) -> [UInt8] {
        let aes: UInt8 = hardwareAES ? 1 : 0
        var message = Self.magic + [Self.version, encrypted ? 1 : 0, aes, 0] + pair.publicKey
        message += mac(label, transcript + [message])
        return message
    }

    /// Checks magic, version and mode of a hello; returns the peer's public key.
    private mutating func validate(_ message: [UInt8], label: String, transcript: [[UInt8]]) throws(TransportError)
        -> [UInt8]
    {
        guard Array(message[0..<4]) == Self.magic else {
            let shown = message[0..<4].map { String($0, radix: 16) }.joined(separator: " ")
            throw fail("not an ansar handshake (first bytes \(shown)); a plaintext or foreign client?")
        }
        guard message[4] == Self.version else { throw fail("handshake version \(message[4]) is not supported") }
        let body = Array(message[0..<40])
        guard Sodium.constantTimeEqual(mac(label, transcript + [body]), Array(message[40..<72])) else {
            throw fail("peer does not hold this realm's secret")
        }
        peerHasAES = message[6] == 1
        let peerEncrypted = message[5] == 1
        if peerEncrypted != encrypted {
            throw fail(
                encrypted
                    ? "peer asked for plaintext; this side requires encryption"
                    : "peer asked for encryption; this side is configured for plaintext")
        }
        return Array(message[8..<40])
    }

    private mutating func serverReceives(clientHello message: [UInt8]) throws(TransportError) -> Step {
        let peerKey = try validate(message, label: "ansar client hello", transcript: [])
        clientHello = message
        serverHello = hello(label: "ansar server hello", transcript: [clientHello])
        guard var keys = pair.sessionKeys(asClient: false, peer: peerKey) else { throw fail("unacceptable client key") }
        pendingKeys = bind(&keys)
        state = .awaitingFinished
        return .send(serverHello)
    }

    private mutating func clientReceives(serverHello message: [UInt8]) throws(TransportError) -> Step {
        let peerKey = try validate(message, label: "ansar server hello", transcript: [clientHello])
        serverHello = message
        guard var keys = pair.sessionKeys(asClient: true, peer: peerKey) else { throw fail("unacceptable server key") }
        state = .done
        return .established(bind(&keys), reply: mac("ansar client finished", [clientHello, serverHello]))
    }

    private mutating func serverReceives(finished message: [UInt8]) throws(TransportError) -> Step {
        guard Sodium.constantTimeEqual(mac("ansar client finished", [clientHello, serverHello]), message),
            let keys = pendingKeys
        else { throw fail("client finished message not authenticated") }
        state = .done
        return .established(keys, reply: nil)
    }

    /// Session keys bound to the realm and this transcript, not only to the ephemeral exchange.
    /// The exchange's raw keys (`keys`, which the caller owns) and the transcript hash are wiped
    /// once the session keys are made.
    private func bind(_ keys: inout (receive: [UInt8], transmit: [UInt8])) -> HandshakeKeys {
        var transcript = Sodium.keyedHash(key: secret.bytes, [clientHello, serverHello])
        defer {
            Sodium.wipe(&keys.receive)
            Sodium.wipe(&keys.transmit)
            Sodium.wipe(&transcript)
        }
        let bothHaveAES = peerHasAES && hardwareAES
        return HandshakeKeys(
            encrypted: encrypted,
            algorithm: bothHaveAES ? .aes256gcm : .xchacha20poly1305,
            transmit: mac("ansar session key", [keys.transmit, transcript]),
            receive: mac("ansar session key", [keys.receive, transcript]))
    }
}
