import Actors
import HelloWelcome
import Logging
import ProcessShim
import PubSub

/// The seed's server: publishes "hello-welcome", answers every Hello with a Welcome, and runs
/// until it is stopped.
struct Settings: Codable, Sendable {
    var serverName = "Buster"
    var listing = "hello-welcome"
    /// How far to look: "process", "group" or "host".
    var scope = "group"
}

Node.run(
    name: "publish-a-service", about: "Publishes a service and welcomes whoever says hello.", settings: Settings(),
    input: Nothing.self
) {
    mailbox, node in
    let logger = Logger(label: "publish-a-service")
    mailbox.publish(try ServiceName(node.settings.listing), scope: try scope(node.settings.scope))
    while true {
        let message = try await mailbox.select(
            Published.self, NotPublished.self, Delivered.self, Dropped.self, Hello.self, Stop.self)
        switch message {
        case let refused as NotPublished:
            return Faulted("cannot publish", explanation: refused.reason)
        case is Delivered:
            logger.info("subscriber arrived", metadata: ["subscriber": "\(mailbox.returnAddress)"])
        case let hello as Hello:
            do {
                try mailbox.reply(Welcome(myName: node.settings.serverName, yourName: hello.myName))
            } catch {
                // A subscriber that left before its welcome is not this server's failure.
                guard case SendRefused.linkClosed = error else { throw error }
                logger.info("subscriber left before its welcome", metadata: ["subscriber": "\(mailbox.returnAddress)"])
            }
        case is Stop:
            return Ack()
        default:
            break
        }
    }
}
