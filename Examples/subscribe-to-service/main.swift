import Actors
import HelloWelcome
import ProcessShim
import PubSub

/// The seed's client: finds "hello-welcome" by name, says hello, and returns the Welcome.
struct Settings: Codable, Sendable {
    var clientName = "Gladys"
    var listing = "hello-welcome"
    /// How far to look: "process", "group" or "host".
    var scope = "group"
    /// How long to look for the service.
    var seconds = 5.0
}

Node.run(
    name: "subscribe-to-service", about: "Finds a service by name and says hello.", settings: Settings(),
    input: Nothing.self
) {
    mailbox, node in
    let settings = node.settings
    mailbox.subscribe(try Search(parsing: settings.listing), scope: try scope(settings.scope))
    let found = try await mailbox.select(
        Available.self, NotSubscribed.self, Stop.self, timeout: .nanoseconds(Int64(settings.seconds * 1e9)))
    switch found {
    case is Available:
        return try await mailbox.ask(
            Hello(myName: settings.clientName), to: mailbox.returnAddress, expecting: Welcome.self, Stop.self,
            timeout: .seconds(5))
    case let refused as NotSubscribed:
        return Faulted("cannot subscribe", explanation: refused.reason)
    case is Stop:
        return Aborted()
    default:
        return Faulted("service not found", explanation: "no \(settings.listing) within \(settings.seconds) s")
    }
}
