import Cryptography
import Reactor
import Testing

@testable import Transport

/// Runs a handshake between two state machines, optionally feeding one byte at a time.
func shake(_ client: inout Handshake, _ server: inout Handshake, byteByByte: Bool = false) throws -> (
    HandshakeKeys, HandshakeKeys
) {
    func deliver(_ bytes: [UInt8], to side: inout Handshake) throws -> Handshake.Step {
        var step = Handshake.Step.needMore
        var offset = 0
        while offset < bytes.count {
            let end = byteByByte ? offset + 1 : bytes.count
            let (used, next) = try side.receive(bytes[offset..<end].span)
            #expect(used == end - offset, "a handshake message is consumed whole")
            offset = end
            step = next
        }
        return step
    }
    let helloStarted = client.start()
    let hello = try #require(helloStarted)
    guard case .send(let serverHello) = try deliver(hello, to: &server) else {
        throw TransportError.handshake("no server hello")
    }
    guard case .established(let clientKeys, let finished?) = try deliver(serverHello, to: &client) else {
        throw TransportError.handshake("client not established")
    }
    guard case .established(let serverKeys, nil) = try deliver(finished, to: &server) else {
        throw TransportError.handshake("server not established")
    }
    return (clientKeys, serverKeys)
}

@Suite("Handshake: realm-authenticated key exchange")
struct HandshakeTests {
    let realm = RealmSecret.generate()

    @Test("both ends agree on crossed keys, encrypted or plaintext", arguments: [true, false], [false, true])
    func agree(encrypted: Bool, byteByByte: Bool) throws {
        var client = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: encrypted)
        var server = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: encrypted)
        let (c, s) = try shake(&client, &server, byteByByte: byteByByte)
        #expect(c.transmit == s.receive)
        #expect(c.receive == s.transmit)
        #expect(c.transmit != c.receive)
        #expect(c.encrypted == encrypted && s.encrypted == encrypted)
        #expect(c.algorithm == s.algorithm && c.algorithm == AEAD.Algorithm.preferred)
    }

    @Test("fresh keys for every connection")
    func ephemeral() throws {
        var a = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: true)
        var b = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        var c = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: true)
        var d = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        #expect(try shake(&a, &b).0.transmit != shake(&c, &d).0.transmit)
    }

    @Test("a server refuses a client of another realm and says nothing back")
    func wrongRealmClient() throws {
        var client = Handshake(role: .client, secret: .generate(), identity: .generate(), encrypted: true)
        var server = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        let helloStarted = client.start()
        let hello = try #require(helloStarted)
        #expect(throws: TransportError.handshake("peer does not hold this realm's secret")) {
            try server.receive(hello.span)
        }
    }

    @Test("a client refuses a server of another realm")
    func wrongRealmServer() throws {
        var client = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: true)
        var impostor = Handshake(role: .server, secret: .generate(), identity: .generate(), encrypted: true)
        var honest = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        let helloStarted = client.start()
        let hello = try #require(helloStarted)
        #expect(throws: TransportError.self) { try impostor.receive(hello.span) }
        // Even an impostor that answered with a replayed honest server hello fails the client: it
        // cannot finish without the server's ephemeral secret, and its own hello MAC is wrong.
        guard case .send(let serverHello)? = try? honest.receive(hello.span).step else {
            Issue.record("honest server")
            return
        }
        var tampered = serverHello
        tampered[20] ^= 1
        #expect(throws: TransportError.handshake("server did not prove the realm's secret and its identity")) {
            try client.receive(tampered.span)
        }
    }

    @Test("each end learns the static key the other proved")
    func identities() throws {
        let (clientIdentity, serverIdentity) = (Identity.generate(), Identity.generate())
        var client = Handshake(role: .client, secret: realm, identity: clientIdentity, encrypted: true)
        var server = Handshake(role: .server, secret: realm, identity: serverIdentity, encrypted: true)
        let (c, s) = try shake(&client, &server)
        #expect(c.peer == serverIdentity.publicKey)
        #expect(s.peer == clientIdentity.publicKey)
        #expect(c.peer != s.peer)
    }

    @Test("a static key is bound: any change to the masked key in either message is refused", arguments: 0..<32)
    func staticKeyBound(offset: Int) throws {
        var client = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: true)
        var server = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        let hello = try #require(client.start() as [UInt8]?)
        guard case .send(var serverHello) = try server.receive(hello.span).step else {
            Issue.record("server hello")
            return
        }
        var honestClient = client
        serverHello[40 + offset] ^= 0x40
        #expect(throws: TransportError.handshake("server did not prove the realm's secret and its identity")) {
            try client.receive(serverHello.span)
        }
        serverHello[40 + offset] ^= 0x40
        guard case .established(_, var finished?) = try honestClient.receive(serverHello.span).step else {
            Issue.record("client")
            return
        }
        finished[offset] ^= 0x40
        #expect(throws: TransportError.self) { try server.receive(finished.span) }
    }

    @Test("a connection back to one's own listener is refused as the peer being this process")
    func reflection() throws {
        let me = Identity.generate()
        var client = Handshake(role: .client, secret: realm, identity: me, encrypted: true)
        var server = Handshake(role: .server, secret: realm, identity: me, encrypted: true)
        #expect(throws: TransportError.handshake("peer is this process (a connection that came back to it)")) {
            try shake(&client, &server)
        }
    }

    @Test("a replayed client hello does not complete: the finished MAC covers the server's fresh key")
    func replay() throws {
        var client = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: true)
        var server = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        let (_, _) = try shake(&client, &server)
        var original = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: true)
        let helloStarted = original.start()
        let hello = try #require(helloStarted)
        var first = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        var second = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        guard case .send(let firstReply) = try first.receive(hello.span).step else {
            Issue.record("first")
            return
        }
        guard case .established(_, let finished?) = try original.receive(firstReply.span).step else {
            Issue.record("client")
            return
        }
        _ = try second.receive(hello.span) // the replay gets a hello with a different key…
        #expect(throws: TransportError.handshake("client finished message not authenticated")) {
            try second.receive(finished.span) // …and the recorded finished message does not fit it
        }
    }

    @Test("a server makes its key pair only for a hello that proves the realm; the same hello twice is refused")
    func keysOnlyForMembers() throws {
        let record = HelloRecord(capacity: 4)
        func server() -> Handshake {
            Handshake(
                role: .server, secret: realm, identity: .generate(), encrypted: true, hardwareAES: true,
                replays: record)
        }
        var stranger = Handshake(role: .client, secret: .generate(), identity: .generate(), encrypted: true)
        var refusing = server()
        let strangerHello = try #require(stranger.start() as [UInt8]?)
        #expect(throws: TransportError.self) { try refusing.receive(strangerHello.span) }
        #expect(!refusing.madeKeyPair, "no key pair for a stranger")
        var member = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: true)
        let hello = try #require(member.start() as [UInt8]?)
        var answering = server()
        _ = try answering.receive(hello.span)
        #expect(answering.madeKeyPair)
        var again = server()
        #expect(throws: TransportError.handshake("a client hello seen before (a replay)")) {
            try again.receive(hello.span)
        }
        #expect(!again.madeKeyPair)
    }

    @Test(
        "AES-256-GCM only when both ends have it in hardware", arguments: [(true, true), (true, false), (false, true)])
    func algorithmChoice(clientAES: Bool, serverAES: Bool) throws {
        var client = Handshake(
            role: .client, secret: realm, identity: .generate(), encrypted: true, hardwareAES: clientAES)
        var server = Handshake(
            role: .server, secret: realm, identity: .generate(), encrypted: true, hardwareAES: serverAES)
        let (c, s) = try shake(&client, &server)
        let expected: AEAD.Algorithm = clientAES && serverAES ? .aes256gcm : .xchacha20poly1305
        #expect(c.algorithm == expected && s.algorithm == expected)
    }

    @Test("the hardware-AES flag is under the MAC: flipping it is refused")
    func algorithmFlagAuthenticated() throws {
        var client = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: true)
        var server = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        let started = client.start()
        var hello = try #require(started)
        hello[6] ^= 1
        #expect(throws: TransportError.handshake("peer does not hold this realm's secret")) {
            try server.receive(hello.span)
        }
    }

    @Test("encryption is never downgraded: mode mismatches fail both ways")
    func modes() throws {
        var plainClient = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: false)
        var strictServer = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        let plainHello = try #require(plainClient.start() as [UInt8]?)
        #expect(throws: TransportError.handshake("peer asked for plaintext; this side requires encryption")) {
            try strictServer.receive(plainHello.span)
        }
        var cryptoClient = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: true)
        var plainServer = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: false)
        let cryptoHello = try #require(cryptoClient.start() as [UInt8]?)
        #expect(throws: TransportError.handshake("peer asked for encryption; this side is configured for plaintext")) {
            try plainServer.receive(cryptoHello.span)
        }
    }

    @Test("a client that skips the handshake and sends frames is refused")
    func plaintextFrames() {
        var server = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        var frame: [UInt8] = []
        FrameHeader(typeID: 1, bodyLength: 40).write(into: &frame)
        frame += [UInt8](repeating: 0, count: 40)
        #expect {
            try server.receive(frame.span)
        } throws: { error in
            guard case .handshake(let why) = error as? TransportError else { return false }
            return why.hasPrefix("not an ansar handshake (first bytes 41 4e")
        }
    }

    @Test("bytes after the handshake are left for the session")
    func leftover() throws {
        var client = Handshake(role: .client, secret: realm, identity: .generate(), encrypted: true)
        var server = Handshake(role: .server, secret: realm, identity: .generate(), encrypted: true)
        let helloStarted = client.start()
        let hello = try #require(helloStarted)
        guard case .send(let reply) = try server.receive(hello.span).step else {
            Issue.record("reply")
            return
        }
        let (used, step) = try client.receive((reply + [1, 2, 3]).span)
        #expect(used == reply.count)
        guard case .established = step else {
            Issue.record("client established")
            return
        }
    }
}
