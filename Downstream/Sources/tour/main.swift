import ProcessShim // Node.run; brings Actors and PubSub with it

struct Hello: Message { var name: String }
struct Welcome: Message {
    var myName: String
    var yourName: String
}

/// A handler-style object: answers each Hello with a Welcome, ends on Stop.
final class Server: Object {
    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case let hello as Hello: try context.reply(Welcome(myName: "Buster", yourName: hello.name))
        case is Stop: context.complete(Ack())
        default: break
        }
    }
}

// A sequential main object, run as a process: flags, settings, logs and exit code come with it.
Node.run(name: "hello", settings: Nothing(), input: Nothing.self) { mailbox, _ in
    guard let server = mailbox.create(Server()) else { throw Faulted("no room for the server") }
    let answer = try await mailbox.ask(Hello(name: "Gladys"), to: server, expecting: Welcome.self, timeout: .seconds(2))
    try mailbox.send(Stop(), to: server)
    return answer // stdout: the type name and its fields
}
