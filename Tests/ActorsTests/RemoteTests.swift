import AnsarTestKit
import Reactor
import Testing
import Transport

@testable import Actors

/// Expects `message` to be a `T`, or fails the object with what it was.
func expectType<T: Message>(_ message: any Message, _: T.Type) throws -> T {
    guard let typed = message as? T else {
        throw Faulted("expected \(T.typeName)", explanation: Printing.human(message))
    }
    return typed
}

/// Only ever selected, never sent typed: nothing registers it before its first select.
struct LateArrival: Message {
    var count: Int
    var sender: Address?
}

let retrying = Backoff(initial: .milliseconds(5), maximum: .milliseconds(50))

@Suite("Addresses across processes (runtimes on their own threads, real sockets)")
struct RemoteTests {
    @Test("request and reply over a connection: sender addresses route back, addresses come home")
    func requestReply() throws {
        let endpoint = uniqueEndpoint("rr")
        let server = RuntimeThread { mailbox in
            mailbox.listen(at: endpoint)
            _ = try expectType(try await mailbox.select(Listening.self, timeout: .seconds(5)), Listening.self)
            _ = try expectType(try await mailbox.select(Accepted.self, timeout: .seconds(5)), Accepted.self)
            let hello = try expectType(try await mailbox.select(Hello.self, timeout: .seconds(5)), Hello.self)
            try mailbox.reply(Welcome(myName: "Buster", yourName: hello.name))
            // The client's address, received in a body, and the sender address agree.
            let introduce = try expectType(
                try await mailbox.select(Introduce.self, timeout: .seconds(5)), Introduce.self)
            let sameSender = introduce.who == mailbox.returnAddress
            // Send the client its own address back: it must arrive as the client's local address.
            try mailbox.reply(Introduce(who: introduce.who, others: [mailbox.address]))
            _ = try await mailbox.select(Abandoned.self, timeout: .seconds(5))
            return Seen(events: ["hello \(hello.name)", "same sender \(sameSender)"])
        }
        let client = RuntimeThread { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(5)), Connected.self)
            let server = mailbox.returnAddress
            let welcome = try expectType(
                try await mailbox.ask(Hello(name: "Gladys"), to: server, expecting: Welcome.self, timeout: .seconds(5)),
                Welcome.self)
            try mailbox.send(Introduce(who: mailbox.address, others: []), to: server)
            let back = try expectType(try await mailbox.select(Introduce.self, timeout: .seconds(5)), Introduce.self)
            mailbox.close(server)
            _ = try await mailbox.select(Closed.self, timeout: .seconds(5))
            return Seen(events: [
                "\(welcome.myName) welcomes \(welcome.yourName)", "home \(back.who == mailbox.address)",
                "local \(back.who.isLocal)", "server object \(back.others.first?.isLocal == false)",
            ])
        }
        #expect(
            client.join() as? Seen
                == Seen(events: ["Buster welcomes Gladys", "home true", "local true", "server object true"]))
        #expect(server.join() as? Seen == Seen(events: ["hello Gladys", "same sender true"]))
    }

    @Test("three processes: an address handed on reaches its object through a forwarder, and replies return")
    func multipleHops() throws {
        let hub = uniqueEndpoint("hub")
        // B: the hub. A and C connect to it; B hands A's address to C.
        let b = RuntimeThread { mailbox in
            mailbox.listen(at: hub)
            var a: Address?
            var c: Address?
            var forwarded: Incognito?
            while a == nil || c == nil || forwarded == nil {
                let message = try await mailbox.select(
                    Introduce.self, Hello.self, Incognito.self, Accepted.self, Listening.self, timeout: .seconds(10))
                switch message {
                case let introduce as Introduce: a = introduce.who
                case is Hello: c = mailbox.returnAddress
                case let incognito as Incognito: forwarded = incognito
                case is TimedOut: return Faulted("hub timed out")
                default: break
                }
            }
            // A's address goes to C inside a body; A's unknown message goes to C unchanged.
            try mailbox.send(Introduce(who: a!, others: []), to: c!)
            try mailbox.send(forwarded!, to: c!)
            _ = try await mailbox.select(Finish.self, timeout: .seconds(10))
            return Seen(events: ["hub done"])
        }
        let a = RuntimeThread { mailbox in
            mailbox.connect(to: hub, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(5)), Connected.self)
            let hubAddress = mailbox.returnAddress
            try mailbox.send(Introduce(who: mailbox.address, others: []), to: hubAddress)
            // A type nobody registered: it travels as Incognito, addresses inside still routed.
            try mailbox.send(
                Incognito(typeName: "elsewhere.Thing", fields: .object([("n", .integer(7))])), to: hubAddress)
            let hello = try expectType(try await mailbox.select(Hello.self, timeout: .seconds(10)), Hello.self)
            try mailbox.reply(Welcome(myName: "A", yourName: hello.name))
            _ = try await mailbox.select(Finish.self, timeout: .seconds(10))
            try mailbox.send(Finish(), to: hubAddress)
            return Seen(events: ["hello from \(hello.name)", "via forwarder \(!mailbox.returnAddress.isLocal)"])
        }
        let c = RuntimeThread { mailbox in
            mailbox.connect(to: hub, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(5)), Connected.self)
            try mailbox.send(Hello(name: "C"), to: mailbox.returnAddress)
            let introduce = try expectType(
                try await mailbox.select(Introduce.self, timeout: .seconds(10)), Introduce.self)
            let thing = try expectType(try await mailbox.select(Incognito.self, timeout: .seconds(10)), Incognito.self)
            let welcome = try expectType(
                try await mailbox.ask(
                    Hello(name: "C"), to: introduce.who, expecting: Welcome.self, timeout: .seconds(10)), Welcome.self)
            try mailbox.send(Finish(), to: mailbox.returnAddress) // to A, through the hub
            return Seen(events: ["welcome from \(welcome.myName)", "\(thing.typeName) \(thing.fields)"])
        }
        #expect(c.join() as? Seen == Seen(events: ["welcome from A", #"elsewhere.Thing {"n":7}"#]))
        #expect(a.join() as? Seen == Seen(events: ["hello from C", "via forwarder true"]))
        #expect(b.join() as? Seen == Seen(events: ["hub done"]))
    }

    @Test("a message that arrives before its type is first selected is that type when selected, not Incognito")
    func typeSelectedAfterArrival() throws {
        let endpoint = uniqueEndpoint("late")
        let server = RuntimeThread { mailbox in
            mailbox.listen(at: endpoint)
            // Hello comes after the other message on the same link: that one is held meanwhile,
            // and nothing in this process has registered its type yet.
            _ = try expectType(
                try await mailbox.select(Hello.self, saving: .everything, timeout: .seconds(10)), Hello.self)
            let late = try expectType(
                try await mailbox.select(LateArrival.self, timeout: .seconds(10)), LateArrival.self)
            return Seen(events: ["\(late.count) from the sender \(late.sender == mailbox.returnAddress)"])
        }
        let client = RuntimeThread { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(10)), Connected.self)
            let server = mailbox.returnAddress
            // Sent under LateArrival's name without registering the type anywhere in this process.
            let fields = JSON.object([("count", .integer(7)), ("sender", .null)])
            try mailbox.send(Incognito(typeName: LateArrival.typeName, fields: fields), to: server)
            try mailbox.send(Hello(name: "after"), to: server)
            _ = try await mailbox.select(Abandoned.self, timeout: .seconds(10))
            return Ack()
        }
        #expect(server.join() as? Seen == Seen(events: ["7 from the sender false"]))
        _ = client.join()
    }

    @Test(
        "a peer's Stop, Signalled or Connected is never decoded: its link is closed and the object lives on; one inside another message is dropped; none is sent"
    )
    func localOnlyTypesStayLocal() throws {
        let endpoint = uniqueEndpoint("local-only")
        let hostile: [(String, JSON)] = [
            (Stop.typeName, .object([])), (Signalled.typeName, .object([("signal", .integer(15))])),
            (Connected.typeName, .object([("requested", .string("x")), ("peer", .string("y"))])),
        ]
        let server = RuntimeThread { mailbox in
            mailbox.listen(at: endpoint)
            var closed = 0
            while true {
                let message = try await mailbox.select(
                    Hello.self, Stop.self, Signalled.self, Finish.self, Carrier.self, Closed.self,
                    timeout: .seconds(20))
                switch message {
                case let hello as Hello: try mailbox.reply(Welcome(myName: "server", yourName: hello.name))
                case is Closed: closed += 1
                case is Finish: return Seen(events: ["links closed \(closed)"])
                case is TimedOut: return Faulted("server timed out")
                default: return Faulted("decoded from a peer: \(message)")
                }
            }
        }
        let client = RuntimeThread { mailbox in
            var seen: [String] = []
            for (name, fields) in hostile {
                mailbox.connect(to: endpoint, backoff: retrying)
                _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(5)), Connected.self)
                // To the listener's own object, as a remote Stop to a directory would go.
                guard
                    try sendRaw(
                        from: mailbox, typeName: name, body: Incognito(typeName: name, fields: fields).wireFields)
                else { return Faulted("no link to the server") }
                let ended = try await mailbox.select(Abandoned.self, Closed.self, timeout: .seconds(5))
                seen.append("\(name): \(ended is TimedOut ? "link kept" : "link closed")")
            }
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(5)), Connected.self)
            let server = mailbox.returnAddress
            // Inside another message: the carrier is dropped (its body does not decode), the link stays.
            try mailbox.send(
                Carrier(inner: AnyMessage(Incognito(typeName: Stop.typeName, fields: .object([])))), to: server)
            // And this side sends none: refused before it goes.
            do {
                try mailbox.send(Stop(), to: server)
                seen.append("Stop sent")
            } catch {
                seen.append("\(error)".contains("never crosses a link") ? "Stop refused" : "\(error)")
            }
            let welcome = try await mailbox.ask(
                Hello(name: "still here"), to: server, expecting: Welcome.self, timeout: .seconds(5))
            seen.append((welcome as? Welcome)?.yourName ?? "\(welcome)")
            try mailbox.send(Finish(), to: server)
            return Seen(events: seen)
        }
        #expect(
            client.join() as? Seen
                == Seen(events: hostile.map { "\($0.0): link closed" } + ["Stop refused", "still here"]))
        #expect(server.join() as? Seen == Seen(events: ["links closed 3"]))
    }

    @Test(
        "an address bomb: frames of a type unknown here, up to 65,535 addresses each, take no more than the per-link stand-ins and never the object table"
    )
    func addressBomb() throws {
        let endpoint = uniqueEndpoint("bomb")
        let server = RuntimeThread { mailbox in
            mailbox.listen(at: endpoint)
            while true {
                let message = try await mailbox.select(Hello.self, Finish.self, timeout: .seconds(20))
                switch message {
                case let hello as Hello:
                    // Room for objects of its own, after whatever came over the link.
                    let runtime = mailbox.runtime
                    let made = (0..<10_000).compactMap { _ in runtime.create(Quiet()) }
                    try mailbox.reply(
                        Welcome(
                            myName: "made \(made.count), stand-ins \(runtime.tables.value.forwarderCount)",
                            yourName: hello.name))
                case is Finish: return Ack()
                default: return Faulted("server timed out")
                }
            }
        }
        let client = RuntimeThread { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(5)), Connected.self)
            // One frame within the per-link bound decodes; then frames that would each be fine
            // alone but together fill the table; then one beyond every bound. None may leave its
            // stand-ins behind. (A Hello between the rounds lets the send queue drain.)
            let rounds = [[(1, 3_000)] + (1...16).map { (10_000 * $0, 4_000) }, [(200_000, 65_535)]]
            var seen: [String] = []
            for round in rounds {
                for (first, count) in round {
                    var writer = WireWriter()
                    let list = writer.container(.array)
                    for object in first..<(first + count) {
                        writer.tag(.address)
                        writer.fixed(UInt64(object))
                        writer.bumpCount(at: list)
                    }
                    guard try sendRaw(from: mailbox, typeName: "elsewhere.Addresses", body: writer.bytes) else {
                        return Faulted("no link to the server")
                    }
                }
                let welcome = try expectType(
                    try await mailbox.ask(
                        Hello(name: "after"), to: mailbox.returnAddress, expecting: Welcome.self, timeout: .seconds(10)),
                    Welcome.self)
                seen.append(welcome.myName)
            }
            try mailbox.send(Finish(), to: mailbox.returnAddress)
            return Seen(events: seen)
        }
        let result = client.join()
        #expect(
            result as? Seen == Seen(events: ["made 10000, stand-ins 3000", "made 10000, stand-ins 3000"]), "\(result)")
        #expect(server.join() is Ack)
    }

    @Test(
        "bad input across a connection: an undecodable body is dropped, an unknown object gets NotDelivered, the link survives"
    )
    func badInput() throws {
        let endpoint = uniqueEndpoint("bad")
        let server = RuntimeThread { mailbox in
            mailbox.listen(at: endpoint)
            while true {
                let message = try await mailbox.select(Hello.self, Finish.self, timeout: .seconds(10))
                switch message {
                case let hello as Hello: try mailbox.reply(Welcome(myName: "server", yourName: hello.name))
                case is Finish: return Ack()
                default: return Faulted("server timed out")
                }
            }
        }
        let client = RuntimeThread { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(5)), Connected.self)
            let server = mailbox.returnAddress
            var seen: [String] = []
            // A Hello whose name is a number: framing is fine, the body is not a Hello.
            try mailbox.send(Incognito(typeName: Hello.typeName, fields: .object([("name", .integer(5))])), to: server)
            let welcome = try await mailbox.ask(
                Hello(name: "still here"), to: server, expecting: Welcome.self, timeout: .seconds(5))
            seen.append((welcome as? Welcome)?.yourName ?? "\(welcome)")
            // An object that was never handed out: the server's own identifier with other random bits.
            let forged = Address(object: mailbox.returnAddress.object ^ (0xFFFF << 40), via: mailbox.returnAddress)
            try mailbox.send(Hello(name: "nobody"), to: forged, notifyIfUndelivered: true)
            let notice = try expectType(
                try await mailbox.select(NotDelivered.self, timeout: .seconds(5)), NotDelivered.self)
            seen.append(notice.reason)
            try mailbox.send(Finish(), to: server)
            return Seen(events: seen)
        }
        #expect(client.join() as? Seen == Seen(events: ["still here", "no such object"]))
        #expect(server.join() is Ack)
    }

    /// Streams `total` Pings from one runtime thread to another over a real connection, the
    /// receiver under `limits`: what the sender saw (the count received, or how it ended, and
    /// whether it was refused) and how the receiver ended.
    func stream(_ total: Int, receiverLimits limits: RuntimeLimits) -> (sender: any Message, receiver: any Message) {
        let endpoint = uniqueEndpoint("stream")
        let server = RuntimeThread(limits: limits) { mailbox in
            mailbox.listen(at: endpoint)
            return try await receiveInOrder(mailbox, total: total)
        }
        let client = RuntimeThread { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(5)), Connected.self)
            let server = mailbox.returnAddress
            let refusals = try await sendInOrder(mailbox, total: total, to: server)
            let pong = try await mailbox.select(Pong.self, Abandoned.self, Closed.self, timeout: .seconds(20))
            return Seen(events: [
                (pong as? Pong).map { "received \($0.sequence)" } ?? "\(pong)", "refused \(refusals > 0)",
            ])
        }
        return (client.join(), server.join())
    }

    @Test(
        "back-pressure end to end: a full connection or a spent credit refuses and says Writable later; nothing is lost"
    )
    func backPressure() throws {
        var limits = RuntimeLimits()
        limits.mailbox = 64
        let (sender, receiver) = stream(30_000, receiverLimits: limits)
        #expect(sender as? Seen == Seen(events: ["received 30000", "refused true"]))
        #expect(receiver is Ack)
    }

    @Test(
        "the first message on a fresh connection, nearly as large as the send queue, is not refused for the runtime's own frames queued ahead of it"
    )
    func firstLargeMessage() throws {
        let endpoint = uniqueEndpoint("first-large")
        let size = (1 << 20) - 64 // the default send queue is 1 MiB: the frame fits it, just
        let server = RuntimeThread { mailbox in
            mailbox.listen(at: endpoint)
            let blob = try expectType(try await mailbox.select(Blob.self, timeout: .seconds(20)), Blob.self)
            return Pong(sequence: blob.bytes.count)
        }
        let client = RuntimeThread { mailbox in
            mailbox.connect(to: endpoint, backoff: retrying)
            _ = try expectType(try await mailbox.select(Connected.self, timeout: .seconds(10)), Connected.self)
            // Queued ahead of it in this same turn: our window and the type's declaration.
            do throws(SendRefused) {
                try mailbox.send(Blob(bytes: [UInt8](repeating: 7, count: size)), to: mailbox.returnAddress)
            } catch {
                return Faulted("refused", explanation: "\(error)")
            }
            return Ack()
        }
        #expect(client.join() is Ack, "sent at once")
        #expect((server.join() as? Pong)?.sequence == size)
    }

    @Test("a full run queue closes no connection: what one turn received waits its turn, in order, and nothing is lost")
    func fullRunQueue() throws {
        var limits = RuntimeLimits()
        limits.runQueue = 32 // far less than one loop turn can receive
        let (sender, receiver) = stream(20_000, receiverLimits: limits)
        #expect((sender as? Seen)?.events.first == "received 20000", "\(sender)")
        #expect(receiver is Ack, "\(receiver)")
    }
}
