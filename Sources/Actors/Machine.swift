/// A handler-style object written as a state machine: a table says, per state, which message
/// types it handles (each handler returns the next state) and which it saves for a later state.
/// Saved messages are replayed, in arrival order, each time the state changes.
///
/// ```swift
/// final class Door: Machine {
///     enum State { case closed, open }
///     var state = State.closed
///     static let transitions = Transitions<Door>()
///         .on(.closed, Start.self) { door, _, _ in .closed }
///         .on(.closed, Knock.self) { door, _, context in try context.reply(Ack()); return .open }
///         .save(.closed, Enter.self)
///         .on(.open, Enter.self) { door, _, _ in .closed }
/// }
/// ```
///
/// A message with no entry and no save in the current state is dropped (logged at debug level).
public protocol Machine: Object {
    associatedtype State: Hashable
    var state: State { get set }
    static var transitions: Transitions<Self> { get }
}

/// The handler table of a ``Machine``.
public struct Transitions<M: Machine>: @unchecked Sendable {
    // Built once into a static constant and only read after; the closures capture nothing mutable.
    public typealias Handler = (M, any Message, Context) throws -> M.State

    private var handlers: [M.State: [ObjectIdentifier: Handler]] = [:]
    private var otherwise: [M.State: Handler] = [:]
    private var saves: [M.State: Set<ObjectIdentifier>] = [:]

    public init() {}

    /// In `state`, handle messages of `type` with `handler`, which returns the next state.
    public func on<T: Message>(_ state: M.State, _ type: T.Type, _ handler: @escaping (M, T, Context) throws -> M.State)
        -> Self
    {
        MessageRegistry.register(type)
        var copy = self
        copy.handlers[state, default: [:]][ObjectIdentifier(type)] = { machine, message, context in
            try handler(machine, message as! T, context)
        }
        return copy
    }

    /// In `state`, handle every message without an entry of its own.
    public func otherwise(_ state: M.State, _ handler: @escaping Handler) -> Self {
        var copy = self
        copy.otherwise[state] = handler
        return copy
    }

    /// In `state`, keep messages of `type` until the state changes.
    public func save<T: Message>(_ state: M.State, _ type: T.Type) -> Self {
        MessageRegistry.register(type)
        var copy = self
        copy.saves[state, default: []].insert(ObjectIdentifier(type))
        return copy
    }

    func handler(_ state: M.State, _ type: ObjectIdentifier) -> Handler? {
        handlers[state]?[type] ?? otherwise[state]
    }

    func saves(_ state: M.State, _ type: ObjectIdentifier) -> Bool { saves[state]?.contains(type) ?? false }
}

extension Machine {
    public func receive(_ message: any Message, context: Context) throws {
        let before = state
        try step(message, context)
        guard state != before else { return }
        // Each pass offers every saved message once; a state change during a pass earns another,
        // up to a bound, so two states that keep handing back to each other cannot spin forever.
        var passes = 0
        while passes < 16 {
            passes += 1
            let passStart = state
            let saved = context.runtime.takeSaved(for: context.address)
            guard !saved.isEmpty else { return }
            for held in saved {
                try step(
                    held.message,
                    Context(
                        runtime: context.runtime, address: context.address, returnAddress: held.from,
                        notifyIfUndelivered: held.notifyIfUndelivered))
            }
            guard state != passStart else { return }
        }
    }

    private func step(_ message: any Message, _ context: Context) throws {
        let type = ObjectIdentifier(Swift.type(of: message))
        if let handler = Self.transitions.handler(state, type) {
            state = try handler(self, message, context)
        } else if Self.transitions.saves(state, type) {
            context.runtime.save(
                HeldMessage(
                    message: message, from: context.returnAddress, notifyIfUndelivered: context.notifyIfUndelivered),
                for: context.address)
        } else {
            context.runtime.logger.debug(
                "machine dropped a message",
                metadata: [
                    "object": "\(context.address)", "state": "\(state)", "type": "\(AnyMessage(message).typeName)",
                ])
        }
    }
}

extension Runtime {
    /// Keeps a message for a machine; it counts against the machine's mailbox until replayed.
    func save(_ held: HeldMessage, for address: Address) {
        guard let slot = slot(of: address.object) else { return }
        saved[address.object, default: []].append(held)
        tables.value.entries[slot].queued += 1
    }

    func takeSaved(for address: Address) -> [HeldMessage] {
        guard let messages = saved.removeValue(forKey: address.object) else { return [] }
        if let slot = slot(of: address.object) { tables.value.entries[slot].queued -= messages.count }
        return messages
    }
}
