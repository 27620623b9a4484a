/// What ``Mailbox/select(_:saving:timeout:)`` keeps of the messages it is not waiting for.
public struct Saving: Sendable {
    let everything: Bool
    let types: [ObjectIdentifier]
    /// Their names, for one that came before it was registered (as Incognito).
    let names: [String]

    /// Drop them (logged at debug level): the seed's default.
    public static let nothing = Saving(everything: false, types: [], names: [])
    /// Keep them all for later selects.
    public static let everything = Saving(everything: true, types: [], names: [])
    /// Keep messages of these types, drop the rest.
    public static func only(_ types: any Message.Type...) -> Saving {
        for type in types { MessageRegistry.register(type) }
        return Saving(everything: false, types: types.map(ObjectIdentifier.init), names: types.map { $0.typeName })
    }

    func keeps(_ message: any Message) -> Bool {
        if everything || types.contains(ObjectIdentifier(type(of: message))) { return true }
        guard !names.isEmpty, type(of: message) == Incognito.self, let incognito = message as? Incognito else {
            return false
        }
        return names.contains(incognito.typeName)
    }
}

/// The select timeout of one round; stale ones (from an earlier round) are ignored.
struct SelectDeadline: LocalOnlyMessage {
    static let typeName = "ansar.SelectDeadline"
    var round: UInt64
}

/// A sequential object's view of the runtime: the ``ObjectContext`` verbs plus `select`, for
/// code that reads top to bottom, as in the seed's function objects:
///
/// ```swift
/// runtime.create { mailbox in
///     let m = try await mailbox.select(Hello.self, Stop.self, timeout: .seconds(2))
///     if let hello = m as? Hello { try mailbox.reply(Welcome(myName: "Buster", yourName: hello.name)) }
///     return Ack()
/// }
/// ```
///
/// The code runs on the runtime's thread (a task on its executor), between messages to other
/// objects; messages that arrive while it runs wait in the mailbox.
public final class Mailbox: ObjectContext, @unchecked Sendable {
    // Confined to the runtime's thread, like the runtime; the task that owns it runs there.
    public unowned let runtime: Runtime
    public internal(set) var address: Address = .none
    public private(set) var returnAddress: Address = .none
    private var held: [HeldMessage] = []
    private var waiter: Waiter?
    private var round: UInt64 = 0
    private var ended = false
    /// Selects so far, to look at the clock every 64th.
    private var selects: UInt64 = 0

    private struct Waiter {
        let accepts: [ObjectIdentifier]
        let saving: Saving
        let round: UInt64
        let continuation: CheckedContinuation<(any Message, Address), any Error>
    }

    init(runtime: Runtime) { self.runtime = runtime }

    /// Waits for the next message of one of `types` and returns it (its sender becomes
    /// ``returnAddress``). Messages of other types are kept or dropped as `saving` says. After
    /// `timeout` it returns ``TimedOut``. Throws `CancellationError` if the object is ended while
    /// it waits.
    public func select<each M: Message>(
        _ types: repeat (each M).Type, saving: Saving = .nothing, timeout: Duration? = nil
    ) async throws -> any Message {
        var accepts: [any Message.Type] = []
        for type in repeat each types { accepts.append(type) }
        return try await select(accepting: accepts, saving: saving, timeout: timeout)
    }

    /// Sends `request` to `address`, then selects one of `types`.
    public func ask<each M: Message>(
        _ request: some Message, to address: Address, expecting types: repeat (each M).Type, saving: Saving = .nothing,
        timeout: Duration? = nil
    ) async throws -> any Message {
        try send(request, to: address)
        var accepts: [any Message.Type] = []
        for type in repeat each types { accepts.append(type) }
        return try await select(accepting: accepts, saving: saving, timeout: timeout)
    }

    private func select(accepting types: [any Message.Type], saving: Saving, timeout: Duration?) async throws
        -> any Message
    {
        for type in types { MessageRegistry.register(type) }
        let accepts = types.map { ObjectIdentifier($0) }
        // Working through held messages never suspends: let the loop look at the network once the
        // turn's time is spent (checked every 64 selects).
        selects &+= 1
        if selects & 63 == 0 && runtime.turnTimeSpent() { await Task.yield() }
        if ended { throw CancellationError() }
        var index = 0
        while index < held.count {
            // A peer's message that came before its type was first selected (so before it was
            // registered) waits as Incognito: it is the selected type all the same. (A metadata
            // comparison first: a dynamic cast per held message would cost every select.)
            if type(of: held[index].message) == Incognito.self, let incognito = held[index].message as? Incognito,
                let type = types.first(where: { $0.typeName == incognito.typeName }),
                let known = incognito.decoded(as: type)
            {
                held[index].message = known
            }
            let message = held[index].message
            if accepts.contains(ObjectIdentifier(type(of: message))) {
                let taken = held.remove(at: index)
                returnAddress = taken.from
                runtime.mailboxTook(address, taken)
                return message
            }
            if saving.keeps(message) {
                index += 1
            } else {
                let unwanted = held.remove(at: index)
                runtime.mailboxTook(address, unwanted)
                dropped(unwanted)
            }
        }
        round += 1
        if let timeout {
            runtime.startTimer(SelectDeadline(round: round), after: timeout, repeating: false, for: address)
        }
        let round = self.round
        let (message, from) = try await withCheckedThrowingContinuation { continuation in
            waiter = Waiter(accepts: accepts, saving: saving, round: round, continuation: continuation)
        }
        returnAddress = from
        return message
    }

    /// The runtime hands over a message; true if the mailbox holds on to it.
    /// `credit`: a peer's message, settled when taken from the mailbox (the runtime settles it if
    /// this returns false).
    func offer(
        _ message: any Message, from sender: Address, notifyIfUndelivered: Bool = false, credit: InboundCredit? = nil
    ) -> Bool {
        if let deadline = message as? SelectDeadline {
            if let waiter, waiter.round == deadline.round {
                self.waiter = nil
                waiter.continuation.resume(returning: (TimedOut(), .none))
            }
            return false
        }
        guard let waiter else {
            held.append(
                HeldMessage(message: message, from: sender, notifyIfUndelivered: notifyIfUndelivered, credit: credit))
            return true
        }
        if waiter.accepts.contains(ObjectIdentifier(type(of: message))) {
            self.waiter = nil
            runtime.cancelTimer(MessageType.identifier(of: SelectDeadline.typeName), for: address)
            waiter.continuation.resume(returning: (message, sender))
            return false
        }
        if waiter.saving.keeps(message) {
            held.append(
                HeldMessage(message: message, from: sender, notifyIfUndelivered: notifyIfUndelivered, credit: credit))
            return true
        }
        dropped(HeldMessage(message: message, from: sender, notifyIfUndelivered: notifyIfUndelivered))
        return false
    }

    /// A message the select neither takes nor saves: gone, and its sender told if it asked.
    private func dropped(_ unwanted: HeldMessage) {
        runtime.undeliverable(
            unwanted.message, to: address, from: unwanted.from, notify: unwanted.notifyIfUndelivered,
            reason: "not selected")
    }

    /// The object has ended: a waiting select throws, held messages go. Returns them, for their
    /// senders to be told.
    func end() -> [HeldMessage] {
        ended = true
        let dropped = held
        held.removeAll()
        if let waiter {
            self.waiter = nil
            waiter.continuation.resume(throwing: CancellationError())
        }
        return dropped
    }
}
