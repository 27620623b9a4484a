import Actors
import Logging
import ProcessShim
import PubSub
import Reactor

/// A process for publish/subscribe tests: a group directory, a publisher or a subscriber, each
/// logging what it sees at NOTICE so that a test can follow it, and printing what it saw.
struct Settings: Codable, Sendable {
    var role = "publisher"
    var name = "svc"
    var me = "p"
    /// Subscriber: sessions to go through (Available, Hello/Welcome) before ending.
    var sessions = 1
    /// Publisher and subscriber: "group", "host", "lan" or "wan".
    var scope = "group"
    /// A group directory's parent: the host directory's address.
    var host = ""
    /// Subscriber: end at the first NotAvailable (else note it and wait on).
    var endWhenNotAvailable = false
}

struct Hello: Message { var name: String }
struct Welcome: Message { var myName: String }
struct Seen: Message { var events: [String] }

Node.run(name: "pubsub-node", settings: Settings(), input: Nothing.self) { mailbox, node in
    let settings = node.settings
    let logger = Logger(label: "pubsub-node")
    let scope = Scope(named: settings.scope) ?? .group
    switch settings.role {
    case "directory", "host":
        guard let address = node.groupAddress else { throw Faulted("--group-address is needed") }
        let parent = settings.host.isEmpty ? nil : try SocketAddress(parsing: settings.host)
        mailbox.create(
            ScopeDirectory(listening: address, scope: settings.role == "host" ? .host : .group, parent: parent))
        logger.notice("directory up")
        _ = try await mailbox.select(Stop.self)
        return Ack()
    case "publisher":
        mailbox.publish(try ServiceName(settings.name), scope: scope)
        while true {
            let message = try await mailbox.select(Published.self, Delivered.self, Dropped.self, Hello.self, Stop.self)
            switch message {
            case is Published: logger.notice("published")
            case is Delivered: logger.notice("delivered")
            case is Dropped: logger.notice("dropped")
            case let hello as Hello: try mailbox.reply(Welcome(myName: "\(settings.me) to \(hello.name)"))
            default: return Ack()
            }
        }
    default:
        var seen: [String] = []
        mailbox.subscribe(try Search(parsing: settings.name), scope: scope)
        while true {
            let message = try await mailbox.select(
                Subscribed.self, Available.self, Dropped.self, NotAvailable.self, Stop.self)
            switch message {
            case is Available:
                let welcome = try await mailbox.ask(
                    Hello(name: settings.me), to: mailbox.returnAddress, expecting: Welcome.self, timeout: .seconds(5))
                seen += ["available", (welcome as? Welcome)?.myName ?? "no welcome"]
                logger.notice("welcomed", metadata: ["count": "\(seen.count / 2)"])
                if seen.filter({ $0 == "available" }).count == settings.sessions { return Seen(events: seen) }
            case let dropped as Dropped:
                seen.append("dropped")
                logger.notice("dropped", metadata: ["reason": "\(dropped.reason)"])
            case is Subscribed: logger.notice("subscribed")
            case let missing as NotAvailable:
                seen.append("not available: \(missing.reason)")
                if settings.endWhenNotAvailable { return Seen(events: seen) }
            default: return Seen(events: seen)
            }
        }
    }
}
