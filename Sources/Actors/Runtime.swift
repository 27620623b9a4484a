import Cryptography
import Logging
import Platform
import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// Bounds of one runtime. Every queue has one; exceeding it is a refusal the sender sees.
public struct RuntimeLimits: Sendable {
    /// Objects (and forwarders) alive at once; at most 2^24.
    public var objects = 65_536
    /// Messages waiting for one object (queued, or held by a sequential object); a send beyond
    /// it is refused with ``SendRefused/mailboxFull(_:)``.
    public var mailbox = 8_192
    /// Messages waiting in the runtime's run queue, all objects together.
    public var runQueue = 65_536
    /// Messages dispatched before the loop looks at the network again.
    public var messagesPerTurn = 4_096
    /// How long handlers may run before the loop looks at the network again, however few messages
    /// that is: keep-alive probes, answers and other links are served at least this often while
    /// objects work through a backlog (the clock is read every 64 messages).
    public var turnDuration = Duration.milliseconds(5)
    /// Message types one connection may declare.
    public var typesPerLink = 4_096
    /// Stand-ins (forwarders) this process keeps for one connection's remote objects, each an
    /// object-table slot until the connection ends: made for the addresses inside a message of a
    /// type unknown here (an ``Incognito``) and for addresses handed on to a third process. A
    /// message that would need more is dropped (logged), and what it made is let go, so no peer
    /// can fill the object table with frames of addresses. All connections together never hold
    /// more than half of ``objects``: this process can always create objects of its own.
    public var forwardersPerLink = 4_096
    /// Messages a peer may have outstanding for one object of this process (sent, and not yet
    /// taken by the object): its flow-control window, granted back as the object takes them.
    /// Told to the peer when the connection opens; a peer that sends beyond it is closed. At
    /// least 256, what a peer may send before it has heard the window.
    public var linkCredit = 4_096
    /// Messages other threads may have in flight to this runtime.
    public var crossThreadQueue = 65_536

    public init() {}
}

/// A message handed to another thread's runtime, with what its sender asked for.
struct Posted: Sendable {
    let to: Address
    let from: Address
    var message: any Message
    let notifyIfUndelivered: Bool
}

/// A message an object holds for later (a sequential object's, a machine's saved one), with what
/// its sender asked for.
struct HeldMessage {
    var message: any Message
    let from: Address
    let notifyIfUndelivered: Bool
    /// A peer's message held by a sequential object: settled when the object takes it.
    var credit: InboundCredit? = nil
}

/// Why a send was refused. Nothing was queued; the message is still the sender's.
public enum SendRefused: Error, Equatable, Sendable, CustomStringConvertible {
    /// The receiving object has ``RuntimeLimits/mailbox`` messages waiting.
    case mailboxFull(Address)
    /// The runtime's run queue is full.
    case runQueueFull
    /// The connection the address routes through has a full send queue; the sender receives
    /// ``Writable`` when it drains.
    case linkBusy(Address)
    /// The receiving object runs on another thread whose inbox
    /// (``RuntimeLimits/crossThreadQueue``) is full; try again shortly.
    case threadBusy(Address)
    /// The message's encoding is over the transport's frame limit.
    case tooLarge(Int)
    /// The message could not be encoded.
    case unencodable(String)
    /// The connection the address routes through is gone (lost or closed): nothing can reach
    /// the object through it any more.
    case linkClosed(Address)

    public var description: String {
        switch self {
        case .mailboxFull(let address): return "mailbox of \(address) is full"
        case .runQueueFull: return "run queue is full"
        case .linkBusy(let address): return "connection to \(address) is busy"
        case .threadBusy(let address): return "inbox of the thread of \(address) is full"
        case .tooLarge(let size): return "message of \(size) bytes is over the frame limit"
        case .unencodable(let reason): return "message cannot be encoded: \(reason)"
        case .linkClosed(let address): return "connection to \(address) is gone"
        }
    }
}

/// One queued delivery.
struct Envelope {
    var to: UInt64
    var from: Address
    var message: any Message
    var notifyIfUndelivered: Bool
    /// A peer's message: the account its taking settles (see ``LinkCredit``).
    var credit: InboundCredit? = nil
}

/// Runs objects on one reactor thread: their table, the run queue, timers and connections to
/// other processes. Everything here happens on that thread, with no lock; other threads reach it
/// through ``handle``.
public final class Runtime: @unchecked Sendable {
    // Confined to the reactor thread (checked by the reactor); the unchecked Sendable lets tasks
    // running on that same thread, through `executor`, hold a reference.

    public let reactor: Reactor
    public let limits: RuntimeLimits
    /// This runtime's number in the process (``RuntimeRegistry``), part of every identifier.
    let index: Int
    let connections: Connections
    /// Who this runtime's links prove it is (``TransportConfiguration/identity``).
    public var identity: PeerIdentity { connections.identity.publicKey }
    let executor: ReactorExecutor
    /// The objects' timers, apart from the transport's.
    let timerSpace: TimerSpace
    /// Where the runtime, and the layers above it, log.
    public let logger: Logger

    struct Entry {
        var id: UInt64 = 0
        var kind: Kind = .free
        var parent: Address = .none
        /// Messages waiting for this object.
        var queued = 0
        /// Set when the object has completed; the slot is freed once the current dispatch returns.
        var ended = false
    }

    /// A forwarder's target, boxed so that table entries stay one word of payload.
    final class Forwarder {
        let target: Address
        init(_ target: Address) { self.target = target }
    }

    enum Kind {
        case free
        case handler(any Object)
        case sequential(Mailbox)
        /// Stands in for an address beyond a connection, for peers that cannot reach it directly.
        case forwarder(Forwarder)
    }

    /// The per-message tables, in a box whose accesses skip dynamic exclusivity checks (measured:
    /// a third of local dispatch). Sound because the runtime is confined to its thread and no
    /// access to them spans a call into an object.
    struct Tables {
        var entries: [Entry]
        var freeSlots: [Int]
        var queue: Ring<Envelope>
        /// Messages that met a full run queue but may not be refused: the runtime's own (Abandoned,
        /// timers, Writable…) and those of producers bounded elsewhere (a connection, which is paused
        /// meanwhile, so at most what one loop turn received). They enter the queue, in order,
        /// ahead of anything new; nothing is lost to a full queue.
        var overflow: [Envelope] = []
        /// Connections to other processes, by socket index (for what arrives on them) and by
        /// ``LinkID`` (for what is sent to addresses).
        var links: [Int: Link] = [:]
        var linksByID: [LinkID: Link] = [:]
        /// The last ``LinkID`` handed out; never reused.
        var lastLinkID: UInt64 = 0
        /// The connection being encoded for or decoded from, for address translation.
        var codingLink: Link?
        /// Forwarders alive, over every connection: at most half the object table.
        var forwarderCount = 0
        /// Forwarders made while decoding the current frame (peer object ids on `codingLink`),
        /// released if the frame is dropped.
        var decodingForwarders: [UInt64] = []
        /// Objects any link may address: published services, whose numbers peers learn from
        /// directories rather than from this process (``Context/expose(_:)``).
        var exposed: Set<UInt64> = []
        var typeCache: [ObjectIdentifier: MessageType] = [:]
        /// Reused buffers for encoding frames and for the body being decoded.
        var scratch: [UInt8] = []
        var receiveBuffer: [UInt8] = []
        var creditScratch: [UInt8] = []
        /// Lines for frames whose body does not decode (a hostile peer may send them all day).
        var undecodableLog = LogBudget()
    }
    let tables: Confined<Tables>
    private var identifiers = RandomIdentifiers()
    /// The main object of ``run(_:)`` and what it completed with.
    var main: Address = .none
    var mainResult: (any Message)?
    var stopSignals = 0
    let inbox: Inbox<Posted>
    var inboxBatch: [Posted] = []
    /// Cross-thread messages taken from the inbox that the full run queue could not take yet.
    var inboxCarry = 0
    var timers: [TimerKey: TimerRecord] = [:]
    var timerTags: [UInt64: TimerKey] = [:]
    var nextTimerTag: UInt64 = 1
    var listenerOwners: [ListenerID: (owner: Address, address: SocketAddress)] = [:]
    var connectorOwners: [ConnectorID: (owner: Address, address: SocketAddress)] = [:]
    /// The objects that opened datagram sockets (``Context/openDatagramSocket(port:)``).
    var datagramOwners: [SocketID: Address] = [:]
    /// Connections not being read until the run queue drains.
    var pausedLinks: [ConnectionID] = []
    /// Peers' messages settled this turn whose credit is still to be granted back.
    var creditsDue: [InboundCredit] = []
    /// Reused by ``grantCredit()``.
    var creditBatch: [InboundCredit] = []
    /// Objects to tell (``Ended``) when an object ends, by the watched identifier.
    var watchers: [UInt64: [Address]] = [:]
    /// Signals besides SIGINT and SIGTERM that ``run(_:)`` delivers to the main object as
    /// ``Signalled`` (SIGCHLD, for a process that runs children). Set before `run`.
    public var extraSignals: [Int32] = []
    /// The signal (SIGINT or SIGTERM) that asked the main object to stop, if one did: a program
    /// that ends because of it exits 128 + that number, as shells expect.
    public internal(set) var stopSignal: Int32?
    /// What layers above keep per runtime, one value per type (see ``attachment(_:orMake:)``).
    var attachments: [ObjectIdentifier: AnyObject] = [:]
    /// When the current turn's handler time is up.
    var turnEnds = Deadline(nanoseconds: 0)
    /// Messages machines saved for a later state.
    var saved: [UInt64: [HeldMessage]] = [:]

    /// A runtime on `reactor` (and its thread). Connections between processes need both ends to
    /// hold the same realm secret in `transport`. The connections log to `transportLogger`, else to
    /// `logger`.
    public init(
        reactor: Reactor, transport: TransportConfiguration = TransportConfiguration(secret: .generate()),
        limits: RuntimeLimits = RuntimeLimits(), logger: Logger = Logger(label: "ansar.actors"),
        transportLogger: Logger? = nil
    ) {
        precondition(limits.objects > 1 && limits.objects <= 1 << 24, "RuntimeLimits.objects must be in 2...2^24")
        self.reactor = reactor
        self.limits = limits
        self.logger = logger
        connections = Connections(reactor: reactor, configuration: transport, logger: transportLogger ?? logger)
        timerSpace = reactor.newTimerSpace()
        executor = ReactorExecutor(waking: reactor.waker)
        inbox = Inbox(capacity: limits.crossThreadQueue, waking: reactor.waker)
        guard let index = RuntimeRegistry.register(inbox) else {
            preconditionFailure("more than \(RuntimeRegistry.capacity) runtimes in one process")
        }
        self.index = index
        // Slot 0 is never used: identifier 0 means "nobody".
        tables = Confined(
            Tables(
                entries: Array(repeating: Entry(), count: min(limits.objects, 64)),
                freeSlots: (1..<min(limits.objects, 64)).reversed(),
                queue: Ring(capacity: limits.runQueue)))
        tables.value.scratch.reserveCapacity(4096)
    }

    deinit {
        RuntimeRegistry.unregister(index)
        inbox.drain(into: &inboxBatch)
        let left = inboxBatch.count - inboxCarry + tables.value.queue.count + tables.value.overflow.count
        if left > 0 {
            logger.warning("runtime ended with messages undelivered", metadata: ["count": "\(left)"])
        }
    }

    /// Sends to this runtime's objects from any thread; posts are batched (one wake-up each).
    public var handle: RuntimeHandle { RuntimeHandle(inbox: inbox) }

    /// The realm secret this runtime's connections prove (for tags on messages outside them).
    public var realmSecret: RealmSecret { connections.configuration.secret }

    // MARK: - The object table

    /// 32 random bits above the runtime's index and the slot: identifiers a peer could only know
    /// by being told.
    private func freshIdentifier(slot: Int) -> UInt64 {
        let random = identifiers.next(bits: 32)
        return random << Address.randomShift | UInt64(index) << Address.slotBits | UInt64(slot)
    }

    /// Takes a slot for `kind`; nil when the table is full.
    func allocate(_ kind: Kind, parent: Address) -> Address? {
        if tables.value.freeSlots.isEmpty { growTable() }
        guard let slot = tables.value.freeSlots.popLast() else {
            logger.warning("object table full", metadata: ["limit": "\(limits.objects)"])
            return nil
        }
        let id = freshIdentifier(slot: slot)
        tables.value.entries[slot] = Entry(id: id, kind: kind, parent: parent)
        return Address(local: id)
    }

    /// Doubles the object table, up to ``RuntimeLimits/objects``: an idle runtime stays small.
    private func growTable() {
        let old = tables.value.entries.count
        let new = min(limits.objects, old * 2)
        guard new > old else { return }
        tables.value.entries.append(contentsOf: repeatElement(Entry(), count: new - old))
        tables.value.freeSlots.append(contentsOf: (old..<new).reversed())
    }

    /// The live entry `id` names, if any.
    func slot(of id: UInt64) -> Int? {
        let slot = Int(id & Address.slotMask)
        guard slot < tables.value.entries.count, tables.value.entries[slot].id == id, id != 0,
            !tables.value.entries[slot].ended
        else { return nil }
        return slot
    }

    func release(_ slot: Int) {
        tables.value.entries[slot] = Entry()
        tables.value.freeSlots.append(slot)
    }

    /// Creates a handler-style object; it receives ``Start`` first. Nil when the table is full.
    @discardableResult
    public func create<Created: Object>(_ object: Created, parent: Address = .none) -> Address? {
        for type in Created.messageTypes { MessageRegistry.register(type) }
        guard let address = allocate(.handler(object), parent: parent) else { return nil }
        post(Start(), to: address.object, from: parent)
        return address
    }

    /// Creates a sequential object running `body`; it completes with what `body` returns (a thrown
    /// error completes it with ``Faulted``). Nil when the table is full.
    @discardableResult
    public func create(parent: Address = .none, _ body: @escaping @Sendable (Mailbox) async throws -> any Message)
        -> Address?
    {
        let mailbox = Mailbox(runtime: self)
        guard let address = allocate(.sequential(mailbox), parent: parent) else { return nil }
        mailbox.address = address
        let runtime = self
        Task(executorPreference: executor) {
            let value: any Message
            do {
                value = try await body(mailbox)
            } catch let fault as Faulted {
                value = fault
            } catch {
                value = Faulted("object faulted", explanation: "\(error)")
            }
            runtime.complete(address, with: value)
        }
        return address
    }

    /// Ends object `address` with `value`: its parent receives ``Completed``, its timers stop, and
    /// what was still waiting for it is dropped (with ``NotDelivered`` where asked for).
    func complete(_ address: Address, with value: any Message) {
        guard let slot = slot(of: address.object) else { return }
        let parent = tables.value.entries[slot].parent
        tables.value.entries[slot].ended = true
        cancelTimers(of: address.object)
        if let dropped = saved.removeValue(forKey: address.object) {
            tables.value.entries[slot].queued -= dropped.count
            tellSendersOfDropped(dropped, to: address)
        }
        if case .sequential(let mailbox) = tables.value.entries[slot].kind {
            let dropped = mailbox.end()
            tables.value.entries[slot].queued -= dropped.count
            tellSendersOfDropped(dropped, to: address)
        }
        logger.debug("object completed", metadata: ["object": "\(address)", "value": "\(AnyMessage(value).typeName)"])
        if address == main { mainResult = value }
        for watcher in watchers.removeValue(forKey: address.object) ?? [] {
            post(Ended(object: address), to: watcher.object, from: address)
        }
        if parent != .none {
            // The runtime's own message: it does not wait for room in the parent's mailbox.
            do throws(SendRefused) {
                try deliver(
                    Completed(value), to: parent, from: address, notifyIfUndelivered: false, enforceMailbox: false)
            } catch {
                logger.error(
                    "parent not told of a completion",
                    metadata: ["parent": "\(parent)", "child": "\(address)", "reason": "\(error)"])
            }
        }
        // Messages still queued for it meet a dead identifier and are dropped as they come up;
        // freeing the slot now would let a new object inherit them.
        if tables.value.entries[slot].queued == 0 { release(slot) }
    }

    /// Tells `watcher` (``Ended``) when the local object `address` ends; at once if it has.
    func watch(_ address: Address, by watcher: Address) {
        guard address.isLocal, address.runtime == index else { return }
        guard slot(of: address.object) != nil else {
            post(Ended(object: address), to: watcher.object, from: address)
            return
        }
        watchers[address.object, default: []].append(watcher)
    }

    /// The state a layer above keeps on this runtime, registered by its type: made by `make` on
    /// first use, the same instance after. Publish/subscribe keeps its group address and
    /// directory here, typed, instead of looking an object up by name and downcasting it.
    public func attachment<T: AnyObject>(_ type: T.Type, orMake make: () -> T) -> T {
        if let known = attachments[ObjectIdentifier(type)] { return known as! T } // stored under its own type
        let made = make()
        attachments[ObjectIdentifier(type)] = made
        return made
    }

    /// Whether the local object at `address` is still running.
    public func isRunning(_ address: Address) -> Bool {
        address.isLocal && address.runtime == index && slot(of: address.object) != nil
    }

    // MARK: - Sending

    /// Queues `message` for a local object, or sends it over the address's connection.
    /// `enforceMailbox` is false for messages whose producer is bounded elsewhere (the
    /// cross-thread inbox, a connection that pauses): they may overfill a mailbox, never the queue.
    /// `holdIfFull`: a full run queue holds the message in the overflow instead of refusing it —
    /// for a connection's messages, whose connection is paused meanwhile.
    /// `credit`: a peer's message, queued with the account its taking settles. Returns whether
    /// the message was queued for an object of this runtime (false: sent on, or dropped).
    @discardableResult
    func deliver(
        _ message: consuming any Message, to address: Address, from sender: Address, notifyIfUndelivered: Bool,
        enforceMailbox: Bool = true,
        holdIfFull: Bool = false, credit: InboundCredit? = nil
    ) throws(SendRefused) -> Bool {
        if let link = address.link {
            guard address.linkRuntime == index else {
                // The connection belongs to another thread's runtime: it sends.
                try sendAcrossThreads(
                    message, to: address, via: address.linkRuntime, from: sender,
                    notifyIfUndelivered: notifyIfUndelivered)
                return false
            }
            try sendRemote(message, to: address, over: link, from: sender, notifyIfUndelivered: notifyIfUndelivered)
            return false
        }
        if address.runtime != index {
            try sendAcrossThreads(
                message, to: address, via: address.runtime, from: sender, notifyIfUndelivered: notifyIfUndelivered)
            return false
        }
        guard let slot = slot(of: address.object) else {
            undeliverable(message, to: address, from: sender, notify: notifyIfUndelivered, reason: "no such object")
            return false
        }
        if case .forwarder(let forwarder) = tables.value.entries[slot].kind {
            return try deliver(
                message, to: forwarder.target, from: sender, notifyIfUndelivered: notifyIfUndelivered,
                enforceMailbox: enforceMailbox,
                holdIfFull: holdIfFull, credit: credit)
        }
        guard tables.value.entries[slot].queued < limits.mailbox || !enforceMailbox else { throw .mailboxFull(address) }
        let envelope = Envelope(
            to: address.object, from: sender, message: message, notifyIfUndelivered: notifyIfUndelivered, credit: credit
        )
        if !enqueue(envelope, mayHold: holdIfFull) { throw .runQueueFull }
        tables.value.entries[slot].queued += 1
        return true
    }

    /// Puts `envelope` on the run queue, or — when the queue is full, or messages already wait
    /// in the overflow — holds it in the overflow if `mayHold`; false if it was refused.
    @inline(__always)
    private func enqueue(_ envelope: consuming Envelope, mayHold: Bool) -> Bool {
        if tables.value.overflow.isEmpty && tables.value.queue.count < tables.value.queue.capacity {
            return tables.value.queue.push(envelope)
        }
        guard mayHold else { return false }
        tables.value.overflow.append(envelope)
        return true
    }

    /// Moves held messages into the run queue, oldest first, as room allows.
    private func admitOverflow() {
        var moved = 0
        while moved < tables.value.overflow.count && tables.value.queue.count < tables.value.queue.capacity {
            _ = tables.value.queue.push(tables.value.overflow[moved])
            moved += 1
        }
        tables.value.overflow.removeFirst(moved)
    }

    /// Sends a service's message — an answer to an object's own request, or a notice it signed up
    /// for (a directory's `Available`, `Dropped`, refusals) — as `sender`. To an object of this
    /// runtime it is never refused: it may overfill the mailbox, and a full run queue holds it,
    /// because what the service sends is bounded by what it keeps. Elsewhere it is an ordinary send.
    public func notify(_ message: some Message, to address: Address, from sender: Address) throws(SendRefused) {
        try deliver(
            message, to: address, from: sender, notifyIfUndelivered: false, enforceMailbox: false, holdIfFull: true)
    }

    /// Hands a message to the runtime of another thread, through its inbox.
    private func sendAcrossThreads(
        _ message: any Message, to address: Address, via runtime: Int, from sender: Address, notifyIfUndelivered: Bool
    ) throws(SendRefused) {
        guard let inbox = RuntimeRegistry.inbox(runtime) else {
            undeliverable(message, to: address, from: sender, notify: notifyIfUndelivered, reason: "no such object")
            return
        }
        guard inbox.post(Posted(to: address, from: sender, message: message, notifyIfUndelivered: notifyIfUndelivered))
        else {
            throw .threadBusy(address)
        }
    }

    /// Queues a message the runtime makes up (Start, Completed, Abandoned, timer messages,
    /// Writable); these bypass the mailbox bound, which is for senders that can slow down, and a
    /// full run queue holds them in the overflow: they are never lost.
    func post(_ message: any Message, to id: UInt64, from sender: Address) {
        guard let slot = slot(of: id) else { return }
        _ = enqueue(Envelope(to: id, from: sender, message: message, notifyIfUndelivered: false), mayHold: true)
        tables.value.entries[slot].queued += 1
    }

    /// Messages an ended object was holding (a sequential object's, a machine's saved ones): each
    /// sender that asked is told.
    func tellSendersOfDropped(_ messages: [HeldMessage], to address: Address) {
        for held in messages {
            if let credit = held.credit { settle(credit) }
            undeliverable(
                held.message, to: address, from: held.from, notify: held.notifyIfUndelivered, reason: "object has ended"
            )
        }
    }

    /// Drops a message nobody can take, says so at debug level, and tells the sender if asked.
    func undeliverable(_ message: any Message, to address: Address, from sender: Address, notify: Bool, reason: String)
    {
        let typeName = AnyMessage(message).typeName
        logger.debug("message dropped", metadata: ["to": "\(address)", "type": "\(typeName)", "reason": "\(reason)"])
        guard notify, sender != .none, !(message is NotDelivered) else { return }
        do throws(SendRefused) {
            try deliver(
                NotDelivered(to: address, messageType: typeName, reason: reason), to: sender, from: .none,
                notifyIfUndelivered: false,
                enforceMailbox: false)
        } catch {
            logger.warning(
                "sender not told of an undelivered message", metadata: ["sender": "\(sender)", "reason": "\(error)"])
        }
    }

    // MARK: - Dispatch

    /// True once this turn's handler time (``RuntimeLimits/turnDuration``) is spent.
    func turnTimeSpent() -> Bool { Deadline.now() >= turnEnds }

    /// Runs queued messages and tasks until both are empty or the turn's budget is spent.
    func runQueued() {
        if !tables.value.overflow.isEmpty { admitOverflow() }
        if inboxCarry > 0 { drainInbox() }
        var budget = limits.messagesPerTurn
        let end = Deadline.after(limits.turnDuration)
        turnEnds = end
        repeat {
            executor.runJobs()
            while budget > 0, let envelope = tables.value.queue.pop() {
                budget -= 1
                dispatch(envelope)
                if budget & 63 == 0 && Deadline.now() >= end { budget = 0 }
            }
        } while budget > 0 && (executor.hasJobs || !tables.value.queue.isEmpty) && Deadline.now() < end
        if !tables.value.queue.isEmpty || !tables.value.overflow.isEmpty || executor.hasJobs { reactor.skipNextWait() }
        resumePausedLinks()
        grantCredit()
    }

    private func dispatch(_ envelope: Envelope) {
        let slot = Int(envelope.to & Address.slotMask)
        // A peer's message is settled once the object has it (or there is no object): here, unless
        // a sequential object holds it, which settles it when its select takes it
        // (``HeldMessage/credit``).
        var held = false
        defer { if !held, let credit = envelope.credit { settle(credit) } }
        guard tables.value.entries[slot].id == envelope.to else {
            undeliverable(
                envelope.message, to: Address(local: envelope.to), from: envelope.from,
                notify: envelope.notifyIfUndelivered, reason: "no such object")
            return
        }
        tables.value.entries[slot].queued -= 1
        guard !tables.value.entries[slot].ended else {
            undeliverable(
                envelope.message, to: Address(local: envelope.to), from: envelope.from,
                notify: envelope.notifyIfUndelivered, reason: "object has ended")
            if tables.value.entries[slot].queued == 0 { release(slot) }
            return
        }
        let kind = tables.value.entries[slot].kind
        switch kind {
        case .handler(let object):
            let context = Context(
                runtime: self, address: Address(local: envelope.to), returnAddress: envelope.from,
                notifyIfUndelivered: envelope.notifyIfUndelivered)
            do {
                try object.receive(envelope.message, context: context)
            } catch {
                complete(context.address, with: Faulted("object faulted", explanation: "\(error)"))
            }
            if tables.value.entries[slot].ended, tables.value.entries[slot].id == envelope.to,
                tables.value.entries[slot].queued == 0
            {
                release(slot)
            }
        case .sequential(let mailbox):
            held = mailbox.offer(
                envelope.message, from: envelope.from, notifyIfUndelivered: envelope.notifyIfUndelivered,
                credit: envelope.credit)
            if held { tables.value.entries[slot].queued += 1 }
        case .forwarder, .free:
            break // forwarders never get envelopes: deliver() goes around them
        }
    }

    var hasWork: Bool {
        !tables.value.queue.isEmpty || !tables.value.overflow.isEmpty || executor.hasJobs || inboxCarry > 0
    }

    /// A sequential object took (or dropped) one message it was holding.
    func mailboxTook(_ address: Address, _ held: HeldMessage) {
        if let credit = held.credit { settle(credit) }
        guard let slot = slot(of: address.object) else { return }
        tables.value.entries[slot].queued -= 1
    }

    // MARK: - Running

    /// Runs `main` (with signals SIGINT/SIGTERM sending it ``Stop``, on the process's main thread;
    /// a runtime on another thread leaves the signals to that one) until it completes, and
    /// returns what it completed with.
    public func run(_ main: some Object) throws(ReactorError) -> any Message {
        guard let address = create(main) else {
            return Faulted("cannot create the main object", explanation: "object table full")
        }
        return try run(until: address)
    }

    /// Runs a sequential main object until it completes; see ``run(_:)-(Object)``.
    public func run(_ body: @escaping @Sendable (Mailbox) async throws -> any Message) throws(ReactorError)
        -> any Message
    {
        try run(body) { _ in }
    }

    func run(_ body: @escaping @Sendable (Mailbox) async throws -> any Message, created: (Address) -> Void)
        throws(ReactorError) -> any Message
    {
        guard let address = create(body) else {
            return Faulted("cannot create the main object", explanation: "object table full")
        }
        created(address)
        return try run(until: address)
    }

    private func run(until address: Address) throws(ReactorError) -> any Message {
        main = address
        mainResult = nil
        // The process's signals are the main thread's runtime's: with several runtimes, SIGTERM
        // stops the one the program runs on its main thread, not whichever read it first.
        if ThreadStarter.onMainThread { try reactor.watchSignals([SIGINT, SIGTERM] + extraSignals) }
        var handler = RuntimeHandler(runtime: self) { [unowned self] in mainResult != nil }
        runQueued() // what was created before the loop starts, before the first wait
        while mainResult == nil {
            try reactor.run(&handler)
        }
        try closeLinks(&handler)
        endSequentialObjects()
        return mainResult!
    }

    /// Sequential objects still waiting when the main object ends: their `select` throws, so their
    /// tasks finish and let go of the runtime instead of waiting forever.
    private func endSequentialObjects() {
        for slot in tables.value.entries.indices {
            guard case .sequential(let mailbox) = tables.value.entries[slot].kind, !tables.value.entries[slot].ended
            else { continue }
            tables.value.entries[slot].ended = true
            let dropped = mailbox.end()
            tables.value.entries[slot].queued -= dropped.count
            tellSendersOfDropped(dropped, to: Address(local: tables.value.entries[slot].id))
        }
        var rounds = 0
        while executor.hasJobs && rounds < 1_000 {
            executor.runJobs()
            rounds += 1
        }
    }

    /// Closes every connection gracefully, so that what objects sent before the end still
    /// reaches the peers, and stops listening; waits for that at most `limit`.
    private func closeLinks(_ handler: inout RuntimeHandler, limit: Duration = .seconds(2)) throws(ReactorError) {
        for id in listenerOwners.keys { connections.closeListener(id) }
        listenerOwners.removeAll()
        if !tables.value.links.isEmpty {
            // A graceful close also keeps a connector from coming back; what objects took is
            // confirmed first.
            grantCredit()
            for link in tables.value.links.values { connections.close(link.connection) }
            handler.finished = { [unowned self] in tables.value.links.isEmpty }
            try reactor.run(&handler, until: .after(limit))
            if !tables.value.links.isEmpty {
                logger.notice("connections still closing at exit", metadata: ["count": "\(tables.value.links.count)"])
            }
        }
        for id in connectorOwners.keys { connections.closeConnector(id) }
        connectorOwners.removeAll()
        for socket in datagramOwners.keys { try? reactor.close(socket) }
        datagramOwners.removeAll()
    }

    /// Turns the loop while `condition` holds, until `deadline` at the latest (tests and
    /// embedding). Returns whether `condition` still held.
    @discardableResult
    public func run(until deadline: Deadline, while condition: @escaping () -> Bool = { true }) throws(ReactorError)
        -> Bool
    {
        var handler = RuntimeHandler(runtime: self) { !condition() }
        runQueued()
        if condition() { try reactor.run(&handler, until: deadline) }
        return condition()
    }
}
