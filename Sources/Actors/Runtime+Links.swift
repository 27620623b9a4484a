import Logging
import Platform
import Transport

/// One connection to another process, as the runtime sees it. A class: the hot path reads and
/// updates it in place rather than copying its tables.
final class Link {
    /// Its name in addresses.
    let id: LinkID
    let connection: ConnectionID
    /// The local object that listened or connected: frames addressed to 0 go to it.
    let owner: Address
    /// Type identifiers already declared to the peer, and the peer's declarations (with the
    /// Swift type, once known here).
    var declaredOut: Set<UInt32> = []
    var names: [UInt32: (name: String, type: (any Message.Type)?)] = [:]
    /// Forwarders standing in for the peer's objects, by the peer's identifier.
    var forwarders: [UInt64: UInt64] = [:]
    /// Local objects refused with ``SendRefused/linkBusy(_:)``: told ``Writable`` when it drains.
    var refusedSenders: [Address] = []
    /// Per-destination flow control and acknowledgement, both ways.
    let credit: LinkCredit
    /// This process's objects handed to the peer (as senders, or inside messages): with the
    /// link's owner (0) and the exposed ones, all the peer may address. An identifier learned
    /// elsewhere, or guessed, reaches nothing.
    var granted: Set<UInt64> = []
    /// The last identifier granted: a stream from one sender costs one comparison.
    var lastGranted: UInt64 = 0
    /// Frames that named an object not granted: past ``Runtime/missesBeforeClose`` the link goes.
    var misses = 0

    init(id: LinkID, connection: ConnectionID, owner: Address, window: Int) {
        self.id = id
        self.connection = connection
        self.owner = owner
        credit = LinkCredit(link: connection, window: window)
    }
}

extension FrameHeader.Flags {
    /// The return address names an object of the receiving process (it is coming home).
    static let returnHome = FrameHeader.Flags(rawValue: 1 << 4)
    /// The sender wants ``NotDelivered`` if the message cannot be delivered.
    static let notifyUndelivered = FrameHeader.Flags(rawValue: 1 << 5)
}

/// The actor layer's frames: typeID 0 declares a type (destination = its identifier, body = its
/// name) before the first message of that type on a connection; any other typeID is a message
/// whose body is its fields in the ``WireTag`` form.
extension Runtime: AddressTranslator, AddressResolver {
    static let declarationType: UInt32 = 0
    static let maximumTypeName = 512

    // MARK: - Opening and closing

    func listen(at address: SocketAddress, owner: Address) -> ListenerID {
        let id = connections.listen(on: address)
        listenerOwners[id] = (owner, address)
        return id
    }

    func connect(
        to address: SocketAddress, backoff: Backoff?, deadline: Duration?, preface: [UInt8], role: Handshake.Role,
        expecting: PeerIdentity?, owner: Address
    ) -> ConnectorID {
        let id = connections.connect(
            to: address, deadline: deadline, backoff: backoff, preface: preface, role: role, expecting: expecting)
        connectorOwners[id] = (owner, address)
        return id
    }

    func linkEvent(_ event: TransportEvent) {
        switch event {
        case .listening(let id, let bound):
            guard let (owner, requested) = listenerOwners[id] else { return }
            post(Listening(requested: requested, address: bound), to: owner.object, from: .none)
        case .notListening(let id, let requested, let error):
            guard let (owner, _) = listenerOwners[id] else { return }
            post(NotListening(requested: requested, reason: "\(error)"), to: owner.object, from: .none)
        case .accepted(let connection, let listener):
            guard let (owner, requested) = listenerOwners[listener] else { return connections.close(connection) }
            let link = openLink(connection, owner: owner)
            post(
                Accepted(
                    listening: requested, peer: endpoint(of: connection, peer: true),
                    local: endpoint(of: connection, peer: false),
                    peerProcess: (try? connections.reactor.peerCredentials(of: connection.socket))??.process,
                    peerIdentity: connections.peerIdentity(of: connection)!),
                to: owner.object, from: .owner(of: link.id, runtime: index))
        case .connected(let connection, let connector):
            guard let (owner, requested) = connectorOwners[connector] else { return connections.close(connection) }
            let link = openLink(connection, owner: owner)
            post(
                Connected(
                    requested: requested, local: endpoint(of: connection, peer: false),
                    connector: connector, peerIdentity: connections.peerIdentity(of: connection)!), to: owner.object,
                from: .owner(of: link.id, runtime: index))
        case .notConnected(let connector, let reason, let retryIn):
            guard let (owner, requested) = connectorOwners[connector] else { return }
            if retryIn == nil { connectorOwners[connector] = nil }
            let seconds = retryIn.map { Double($0.nanosecondsClamped) / 1e9 }
            post(
                NotConnected(
                    requested: requested, reason: reason.description, retryInSeconds: seconds,
                    connector: connector), to: owner.object, from: .none)
        case .closed(let connection, let reason):
            guard let link = endLink(connection) else { return }
            let unconfirmed = account(link, reason: reason.description)
            post(
                Closed(reason: reason.description, unconfirmed: unconfirmed), to: link.owner.object,
                from: .owner(of: link.id, runtime: index))
        case .abandoned(let connection, let reason):
            guard let link = endLink(connection) else { return }
            let unconfirmed = account(link, reason: reason.description)
            post(
                Abandoned(reason: reason.description, unconfirmed: unconfirmed), to: link.owner.object,
                from: .owner(of: link.id, runtime: index))
        case .writable(let connection):
            guard let link = link(connection) else { return }
            tellWritable(link.refusedSenders, from: .owner(of: link.id, runtime: index))
            link.refusedSenders.removeAll()
        }
    }

    private func openLink(_ connection: ConnectionID, owner: Address) -> Link {
        tables.value.lastLinkID += 1
        let id = LinkID(value: tables.value.lastLinkID)
        let link = Link(
            id: id, connection: connection, owner: owner, window: max(limits.linkCredit, LinkCredit.initialWindow))
        tables.value.links[connection.socket.index] = link
        tables.value.linksByID[id] = link
        // Say our window at once: until then the peer assumes the protocol's initial one.
        sendCredit(on: link, body: [])
        return link
    }

    /// Tells refused senders there is room again (`from`: the connection's owner, or the
    /// destination whose credit came back).
    private func tellWritable(_ senders: [Address], from: Address) {
        for sender in senders {
            guard sender.runtime != index else {
                post(Writable(), to: sender.object, from: from)
                continue
            }
            // A sender on another thread, refused when its message got here: through its inbox.
            do throws(SendRefused) {
                try deliver(Writable(), to: sender, from: from, notifyIfUndelivered: false, enforceMailbox: false)
            } catch {
                logger.warning(
                    "Writable not told across threads", metadata: ["sender": "\(sender)", "reason": "\(error)"])
            }
        }
    }

    /// A lost link's messages the peer never confirmed: each sender is told its own
    /// (``NotConfirmed``, per destination), and the owner's event carries them all.
    private func account(_ link: Link, reason: String) -> [UnconfirmedMessages] {
        let from = Address.owner(of: link.id, runtime: index)
        var all: [UnconfirmedMessages] = []
        for (sender, destination, count) in link.credit.unconfirmed() {
            let entry = UnconfirmedMessages(
                sender: sender, destination: Address(object: destination, link: link.id, runtime: index), count: count)
            all.append(entry)
            do throws(SendRefused) {
                try deliver(
                    NotConfirmed(destination: entry.destination, count: count, reason: reason), to: sender, from: from,
                    notifyIfUndelivered: false,
                    enforceMailbox: false)
            } catch {
                logger.warning(
                    "sender not told of unconfirmed messages",
                    metadata: ["sender": "\(sender)", "count": "\(count)", "reason": "\(error)"])
            }
        }
        if !all.isEmpty {
            // Debug only: the senders are told, and a peer that exits usually leaves a few.
            logger.debug(
                "connection ended with messages unconfirmed",
                metadata: [
                    "link": "\(link.id)", "messages": "\(all.reduce(0) { $0 + $1.count })", "reason": "\(reason)",
                ])
        }
        return all
    }

    /// One end of a TCP connection; nil for Unix sockets, whose ends have no useful name.
    private func endpoint(of connection: ConnectionID, peer: Bool) -> SocketAddress? {
        let reactor = connections.reactor
        guard
            let address = try?
                (peer ? reactor.peerAddress(of: connection.socket) : reactor.localAddress(of: connection.socket)),
            address.isTCP
        else { return nil }
        return address
    }

    /// Forgets a connection and the forwarders that went through it.
    private func endLink(_ connection: ConnectionID) -> Link? {
        guard let link = tables.value.links[connection.socket.index], link.connection == connection else { return nil }
        tables.value.links[connection.socket.index] = nil
        tables.value.linksByID[link.id] = nil
        pausedLinks.removeAll { $0 == connection }
        releaseForwarders(link.forwarders.keys, of: link)
        return link
    }

    /// Lets go of the forwarders standing in for these of `link`'s objects.
    private func releaseForwarders(_ peerObjects: some Sequence<UInt64>, of link: Link) {
        for peerObject in Array(peerObjects) {
            guard let forwarder = link.forwarders.removeValue(forKey: peerObject) else { continue }
            tables.value.forwarderCount -= 1
            if let slot = slot(of: forwarder) { release(slot) }
        }
    }

    private func link(_ connection: ConnectionID) -> Link? {
        guard let link = tables.value.links[connection.socket.index], link.connection == connection else { return nil }
        return link
    }

    func link(_ id: LinkID) -> Link? { tables.value.linksByID[id] }

    // MARK: - Sending

    func sendRemote(
        _ message: any Message, to address: Address, over id: LinkID, from sender: Address, notifyIfUndelivered: Bool
    ) throws(SendRefused) {
        // Refused, not dropped: a sender learns at once what cannot go.
        guard let state = link(id) else { throw .linkClosed(address) }
        guard let credit = state.credit.mayGo(to: address.object, waiting: sender) else { throw .linkBusy(address) }
        let (name, typeID, localOnly) = identity(of: message)
        guard !localOnly else {
            throw .unencodable("\(name) is made by the runtime for objects of its own process: it never crosses a link")
        }
        if !state.declaredOut.contains(typeID) {
            do throws(Transport.FrameRefused) {
                try connections.send(
                    FrameHeader(typeID: Self.declarationType, bodyLength: 0, destination: UInt64(typeID)),
                    body: Array(name.utf8), on: state.connection)
            } catch {
                try refusal(error, message, address, sender, notifyIfUndelivered)
                return
            }
            state.declaredOut.insert(typeID)
        }
        tables.value.codingLink = state
        defer { tables.value.codingLink = nil }
        var header = FrameHeader(typeID: typeID, bodyLength: 0, destination: address.object)
        do {
            var buffer: [UInt8] = []
            swap(&buffer, &tables.value.scratch) // the writer takes the storage whole, with no copy
            var writer = MessageWriter(reusing: consume buffer, translator: self)
            try message.writeFields(to: &writer)
            tables.value.scratch = writer.finish()
            let (tag, value) = try wire(sender)
            header.returnAddress = value
            if tag == .returningAddress { header.flags.insert(.returnHome) }
        } catch {
            throw .unencodable("\(error)")
        }
        if notifyIfUndelivered { header.flags.insert(.notifyUndelivered) }
        do throws(Transport.FrameRefused) {
            try connections.send(header, body: tables.value.scratch, on: state.connection)
        } catch {
            try refusal(error, message, address, sender, notifyIfUndelivered)
            return
        }
        credit.sent(by: sender)
    }

    private func refusal(
        _ error: Transport.FrameRefused, _ message: any Message, _ address: Address, _ sender: Address, _ notify: Bool
    ) throws(SendRefused) {
        switch error {
        case .wouldBlock:
            if let id = address.link, sender.isLocal, let link = link(id), !link.refusedSenders.contains(sender) {
                link.refusedSenders.append(sender)
            }
            throw .linkBusy(address)
        case .tooLarge(let size): throw .tooLarge(size)
        case .closed: throw .linkClosed(address)
        }
    }

    /// The wire name and identifier of a message's type, registering it on first use, and whether
    /// it is a ``LocalOnlyMessage``.
    private func identity(of message: any Message) -> (String, UInt32, localOnly: Bool) {
        // A metadata comparison first: a dynamic cast on every message showed in profiles.
        let key = ObjectIdentifier(type(of: message))
        if let known = tables.value.typeCache[key] { return (known.name, known.id, known.localOnly) }
        if let incognito = message as? Incognito {
            let localOnly =
                if case .localOnly = MessageRegistry.wireType(named: incognito.typeName) { true } else { false }
            return (incognito.typeName, MessageType.identifier(of: incognito.typeName), localOnly)
        }
        if let entry = MessageRegistry.entry(for: type(of: message)) {
            tables.value.typeCache[key] = entry
            return (entry.name, entry.id, entry.localOnly)
        }
        // Its identifier clashes with another type's: it still travels, and arrives as Incognito.
        let name = type(of: message).typeName
        logger.warning("message type identifier clash", metadata: ["type": "\(name)"])
        return (name, MessageType.identifier(of: name), message is any LocalOnlyMessage)
    }

    func wire(_ address: Address) throws(WireError) -> (WireTag, UInt64) {
        var address = address
        if address.isLocal, let slot = slot(of: address.object),
            case .forwarder(let forwarder) = tables.value.entries[slot].kind
        {
            address = forwarder.target
        }
        guard let link = address.link else {
            grant(address.object)
            return (.address, address.object)
        }
        if link == tables.value.codingLink?.id { return (.returningAddress, address.object) }
        let local = try localIdentifier(for: address)
        grant(local)
        return (.address, local)
    }

    /// The peer of the link being encoded for may address `object` from now on.
    private func grant(_ object: UInt64) {
        guard let state = tables.value.codingLink, object != 0, object != state.lastGranted else { return }
        state.lastGranted = object
        guard state.granted.insert(object).inserted, state.granted.count > limits.objects else { return }
        // Bounded by the living: identifiers of objects that ended are forgotten.
        state.granted = state.granted.filter { slot(of: $0) != nil }
    }

    /// Whether the peer of `state` may address this process's `object`.
    func mayAddress(_ object: UInt64, over state: Link) -> Bool {
        object == 0 || object == state.lastGranted || state.granted.contains(object)
            || tables.value.exposed.contains(object)
    }

    /// Frames naming objects not granted, per link, before the link is closed.
    static let missesBeforeClose = 64

    /// A frame named an object not granted to its link: dropped, and counted.
    private func missed(_ object: UInt64, over state: Link) {
        state.misses += 1
        logger.debug(
            "message dropped: addresses an object not handed to that link",
            metadata: ["link": "\(state.connection)", "object": "\(object)"])
        guard state.misses == Self.missesBeforeClose else { return }
        logger.warning(
            "closing connection: the peer keeps addressing objects it was never given",
            metadata: ["link": "\(state.connection)", "misses": "\(state.misses)"])
        connections.close(state.connection, graceful: false)
    }

    /// A local identifier standing in for `address` (beyond another connection); 0 if that
    /// connection is gone, or holds ``RuntimeLimits/forwardersPerLink`` stand-ins already, or the
    /// table is full, so that sends to it are dropped.
    func forwarder(for address: Address) -> UInt64 {
        guard let id = address.link, let state = link(id) else { return 0 }
        if let existing = state.forwarders[address.object], slot(of: existing) != nil { return existing }
        guard state.forwarders.count < limits.forwardersPerLink, tables.value.forwarderCount < limits.objects / 2,
            let forwarder = allocate(.forwarder(Forwarder(address)), parent: .none)
        else { return 0 }
        state.forwarders[address.object] = forwarder.object
        tables.value.forwarderCount += 1
        if tables.value.codingLink === state { tables.value.decodingForwarders.append(address.object) }
        return forwarder.object
    }

    // MARK: - Receiving

    func address(_ tag: WireTag, _ value: UInt64) throws(WireError) -> Address {
        guard let link = tables.value.codingLink else { return Address(local: value) }
        if tag == .returningAddress {
            guard mayAddress(value, over: link) else {
                throw WireError(path: "", problem: "an address of this process that was never handed to that link")
            }
            return value == 0 ? link.owner : Address(local: value)
        }
        return value == 0 ? .none : Address(object: value, link: link.id, runtime: index)
    }

    func localIdentifier(for address: Address) throws(WireError) -> UInt64 {
        if address.isLocal { return address.object }
        let forwarder = forwarder(for: address)
        guard forwarder != 0 || address.link.flatMap(link) == nil else {
            throw WireError(
                path: "",
                problem: "more addresses of that connection's objects than this process keeps stand-ins for "
                    + "(\(limits.forwardersPerLink) per connection, or the object table is full)")
        }
        return forwarder
    }

    func received(_ header: FrameHeader, body: Span<UInt8>, on connection: ConnectionID) {
        guard let state = link(connection) else { return }
        if header.typeID == Self.declarationType {
            if header.destination == 0 {
                credited(header, body, on: state)
            } else {
                declare(header, body, on: state)
            }
            return
        }
        guard let credit = state.credit.received(for: header.destination) else {
            logger.warning(
                "closing connection: peer sent beyond its credit",
                metadata: [
                    "link": "\(connection)", "object": "\(header.destination)", "window": "\(state.credit.window)",
                ])
            connections.close(connection, graceful: false)
            return
        }
        // Settled now unless it is queued for a local object, which settles it when it takes it.
        var queued = false
        defer { if !queued { settle(credit) } }
        guard var declared = state.names[header.typeID] else {
            logger.warning(
                "message dropped: type not declared", metadata: ["link": "\(connection)", "type": "\(header.typeID)"])
            return
        }
        if declared.type == nil {
            switch MessageRegistry.wireType(named: declared.name) {
            case .unknown: break
            case .known(let known):
                // Registered since it was declared: remember it.
                declared.type = known
                state.names[header.typeID] = declared
            case .localOnly:
                // A layer registered its local-only types after the peer declared this one.
                return closeForLocalOnly(state, declared.name)
            }
        }
        // One buffer serves every frame: the decoder lets go of it before the next.
        tables.value.receiveBuffer.removeAll(keepingCapacity: true)
        tables.value.receiveBuffer.append(span: body)
        let bytes = tables.value.receiveBuffer
        tables.value.codingLink = state
        tables.value.decodingForwarders.removeAll(keepingCapacity: true)
        defer { tables.value.codingLink = nil }
        let message: any Message
        do {
            if let type = declared.type {
                message = try decodeKnown(type, bytes)
            } else {
                message = try Incognito(checking: bytes, typeName: declared.name, resolver: self)
            }
        } catch {
            releaseForwarders(tables.value.decodingForwarders, of: state)
            // What a peer sent, so bounded: a few lines a second, each of a few hundred bytes.
            if case .write(let dropped) = tables.value.undecodableLog.admit() {
                var metadata: Logger.Metadata = [
                    "link": "\(connection)", "type": "\(LogBudget.shown(declared.name))",
                    "reason": "\(LogBudget.shown("\(error)"))",
                ]
                if dropped > 0 { metadata["lines not logged"] = "\(dropped)" }
                logger.warning("message dropped: body does not decode", metadata: metadata)
            }
            return
        }
        var sender = Address.none
        if header.returnAddress != 0 || header.flags.contains(.returnHome) {
            sender =
                (try? address(header.flags.contains(.returnHome) ? .returningAddress : .address, header.returnAddress))
                ?? .none
        }
        guard mayAddress(header.destination, over: state) else {
            // Told apart from a missing object by nothing the peer can see.
            missed(header.destination, over: state)
            let notify = header.flags.contains(.notifyUndelivered)
            return undeliverable(
                message, to: Address(local: header.destination), from: sender, notify: notify, reason: "no such object")
        }
        let destination = header.destination == 0 ? state.owner : Address(local: header.destination)
        let notify = header.flags.contains(.notifyUndelivered)
        do throws(SendRefused) {
            queued = try deliver(
                message, to: destination, from: sender, notifyIfUndelivered: notify, enforceMailbox: false,
                holdIfFull: true, credit: credit)
        } catch {
            // A full run queue holds the message (see `overflow`); what is refused here was on its
            // way on, through another connection or thread that is busy. It goes back to its
            // sender; the link it came over stays up.
            logger.warning(
                "forwarded message refused",
                metadata: ["link": "\(connection)", "to": "\(destination)", "reason": "\(error)"])
            undeliverable(message, to: destination, from: sender, notify: notify, reason: "\(error)")
        }
        pauseIfOverloaded(connection)
    }

    /// A credit frame from the peer: room for senders that waited.
    private func credited(_ header: FrameHeader, _ body: Span<UInt8>, on state: Link) {
        do throws(LinkCredit.Violation) {
            let writable = try state.credit.granted(window: header.returnAddress, grants: body)
            // From the connection's owner: the credit of one destination or another came back.
            if !writable.isEmpty { tellWritable(writable, from: .owner(of: state.id, runtime: index)) }
        } catch {
            logger.warning(
                "closing connection: bad credit frame", metadata: ["link": "\(state.connection)", "reason": "\(error)"])
            connections.close(state.connection, graceful: false)
        }
    }

    // MARK: - Credit

    /// A message the peer sent has been taken by its object, or otherwise dealt with: its credit
    /// goes back at the end of the turn.
    @inline(__always)
    func settle(_ credit: InboundCredit) {
        credit.due += 1
        if !credit.listed {
            credit.listed = true
            creditsDue.append(credit)
        }
    }

    /// Grants back what objects took this turn, one frame per connection. An object that holds
    /// as many messages as its mailbox allows (a sequential object not selecting, a machine
    /// saving) gets its grants later, when it has worked some off.
    func grantCredit() {
        guard !creditsDue.isEmpty else { return }
        if creditsDue.contains(where: { $0.link != creditsDue[0].link }) {
            creditsDue.sort { $0.link.socket.index < $1.link.socket.index }
        }
        var kept = 0
        var start = 0
        var frameFull = false
        while start < creditsDue.count {
            var end = start + 1
            while end < creditsDue.count && creditsDue[end].link == creditsDue[start].link { end += 1 }
            guard let link = link(creditsDue[start].link) else {
                for credit in creditsDue[start..<end] { credit.listed = false } // the link is gone
                start = end
                continue
            }
            // Reused buffers, taken whole (a copy would allocate on every turn).
            var body: [UInt8] = []
            swap(&body, &tables.value.creditScratch)
            body.removeAll(keepingCapacity: true)
            var granted: [InboundCredit] = []
            swap(&granted, &creditBatch)
            granted.removeAll(keepingCapacity: true)
            var index = start
            while index < end {
                let credit = creditsDue[index]
                index += 1
                if isBacklogged(credit.destination, of: link) || granted.count >= LinkCredit.grantsPerFrame {
                    frameFull = frameFull || granted.count >= LinkCredit.grantsPerFrame
                    creditsDue[kept] = credit
                    kept += 1
                    continue
                }
                CreditFrame.append(destination: credit.destination, count: credit.due, to: &body)
                granted.append(credit)
            }
            if !granted.isEmpty {
                if sendCredit(on: link, body: body) {
                    for credit in granted {
                        credit.ungranted -= credit.due
                        credit.due = 0
                        credit.listed = false
                    }
                } else {
                    for credit in granted {
                        creditsDue[kept] = credit
                        kept += 1
                    }
                }
            }
            granted.removeAll(keepingCapacity: true)
            swap(&granted, &creditBatch)
            swap(&body, &tables.value.creditScratch)
            start = end
        }
        // What was kept back is granted on a later turn: after the object works some off, or the
        // connection's queue drains (each is a turn of its own; no need to spin for it), or —
        // past a frame's worth of grants — at once.
        creditsDue.removeSubrange(kept...)
        if frameFull { reactor.skipNextWait() }
    }

    private func isBacklogged(_ destination: UInt64, of link: Link) -> Bool {
        let object = destination == 0 ? link.owner.object : destination
        guard let slot = slot(of: object) else { return false }
        return tables.value.entries[slot].queued >= limits.mailbox
    }

    /// Sends a credit frame; false if the connection's queue refused it (tried again next turn).
    @discardableResult
    private func sendCredit(on link: Link, body: [UInt8]) -> Bool {
        do throws(Transport.FrameRefused) {
            try connections.send(CreditFrame.header(window: link.credit.window), body: body, on: link.connection)
            return true
        } catch {
            return error == .closed
        }
    }

    private func declare(_ header: FrameHeader, _ body: Span<UInt8>, on state: Link) {
        var bytes: [UInt8] = []
        bytes.append(span: body)
        let name = String(decoding: bytes, as: UTF8.self)
        let id = UInt32(truncatingIfNeeded: header.destination)
        guard body.count <= Self.maximumTypeName, id == MessageType.identifier(of: name), id != Self.declarationType
        else {
            logger.warning(
                "type declaration ignored: name and identifier disagree",
                metadata: ["link": "\(state.id)", "name": "\(name.prefix(64))"])
            return
        }
        guard state.names.count < limits.typesPerLink || state.names[id] != nil else {
            logger.warning(
                "type declaration ignored: too many types",
                metadata: ["link": "\(state.id)", "limit": "\(limits.typesPerLink)"])
            return
        }
        switch MessageRegistry.wireType(named: name) {
        case .unknown: state.names[id] = (name, nil)
        case .known(let type): state.names[id] = (name, type)
        case .localOnly: closeForLocalOnly(state, name)
        }
    }

    /// Only this process's runtime makes a ``LocalOnlyMessage`` (Stop, Completed, Connected …): a
    /// peer that declares or sends one is not a peer to keep.
    private func closeForLocalOnly(_ state: Link, _ name: String) {
        logger.warning(
            "closing connection: peer declared a message only the runtime makes",
            metadata: ["link": "\(state.id)", "type": "\(name)"])
        connections.close(state.connection, graceful: false)
    }

    private func decodeKnown<T: Message>(_ type: T.Type, _ bytes: [UInt8]) throws -> any Message {
        var reader = try MessageReader(bytes, resolver: self)
        return try T(fields: &reader)
    }

    // MARK: - Back-pressure

    /// A process whose run queue is three-quarters full stops reading its connections until it
    /// catches up: the peers' sends then back up into their own refusals, never a drop. A slow
    /// object alone never pauses a connection: its credit runs out instead (see ``LinkCredit``).
    private func pauseIfOverloaded(_ connection: ConnectionID) {
        guard tables.value.queue.count >= tables.value.queue.capacity * 3 / 4 || !tables.value.overflow.isEmpty,
            !pausedLinks.contains(connection)
        else { return }
        connections.pauseReceiving(connection)
        pausedLinks.append(connection)
    }

    func resumePausedLinks() {
        guard !pausedLinks.isEmpty, tables.value.overflow.isEmpty,
            tables.value.queue.count < tables.value.queue.capacity / 2
        else { return }
        for link in pausedLinks { connections.resumeReceiving(link) }
        pausedLinks.removeAll()
    }
}
