import Actors

// What publishers and subscribers hear. Each session has an identifier both ends share; pass it to
// `clear(_:)` to end the session from this side.

/// A `publish` was accepted: the name is listed.
public struct Published: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.pubsub.Published"
    public var name: ServiceName
    public var scope: Scope
}

/// A `publish` was refused, and why (the directory could not be had, say).
public struct NotPublished: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.pubsub.NotPublished"
    public var name: ServiceName
    public var reason: String
}

/// A `subscribe` was accepted: the search is listed.
public struct Subscribed: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.pubsub.Subscribed"
    public var search: Search
    public var scope: Scope
}

/// A `subscribe` was refused, and why (a pattern that does not compile, say).
public struct NotSubscribed: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.pubsub.NotSubscribed"
    public var search: Search
    public var reason: String
}

/// To a subscriber, once per matching publisher: its return address is the publisher.
public struct Available: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.pubsub.Available"
    public var name: ServiceName
    public var search: Search
    /// The directory level where the match was made.
    public var scope: Scope
    public var session: UInt64
}

/// To a publisher, once per subscriber session: its return address is the subscriber.
public struct Delivered: Message, Equatable {
    public static let typeName = "ansar.pubsub.Delivered"
    public var name: ServiceName
    public var search: Search
    public var scope: Scope
    public var session: UInt64
}

/// The far end of a session went away: it ended, withdrew, or was lost.
public struct Dropped: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.pubsub.Dropped"
    public var session: UInt64
    public var name: ServiceName
    public var reason: String
    /// Messages this end sent the other that the other's process had not confirmed taking when
    /// their connection was lost (see ``UnconfirmedMessages``); 0 otherwise.
    public var unconfirmed = 0
}

/// A session this side ended (`clear`, `retract`): it is over at both ends.
public struct Cleared: LocalOnlyMessage {
    public static let typeName = "ansar.pubsub.Cleared"
    public var session: UInt64
    public var name: ServiceName
    public var value: AnyMessage?
}

/// A `clear` that ended nothing, and why: no session of that number has this object at its end
/// (it ended already, say), or the directory could not take the request.
public struct NotCleared: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.pubsub.NotCleared"
    public var session: UInt64
    public var reason: String
}

/// A `retract` is done: every listing and search of this object is gone, and its sessions'
/// ``Cleared`` came before this.
public struct Retracted: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.pubsub.Retracted"
    /// How many listings and searches went.
    public var entries: Int
}

/// A `retract` the directory could not take, and why; nothing changed.
public struct NotRetracted: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.pubsub.NotRetracted"
    public var reason: String
}

/// The first message of a per-session object (after Start): its session, from the other end —
/// the other end's object or its own session object — so that `reply` reaches it.
public struct SessionOpened: LocalOnlyMessage, Equatable {
    public static let typeName = "ansar.pubsub.SessionOpened"
    public var session: UInt64
    public var name: ServiceName
}

/// Makes the object that runs one session at this end (see `publish(_:scope:session:)`).
public typealias SessionFactory = () -> any Object

// Requests to the process's directory. `factory` names a session factory handed to the directory
// beside the message (closures do not travel in messages); 0 for none.

struct PublishRequest: LocalOnlyMessage {
    static let typeName = "ansar.pubsub.Publish"
    var name: ServiceName
    var scope: Scope
    var factory: UInt64 = 0
}

struct SubscribeRequest: LocalOnlyMessage {
    static let typeName = "ansar.pubsub.Subscribe"
    var search: Search
    var scope: Scope
    var factory: UInt64 = 0
}

struct ClearRequest: LocalOnlyMessage {
    static let typeName = "ansar.pubsub.Clear"
    var session: UInt64
    var value: AnyMessage?
}

struct RetractRequest: LocalOnlyMessage {
    static let typeName = "ansar.pubsub.Retract"
}

/// To a directory of this process: the realm's rules changed (``NamePermissions``); it judges what
/// it holds by the new ones. Never from a link: only the process that runs a directory can change
/// its rules.
public struct PermissionsChanged: LocalOnlyMessage {
    public static let typeName = "ansar.pubsub.PermissionsChanged"
    public var permissions: NamePermissions

    public init(_ permissions: NamePermissions) { self.permissions = permissions }
}
