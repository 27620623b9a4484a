/// The first message every object receives.
public struct Start: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.Start"
    public init() {}
}

/// Asks an object to finish: it should ``ObjectContext/complete(_:)`` soon. The process shim sends
/// it to the main object on SIGINT and SIGTERM.
public struct Stop: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.Stop"
    public init() {}
}

/// An object ended with `value`; its parent receives this from the child's address.
public struct Completed: LocalOnlyMessage, CustomStringConvertible {
    public static let typeName = "ansar.Completed"
    public var value: any Message

    public init(_ value: any Message) { self.value = value }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(AnyMessage(value), forKey: .value)
    }

    public init(from decoder: any Decoder) throws {
        value = try decoder.container(keyedBy: CodingKeys.self).decode(AnyMessage.self, forKey: .value).message
    }

    private enum CodingKeys: String, CodingKey { case value }

    public var description: String { "Completed(\(Printing.json(value)))" }
}

/// An object or process gave up because it was interrupted (a stop it could not finish).
public struct Aborted: Message, Equatable {
    public static let typeName = "ansar.Aborted"
    public init() {}
}

/// Something failed: what, why, and the exit code a process ending with it uses.
public struct Faulted: Message, Equatable, Error, CustomStringConvertible {
    public static let typeName = "ansar.Faulted"
    public var condition: String
    public var explanation: String
    /// The process exit code when a main object completes with this; the process shim's `ExitStatus.faulted` if nil.
    public var exitCode: Int?

    public init(_ condition: String, explanation: String = "", exitCode: Int? = nil) {
        self.condition = condition
        self.explanation = explanation
        self.exitCode = exitCode
    }

    public var description: String { explanation.isEmpty ? condition : "\(condition) (\(explanation))" }
}

/// A ``Mailbox/select(_:saving:timeout:)`` waited its whole timeout.
public struct TimedOut: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.TimedOut"
    public init() {}
}

/// A request was done.
public struct Ack: Message, Equatable {
    public static let typeName = "ansar.Ack"
    public init() {}
}

/// A request was refused.
public struct Nak: Message, Equatable {
    public static let typeName = "ansar.Nak"
    public init() {}
}

/// A message could not be delivered; sent back to its sender when the sender asked for it
/// (``ObjectContext/send(_:to:notifyIfUndelivered:)``).
public struct NotDelivered: Message, Equatable {
    public static let typeName = "ansar.NotDelivered"
    /// Where the message was going.
    public var to: Address
    /// The type of the message that was not delivered.
    public var messageType: String
    public var reason: String

    public init(to: Address, messageType: String, reason: String) {
        self.to = to
        self.messageType = messageType
        self.reason = reason
    }
}

/// An object this one watches (``ObjectContext/watch(_:)``) has ended.
public struct Ended: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.Ended"
    public var object: Address
}

/// A signal the main object asked for (``Runtime/extraSignals``) arrived; several may be merged
/// into one.
public struct Signalled: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.Signalled"
    public var signal: Int32
}
