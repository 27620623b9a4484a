import Platform
import ProcessShim

#if canImport(Glibc)
    import Glibc
#endif

/// What a command asks of a running group's runner (`stop ROLE`, `restart [ROLE]`, `start ROLE`,
/// new rules after `grant` or `revoke`):
/// a file in HOME/tmp/requests and SIGUSR1 to the runner, which acts and answers in a file beside
/// it. Files, not a socket, because the runner's only other door is the group directory, which
/// speaks to members; a signal, because the runner already waits on signals.
struct RunnerRequest: Equatable {
    enum Command: String {
        /// Stop the role (its process group), not restarting it; answered once it has ended.
        case stop
        /// Stop it, then start it again; answered once it has been started.
        case restart
        /// Start a role that is not running (stopped, ended, or added since the group started).
        case start
        /// Read the home's permissions again and give them to the group directory (no role).
        case permissions
    }

    let command: Command
    let role: String
    /// Where the answer goes.
    let reply: String

    /// The signal that tells the runner to look at its requests.
    static let signal = SIGUSR1
    /// How long a command waits for the answer: a stop may take the grace period, a start the
    /// launch window.
    static let answerLimit = Duration.seconds(20)

    static func folder(_ home: Home) -> String { "\(home.path)/tmp/requests" }

    var json: JSON {
        .object([("command", .string(command.rawValue)), ("role", .string(role)), ("reply", .string(reply))])
    }

    init(command: Command, role: String, reply: String) {
        self.command = command
        self.role = role
        self.reply = reply
    }

    init?(_ json: JSON) {
        guard case .string(let command)? = json["command"], let known = Command(rawValue: command),
            case .string(let role)? = json["role"], case .string(let reply)? = json["reply"]
        else { return nil }
        self.init(command: known, role: role, reply: reply)
    }

    /// In the runner: the requests waiting, each taken out of the folder as it is read. A file that
    /// is not a request is removed.
    static func take(_ home: Home) -> [RunnerRequest] {
        let folder = Self.folder(home)
        var requests: [RunnerRequest] = []
        for name in (ChildProcess.files(in: folder) ?? []).sorted() where name.hasSuffix(".request") {
            let path = "\(folder)/\(name)"
            let bytes = (try? SystemAccess.readSmallFile(path, limit: 64 << 10))?.bytes ?? []
            ChildProcess.remove(path)
            guard let json = try? JSON(parsing: String(decoding: bytes, as: UTF8.self)), let request = Self(json),
                request.reply.hasPrefix(folder + "/")
            else { continue }
            requests.append(request)
        }
        return requests
    }

    /// In the runner: the answer, one line for the command to print (or its refusal), written
    /// off the loop.
    func answer(_ outcome: Result<String, ToolError>, through writer: BackgroundFileWriter) {
        let json: JSON
        switch outcome {
        case .success(let line): json = .object([("ok", .bool(true)), ("line", .string(line))])
        case .failure(let error): json = .object([("ok", .bool(false)), ("line", .string(error.description))])
        }
        writer.write(reply, Array(json.description.utf8), mode: 0o600)
    }

    /// In a command: asks the running group's runner and waits for its answer line.
    static func send(_ command: Command, role: String, to home: Home) throws(ToolError) -> String {
        guard let state = home.runningGroup(), case .integer(let pid)? = state["pid"] else {
            throw ToolError("no group is running in \(home.path)")
        }
        let folder = Self.folder(home)
        let stamp = "\(ChildProcess.currentProcessID())-\(UInt32.random(in: 0...UInt32.max))"
        let request = RunnerRequest(command: command, role: role, reply: "\(folder)/\(stamp).answer")
        do {
            try SystemAccess.makeDirectories(folder, mode: 0o700)
            try SystemAccess.writeFileAtomically(
                "\(folder)/\(stamp).request", Array(request.json.description.utf8), mode: 0o600)
        } catch {
            throw ToolError("cannot ask the runner: \(error)")
        }
        ChildProcess.signal(Int32(pid), Self.signal)
        defer { ChildProcess.remove(request.reply) }
        let deadline = Deadline.after(answerLimit)
        while Deadline.now() < deadline {
            if let (bytes, _) = try? SystemAccess.readSmallFile(request.reply),
                let answer = try? JSON(parsing: String(decoding: bytes, as: UTF8.self)),
                case .bool(let ok)? = answer["ok"], case .string(let line)? = answer["line"]
            {
                guard ok else { throw ToolError(line) }
                return line
            }
            guard ChildProcess.isAlive(Int32(pid)) else { throw ToolError("the runner ended before it answered") }
            usleep(5_000) // the answer is a file: looked at, not waited on
        }
        ChildProcess.remove("\(folder)/\(stamp).request")
        throw ToolError("the runner (pid \(pid)) did not answer within 20 s: see \(home.groupLog)")
    }
}
