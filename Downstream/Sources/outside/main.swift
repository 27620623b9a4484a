// The API as a user meets it, importing one module: names as literals and from input, addresses,
// backoff and processes without importing the layers below, errors caught the plain way, a
// handler object run by Node.runHandler, and a large first message on a fresh link.
import ProcessShim

struct Hello: Message { var name: String }
struct Welcome: Message {
    var myName: String
    var yourName: String
}
struct Big: Message { var bytes: [UInt8] }
/// What the run saw; printed as the process's result.
struct Outcome: Message {
    var welcome: String
    var bigArrived: Int
    var badName: String
}

/// Publishes `name`, answers Hello, takes one Big from a peer over a real socket, then reports.
final class Server: Object {
    let endpoint: SocketAddress
    var welcome = ""
    var badName = ""
    var main = Address.none

    init(endpoint: SocketAddress) { self.endpoint = endpoint }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start:
            context.publish("outside-hello", scope: .process)
            context.subscribe("outside-hello", scope: .process)
            context.listen(at: endpoint)
            // A name from input is made with `try`, and says what is wrong with it.
            let input = CommandLine.arguments.dropFirst().first ?? "not a name"
            do { _ = try ServiceName(input) } catch { badName = error.description }
        case is Available:
            try context.send(Hello(name: "outside"), to: context.returnAddress)
        case let hello as Hello:
            try context.reply(Welcome(myName: "Buster", yourName: hello.name))
        case let answer as Welcome:
            welcome = "\(answer.myName) to \(answer.yourName)"
            try startClient(context)
        case let big as Big:
            context.complete(Outcome(welcome: welcome, bigArrived: big.bytes.count, badName: badName))
        default:
            break
        }
    }

    /// A second object connects to this one's listener and sends a large first message.
    private func startClient(_ context: Context) throws {
        let endpoint = self.endpoint
        _ = context.create { mailbox in
            mailbox.connect(to: endpoint, backoff: Backoff(initial: .milliseconds(5), maximum: .milliseconds(50)))
            _ = try await mailbox.select(Connected.self, timeout: .seconds(10))
            do {
                try mailbox.send(Big(bytes: Array(repeating: 7, count: 256 * 1024)), to: mailbox.returnAddress)
            } catch SendRefused.linkBusy(let destination) {
                return Faulted("the first message on a fresh link was refused as busy", explanation: "\(destination)")
            } catch {
                return Faulted("send refused", explanation: "\(error)")
            }
            _ = try await mailbox.select(Stop.self, Abandoned.self, Closed.self, timeout: .seconds(10))
            return Ack()
        }
    }
}

let endpoint = SocketAddress.unixAbstract(name: "ansar-outside-\(ChildProcess.currentProcessID())")
Node.runHandler(name: "outside", settings: Nothing(), input: Nothing.self) { _ in Server(endpoint: endpoint) }
