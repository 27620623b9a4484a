import Actors
import Reactor

/// The demo's two messages, under the demo's type names, as the actor and pub-sub tests use them.
public struct Hello: Message, Equatable {
    public static let typeName = "hello_welcome.Hello"
    public var name: String
    public init(name: String) { self.name = name }
}

public struct Welcome: Message, Equatable {
    public static let typeName = "hello_welcome.Welcome"
    public var myName: String
    public var yourName: String
    public init(myName: String, yourName: String) {
        self.myName = myName
        self.yourName = yourName
    }
}

/// Tells a test object in another process that the test is over (``Stop`` never crosses a link).
public struct Finish: Message, Equatable {
    public init() {}
}

/// The result of a test object: what it saw, in order.
public struct Seen: Message, Equatable {
    public var events: [String]
    public init(events: [String]) { self.events = events }
}

/// The realm secret the in-process tests share.
public let testSecret = RealmSecret(hex: String(repeating: "5a", count: 32))!

/// A runtime on a new reactor of the calling thread.
public func makeRuntime(secret: RealmSecret = testSecret, limits: RuntimeLimits = RuntimeLimits()) throws -> Runtime {
    Runtime(reactor: try Reactor(), transport: TransportConfiguration(secret: secret), limits: limits)
}
