import Actors
import PubSub

/// The seed's exchange: a subscriber says Hello, the publisher answers Welcome. The type names are
/// the seed's, so the two ends agree in any language.
public struct Hello: Message, Equatable {
    public static let typeName = "hello_welcome.Hello"
    public var myName: String

    public init(myName: String) { self.myName = myName }

    private enum CodingKeys: String, CodingKey { case myName = "my_name" }
}

public struct Welcome: Message, Equatable {
    public static let typeName = "hello_welcome.Welcome"
    public var myName: String
    public var yourName: String

    public init(myName: String, yourName: String) {
        self.myName = myName
        self.yourName = yourName
    }

    private enum CodingKeys: String, CodingKey {
        case myName = "my_name"
        case yourName = "your_name"
    }
}

/// The scope a setting names: "process", "group", "host", "lan" or "wan".
public func scope(_ text: String) throws -> Scope {
    guard let scope = Scope(named: text) else {
        throw Faulted(
            "bad setting", explanation: "scope \"\(text)\": use process, group, host, lan or wan", exitCode: 64)
    }
    return scope
}
