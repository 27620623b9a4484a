import Cryptography
import Platform
import Reactor

/// The keys a finished handshake agreed, one per direction, whether records are encrypted, with
/// which AEAD, and who the peer proved to be.
public struct HandshakeKeys: Sendable {
    public let encrypted: Bool
    /// AES-256-GCM when both ends have it in hardware, else XChaCha20-Poly1305.
    public let algorithm: AEAD.Algorithm
    public let transmit: [UInt8]
    public let receive: [UInt8]
    /// The peer's static key, which it proved it holds.
    public let peer: PeerIdentity
}

/// The connection handshake as a sans-I/O state machine: the Noise XX pattern's three messages
/// (`-> e`, `<- e, ee, s, es`, `-> s, se`), with every message authenticated under the realm
/// secret as a pre-shared key from the first byte.
///
/// ```
/// client → server  ClientHello     "ANSH" v2 mode aes 0 | e (32) | MAC (32)                    72
/// server → client  ServerHello     "ANSH" v2 mode aes 0 | e (32) | s masked (32) | MAC (32)   104
/// client → server  ClientFinished  s masked (32) | MAC (32)                                     64
/// ```
///
/// Each step folds one X25519 result into a chain key keyed by the realm secret: `ee` (both
/// ephemerals), `es` (the client's ephemeral with the server's static key), `se` (the client's
/// static key with the server's ephemeral). A MAC under the chain so far ends each message, so the
/// server's proves it holds the secret, its ephemeral and its static key, and the client's
/// Finished the same for the client. A static key travels masked under the chain (a passive
/// observer learns no identity). Session keys come from the whole chain and transcript.
///
/// Why XX, with the secret in every MAC: either end may connect without knowing the other's key
/// (a process reaching its group directory), a stranger without the secret gets no byte back and
/// costs the server one keyed hash and no key (the ClientHello MAC is checked first), and
/// a member with the secret but not a process's static key cannot pass as that process. IK would
/// save nothing here (three messages either way over TCP) and needs the server's key up front.
///
/// `mode` is 1 for encrypted records, 0 for plaintext; the ends must agree, and a side configured
/// for encryption never accepts plaintext. `aes` is 1 when the sender has AES-256-GCM in hardware;
/// records use it only if both do (the byte is under the MAC, so it cannot be downgraded).
public struct Handshake {
    /// The connecting end is the client, the accepting end the server.
    public enum Role: Sendable { case client, server }

    /// Who the peer may be, checked once it has proved its static key.
    public enum Expected: Sendable, Equatable {
        /// Any member but this process: a connection that comes back to its own transport through
        /// something that reflects it is refused.
        case anyoneElse
        /// Any member, this process too (a connection to one's own listener, on purpose).
        case anyone
        /// Only this identity (a listing's publisher, say).
        case exactly(PeerIdentity)
    }

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
    static let version: UInt8 = 2
    static let clientHelloSize = 72
    static let serverHelloSize = 104
    static let finishedSize = 64

    private enum State { case start, awaitingClientHello, awaitingServerHello, awaitingFinished, done, failed }

    /// Which end this is: the client speaks first.
    public let role: Role
    private let secret: RealmSecret
    private let identity: Identity
    private let expected: Expected
    private let encrypted: Bool
    /// Made when this side first needs it: a client's at its hello, a server's only once a hello
    /// has proved the realm secret (a stranger's connection costs no key pair).
    private var made: Sodium.X25519Pair? = nil
    /// The client hellos this transport's servers took lately: a recorded hello sent again is
    /// refused before any key is made.
    private let replays: HelloRecord?
    private var state: State
    private var buffer: [UInt8] = []
    private var clientHello: [UInt8] = []
    private var serverHello: [UInt8] = []
    /// The chain key after `ee` and `es`: what the Finished is checked under.
    private var chain: [UInt8] = []
    private var peerEphemeral: [UInt8] = []
    private var peerHasAES = false
    /// Whether this machine has AES-256-GCM in hardware (a parameter so tests can play one without).
    private let hardwareAES: Bool

    /// A handshake as `role`, proving `secret` and `identity`, taking a peer only as `expected`.
    public init(
        role: Role, secret: RealmSecret, identity: Identity, expected: Expected = .anyoneElse, encrypted: Bool
    ) {
        self.init(
            role: role, secret: secret, identity: identity, expected: expected, encrypted: encrypted,
            hardwareAES: AEAD.Algorithm.preferred == .aes256gcm)
    }

    init(
        role: Role, secret: RealmSecret, identity: Identity, expected: Expected = .anyoneElse, encrypted: Bool,
        hardwareAES: Bool, replays: HelloRecord? = nil
    ) {
        self.replays = replays
        self.hardwareAES = hardwareAES
        self.role = role
        self.secret = secret
        self.identity = identity
        self.expected = expected
        self.encrypted = encrypted
        state = role == .client ? .start : .awaitingClientHello
    }

    /// The client's first message; nil for a server, which speaks only when spoken to.
    public mutating func start() -> [UInt8]? {
        guard role == .client, state == .start else { return nil }
        made = Sodium.X25519Pair()
        clientHello = header() + ephemeral.publicKey
        clientHello += mac(secret.bytes, "ansar client hello", [clientHello])
        state = .awaitingServerHello
        return clientHello
    }

    /// Feeds bytes from the peer. Returns how many bytes the handshake used (the rest belong to the
    /// session that follows) and what to do next.
    public mutating func receive(_ bytes: Span<UInt8>) throws(TransportError) -> (used: Int, step: Step) {
        let needed: Int
        switch state {
        case .awaitingClientHello: needed = Self.clientHelloSize
        case .awaitingServerHello: needed = Self.serverHelloSize
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

    private func mac(_ key: [UInt8], _ label: String, _ parts: [[UInt8]]) -> [UInt8] {
        Sodium.keyedHash(key: key, [Array(label.utf8)] + parts)
    }

    private func header() -> [UInt8] {
        Self.magic + [Self.version, encrypted ? 1 : 0, hardwareAES ? 1 : 0, 0]
    }

    /// The next chain key: the realm secret keys every link, so nothing here is computable without it.
    private func mix(_ chain: [UInt8], _ label: String, _ shared: inout [UInt8]) -> [UInt8] {
        defer { Sodium.wipe(&shared) }
        return mac(secret.bytes, label, [chain, shared])
    }

    private func masked(_ key: [UInt8], under chain: [UInt8], _ label: String) -> [UInt8] {
        zip(key, mac(chain, label, [])).map { $0 ^ $1 }
    }

    /// This side's ephemeral key, once made (the state machine makes it before any use).
    private var ephemeral: Sodium.X25519Pair { made! }

    /// Whether this side has made its ephemeral key yet (what a stranger's hello must not cost).
    var madeKeyPair: Bool { made != nil }

    /// Checks magic, version and mode of a hello.
    private mutating func validateHeader(_ message: [UInt8]) throws(TransportError) {
        guard Array(message[0..<4]) == Self.magic else {
            let shown = message[0..<4].map { String($0, radix: 16) }.joined(separator: " ")
            throw fail("not an ansar handshake (first bytes \(shown)); a plaintext or foreign client?")
        }
        guard message[4] == Self.version else { throw fail("handshake version \(message[4]) is not supported") }
    }

    /// The flags of a hello whose MAC has verified.
    private mutating func takeFlags(_ message: [UInt8]) throws(TransportError) {
        peerHasAES = message[6] == 1
        let peerEncrypted = message[5] == 1
        if peerEncrypted != encrypted {
            throw fail(
                encrypted
                    ? "peer asked for plaintext; this side requires encryption"
                    : "peer asked for encryption; this side is configured for plaintext")
        }
    }

    /// The shared secret with `peer` under `pair`, or the failure for a low-order key.
    private mutating func agree(_ pair: Sodium.X25519Pair, _ peer: [UInt8], _ whose: String) throws(TransportError)
        -> [UInt8]
    {
        guard let shared = pair.sharedSecret(with: peer) else { throw fail("unacceptable \(whose) key") }
        return shared
    }

    /// The peer's proved key, if it is one this side takes.
    private mutating func check(_ key: [UInt8]) throws(TransportError) -> PeerIdentity {
        let peer = PeerIdentity(bytes: key)!
        switch expected {
        case .anyone: break
        case .anyoneElse:
            if peer == identity.publicKey { throw fail("peer is this process (a connection that came back to it)") }
        case .exactly(let wanted):
            if peer != wanted {
                throw fail(
                    peer == identity.publicKey
                        ? "peer is this process, not the expected \(wanted.short)"
                        : "peer proved identity \(peer.short), not the expected \(wanted.short)")
            }
        }
        return peer
    }

    private mutating func serverReceives(clientHello message: [UInt8]) throws(TransportError) -> Step {
        try validateHeader(message)
        let body = Array(message[0..<40])
        guard Sodium.constantTimeEqual(mac(secret.bytes, "ansar client hello", [body]), Array(message[40..<72])) else {
            throw fail("peer does not hold this realm's secret")
        }
        try takeFlags(message)
        clientHello = message
        peerEphemeral = Array(message[8..<40])
        if let replays, !replays.firstSighting(of: peerEphemeral) {
            throw fail("a client hello seen before (a replay)")
        }
        made = Sodium.X25519Pair()
        var ee = try agree(ephemeral, peerEphemeral, "client")
        var es = try agree(identity.pair, peerEphemeral, "client")
        serverHello = header() + ephemeral.publicKey
        var afterEE = mix(chainStart(), "ansar chain ee", &ee)
        defer { Sodium.wipe(&afterEE) }
        serverHello += masked(identity.publicKey.bytes, under: afterEE, "ansar server identity")
        chain = mix(afterEE, "ansar chain es", &es)
        serverHello += mac(chain, "ansar server hello", [clientHello, serverHello])
        state = .awaitingFinished
        return .send(serverHello)
    }

    private mutating func clientReceives(serverHello message: [UInt8]) throws(TransportError) -> Step {
        try validateHeader(message)
        serverHello = message
        peerEphemeral = Array(message[8..<40])
        var ee = try agree(ephemeral, peerEphemeral, "server")
        var afterEE = mix(chainStart(), "ansar chain ee", &ee)
        defer { Sodium.wipe(&afterEE) }
        let serverStatic = masked(Array(message[40..<72]), under: afterEE, "ansar server identity")
        var es = try agree(ephemeral, serverStatic, "server static")
        chain = mix(afterEE, "ansar chain es", &es)
        guard
            Sodium.constantTimeEqual(
                mac(chain, "ansar server hello", [clientHello, Array(message[0..<72])]), Array(message[72..<104]))
        else { throw fail("server did not prove the realm's secret and its identity") }
        try takeFlags(message)
        let peer = try check(serverStatic)
        var finished = masked(identity.publicKey.bytes, under: chain, "ansar client identity") // `-> s`
        var se = try agree(identity.pair, peerEphemeral, "server")
        let last = mix(chain, "ansar chain se", &se)
        finished += mac(last, "ansar client finished", [clientHello, serverHello, finished])
        state = .done
        return .established(keys(last, finished: finished, peer: peer), reply: finished)
    }

    private mutating func serverReceives(finished message: [UInt8]) throws(TransportError) -> Step {
        let clientStatic = masked(Array(message[0..<32]), under: chain, "ansar client identity")
        var se = try agree(ephemeral, clientStatic, "client static")
        let last = mix(chain, "ansar chain se", &se)
        guard
            Sodium.constantTimeEqual(
                mac(last, "ansar client finished", [clientHello, serverHello, Array(message[0..<32])]),
                Array(message[32..<64]))
        else { throw fail("client finished message not authenticated") }
        let peer = try check(clientStatic)
        state = .done
        return .established(keys(last, finished: message, peer: peer), reply: nil)
    }

    /// The chain's first key: the realm secret over both hellos up to the server's ephemeral, so
    /// every later link belongs to this one exchange.
    private func chainStart() -> [UInt8] {
        mac(secret.bytes, "ansar chain start", [clientHello, Array(serverHello[0..<40])])
    }

    /// Session keys from the whole chain and transcript, one per direction. The chain keys and
    /// shared secrets were wiped as they were used.
    private mutating func keys(_ last: [UInt8], finished: [UInt8], peer: PeerIdentity) -> HandshakeKeys {
        var last = last
        defer {
            Sodium.wipe(&last)
            Sodium.wipe(&chain)
        }
        let transcript = [clientHello, serverHello, finished]
        let algorithm: AEAD.Algorithm = peerHasAES && hardwareAES ? .aes256gcm : .xchacha20poly1305
        let toServer = mac(last, "ansar session key client to server", transcript)
        let toClient = mac(last, "ansar session key server to client", transcript)
        return HandshakeKeys(
            encrypted: encrypted,
            algorithm: algorithm,
            transmit: role == .client ? toServer : toClient,
            receive: role == .client ? toClient : toServer,
            peer: peer)
    }
}
