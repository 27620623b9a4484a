import Actors
import Logging

/// The directory messages a directory sends (listings up, sessions down, Available, Dropped…):
/// none may fall to a full mailbox or a busy link, or the two sides of the directory protocol
/// disagree for good (a ghost listing, a missing one, a stuck session).
///
/// To an object of this runtime they are never refused (``Runtime/notify(_:to:from:)``). One that
/// cannot go now — a busy connection, another thread's full inbox — waits, in order behind what
/// waits for the same object, and goes when the route takes it again: on ``Writable``, or at the
/// next retry tick. What waits is bounded: past `capacity`, a connection's queue is given up and
/// the connection closed, so that both ends start over from a full resynchronisation (a member
/// passes everything up again when its link comes back, and a directory drops what a lost member
/// gave); an object of another thread that takes nothing for that long is told nothing more,
/// said in the log.
final class ControlOutbox {
    /// Credit is per destination object, so is the order kept: one slow object's messages do not
    /// hold up another's on the same connection.
    private enum Route: Hashable {
        case link(LinkID, object: UInt64)
        case object(Address)
    }

    private struct Waiting {
        let message: any Message
        let to: Address
        let sender: Address
    }

    /// Ticks while anything waits: a route refused by a sender other than the directory itself
    /// (a message sent as the subscriber, say) is not told ``Writable``.
    struct RetryDue: LocalOnlyMessage {
        static let typeName = "ansar.pubsub.ControlRetry"
    }
    static let retryInterval = Duration.milliseconds(10)

    let capacity: Int
    /// Refusals of members' messages, logged at most ten a second.
    var refusals = LogBudget()
    private var waiting: [Route: [Waiting]] = [:]
    /// Routes in the order they first had to wait, so the oldest goes first.
    private var order: [Route] = []
    private(set) var count = 0

    init(capacity: Int = 100_000) { self.capacity = capacity }

    /// Sends `message` to `address` as `sender` — now, or once the route takes it.
    func send(_ message: some Message, to address: Address, as sender: Address, _ context: Context) {
        let route = address.link.map { Route.link($0, object: address.object) } ?? .object(address)
        if waiting[route] == nil, tryToSend(message, to: address, as: sender, context) { return }
        guard count < capacity else { return giveUp(route, at: address, context) }
        if waiting[route] == nil { order.append(route) }
        waiting[route, default: []].append(Waiting(message: message, to: address, sender: sender))
        count += 1
        if count == 1 { context.startTimer(RetryDue(), after: Self.retryInterval) }
    }

    /// Sends what waits, oldest route first, each route in order until it refuses again.
    func flush(_ context: Context) {
        guard count > 0 else { return }
        for route in order {
            guard var queue = waiting[route] else { continue }
            var sent = 0
            while sent < queue.count,
                tryToSend(queue[sent].message, to: queue[sent].to, as: queue[sent].sender, context)
            {
                sent += 1
            }
            count -= sent
            queue.removeFirst(sent)
            waiting[route] = queue.isEmpty ? nil : queue
        }
        order.removeAll { waiting[$0] == nil }
        if count > 0 { context.startTimer(RetryDue(), after: Self.retryInterval) }
    }

    /// True if it went (or can never go: a message that cannot be encoded is a bug, logged).
    private func tryToSend(_ message: any Message, to address: Address, as sender: Address, _ context: Context)
        -> Bool
    {
        do throws(SendRefused) {
            try context.runtime.notify(message, to: address, from: sender)
            return true
        } catch {
            switch error {
            case .linkBusy, .mailboxFull, .runQueueFull, .threadBusy:
                return false
            case .linkClosed:
                return true // the other end starts over from a resynchronisation when it links again
            case .tooLarge, .unencodable:
                context.runtime.logger.error(
                    "directory message cannot be sent", metadata: ["to": "\(address)", "reason": "\(error)"])
                return true
            }
        }
    }

    private func giveUp(_ route: Route, at address: Address, _ context: Context) {
        let dropped = waiting.removeValue(forKey: route)?.count ?? 0
        count -= dropped
        order.removeAll { $0 == route }
        switch route {
        case .link:
            context.runtime.logger.error(
                "directory messages waiting over their bound: closing the connection to start over",
                metadata: ["to": "\(address)", "waiting": "\(dropped + 1)", "bound": "\(capacity)"])
            context.close(address, reconnecting: true)
        case .object:
            context.runtime.logger.error(
                "directory messages to an object that takes none dropped",
                metadata: ["to": "\(address)", "dropped": "\(dropped + 1)", "bound": "\(capacity)"])
        }
    }
}

/// A directory object: its messages go through its ``ControlOutbox``.
protocol ControlSender: AnyObject {
    var outbox: ControlOutbox { get }
}

extension ControlSender {
    /// Sends a directory message (as `sender`, by default this object) that must not be lost.
    func tell(_ message: some Message, to address: Address, as sender: Address? = nil, _ context: Context) {
        outbox.send(message, to: address, as: sender ?? context.address, context)
    }

    /// Says a member's directory message was refused, and why (bad input: it named what is not
    /// its own); its link stays. A flood is logged as ten lines a second and a count.
    func refuse(_ what: String, entry: UInt64? = nil, _ context: Context) {
        guard case .write(let dropped) = outbox.refusals.admit() else { return }
        var metadata: Logger.Metadata = ["from": "\(context.returnAddress)", "what": "\(what)"]
        if let entry { metadata["entry"] = "\(entry)" }
        if dropped > 0 { metadata["unlogged"] = "\(dropped) refusals before this one" }
        context.runtime.logger.warning("directory message refused", metadata: metadata)
    }
}
