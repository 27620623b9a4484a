import Logging
import Platform
import PubSub

/// What a node's main object is given: its typed settings and input, and where it runs.
public struct NodeEnvironment<Settings: Sendable, Input: Sendable>: Sendable {
    public let settings: Settings
    /// The input file's value, if there was one.
    public let input: Input?
    public let homePath: String?
    public let roleName: String?
    /// The process group's directory, from `--group-address` or `ANSAR_GROUP_ADDRESS`.
    public let groupAddress: SocketAddress?
    /// Command-line words that are not flags.
    public let arguments: [String]
}

/// Turns an object into a process (the seed's `create_node`): parses the framework flags and the
/// program's own settings flags, loads settings and input from the home or from files, logs to
/// stderr, runs the main object until it completes and writes its value to stdout — the only
/// thing written there — then exits with an ``ExitStatus``.
///
/// ```swift
/// struct Settings: Codable, Sendable { var name = "Buster"; var seconds = 1.0 }
///
/// @main struct Greeter {
///     static func main() {
///         Node.run(name: "greeter", settings: Settings()) { mailbox, node in
///             Welcome(myName: node.settings.name, yourName: "Gladys")
///         }
///     }
/// }
/// ```
///
/// `greeter --name=Gladys --seconds=2.5` overrides settings (typed by their defaults: a flag of
/// the wrong type is refused naming the flag); `--help` lists every flag with its default.
public enum Node {
    /// The environment variable a runner uses to pass the group's directory address.
    public static let groupAddressVariable = "ANSAR_GROUP_ADDRESS"

    /// Runs a sequential main object as this process; never returns.
    public static func run<Settings: Codable & Sendable, Input: Codable & Sendable>(
        name: String, about: String = "", settings defaults: Settings, input: Input.Type,
        arguments: [String] = Array(CommandLine.arguments.dropFirst()),
        _ main: @escaping @Sendable (Mailbox, NodeEnvironment<Settings, Input>) async throws -> any Message
    ) -> Never {
        let code = execute(name: name, about: about, settings: defaults, input: input, arguments: arguments) {
            runtime, environment in
            try runtime.run { mailbox in try await main(mailbox, environment) }
        }
        SystemAccess.exit(code)
    }

    /// Runs a handler-style main object, made from the environment, as this process; never returns.
    /// A name of its own, not an overload of ``run(name:about:settings:input:arguments:_:)``: with
    /// two overloads taking a trailing closure, a type error inside one was reported as a mismatch
    /// with the other.
    public static func runHandler<Settings: Codable & Sendable, Input: Codable & Sendable, Main: Object>(
        name: String, about: String = "", settings defaults: Settings, input: Input.Type,
        arguments: [String] = Array(CommandLine.arguments.dropFirst()),
        object make: @escaping (NodeEnvironment<Settings, Input>) -> Main
    ) -> Never {
        let code = execute(name: name, about: about, settings: defaults, input: input, arguments: arguments) {
            runtime, environment in
            try runtime.run(make(environment))
        }
        SystemAccess.exit(code)
    }

    static func execute<Settings: Codable & Sendable, Input: Codable & Sendable>(
        name: String, about: String, settings defaults: Settings, input: Input.Type, arguments: [String],
        run: (Runtime, NodeEnvironment<Settings, Input>) throws -> any Message
    ) -> Int32 {
        // A runner's pipe (before any thread starts: it edits the environment): told once the
        // command line, files, lock and runtime are good, so a role that cannot start is seen as
        // failing at launch, not as a running role that ended.
        let launch = Readiness.inherited()
        do throws(NodeFailure) {
            let options = try NodeOptions(parsing: arguments)
            if options.help {
                print(try help(name: name, about: about, defaults: defaults))
                return ExitStatus.success.rawValue
            }
            let (settings, settingsJSON) = try options.settings(defaults)
            let loaded = try options.input(input)
            if options.check { return ExitStatus.success.rawValue }
            if options.dumpSettings {
                print(settingsJSON.pretty)
                return ExitStatus.success.rawValue
            }
            if options.dumpInput {
                print((loaded?.1 ?? .null).pretty)
                return ExitStatus.success.rawValue
            }
            if options.storeSettings {
                try store(settingsJSON, options)
                return ExitStatus.success.rawValue
            }
            if let home = options.homePath.map(HomeLayout.init), let role = options.roleName,
                SystemAccess.exists(home.locks)
            {
                // One process per role: the lock is the kernel's, so a crashed process frees it.
                guard ChildProcess.holdLock(home.lock(of: role)) else {
                    throw NodeFailure(code: .usage, message: "role \(role) is already running in \(home.path)")
                }
            }
            Logs.bootstrap(process: name, level: options.debugLevel)
            let group = try groupAddress(options)
            let secret = try realmSecret(options)
            let identity = try roleIdentity(options)
            let environment = NodeEnvironment(
                settings: settings, input: loaded?.0, homePath: options.homePath, roleName: options.roleName,
                groupAddress: group, arguments: options.arguments)
            let tuning: Tuning
            do throws(TuningError) { tuning = options.tuning.over(try Tuning.fromEnvironment()) } catch {
                throw NodeFailure(code: .usage, message: error.description)
            }
            let value: any Message
            do {
                let runtime = try tuning.makeRuntime(secret: secret, identity: identity)
                runtime.pubSub.groupAddress = group
                launch?.announce()
                value = try run(runtime, environment)
            } catch {
                throw NodeFailure(code: .framework, message: "cannot run: \(error)")
            }
            print(options.pureObject ? Printing.json(value).description : Printing.human(value))
            switch value {
            case let fault as Faulted:
                return fault.exitCode.map { Int32(clamping: $0 & 0xFF) } ?? ExitStatus.faulted.rawValue
            case is Aborted: return ExitStatus.aborted.rawValue
            default: return ExitStatus.success.rawValue
            }
        } catch {
            SystemAccess.writeStandardError("\(name): \(error.message)\n")
            return error.code.rawValue
        }
    }

    static func help<Settings: Codable>(name: String, about: String, defaults: Settings) throws(NodeFailure) -> String {
        var text = "usage: \(name) [--SETTING=VALUE ...] [FLAGS] [ARGUMENTS]\n"
        if !about.isEmpty { text += "\n\(about)\n" }
        let json: JSON
        do { json = try JSON(encoding: defaults) } catch {
            throw NodeFailure(code: .framework, message: "default settings cannot be encoded: \(error)")
        }
        if case .object(let members) = json, !members.isEmpty {
            text += "\nsettings (default value):\n"
            for (key, value) in members {
                let kind: String
                switch value {
                case .bool: kind = "true|false"
                case .integer, .unsigned: kind = "INTEGER"
                case .double: kind = "NUMBER"
                case .string: kind = "TEXT"
                default: kind = "JSON"
                }
                let flag = "  --\(NodeOptions.flagName(key))=\(kind)"
                text += flag + String(repeating: " ", count: max(1, 27 - flag.count)) + "\(value)\n"
            }
        }
        return text + "\nflags:\n" + NodeOptions.frameworkHelp
    }

    private static func store(_ settings: JSON, _ options: NodeOptions) throws(NodeFailure) {
        guard let path = options.settingsPath else {
            throw NodeFailure(
                code: .usage, message: "--store-settings needs --settings-file, or --home-path with --role-name")
        }
        do {
            if let slash = path.lastIndex(of: "/") { try SystemAccess.makeDirectories(String(path[..<slash])) }
            try SystemAccess.writeFileAtomically(path, Array((settings.pretty + "\n").utf8))
        } catch {
            throw NodeFailure(code: .badFile, message: "settings file \(path): \(error)")
        }
    }

    private static func groupAddress(_ options: NodeOptions) throws(NodeFailure) -> SocketAddress? {
        guard let text = options.groupAddress ?? SystemAccess.environment(groupAddressVariable) else { return nil }
        do {
            return try SocketAddress(parsing: text)
        } catch {
            throw NodeFailure(code: .usage, message: "flag --group-address=\(text): \(error)")
        }
    }

    /// The role's identity from the home, if `ansar` issued one (else the transport makes a fresh one).
    private static func roleIdentity(_ options: NodeOptions) throws(NodeFailure) -> Identity? {
        guard let home = options.homePath.map(HomeLayout.init), let role = options.roleName,
            SystemAccess.exists(home.key(of: role))
        else { return nil }
        do {
            return try Identity(contentsOfFile: home.key(of: role))
        } catch {
            throw NodeFailure(code: .badFile, message: "identity \(error)")
        }
    }

    /// The realm secret: `ANSAR_REALM_SECRET`, else the home's `secret` file, else a fresh one
    /// (the process then talks only to itself).
    private static func realmSecret(_ options: NodeOptions) throws(NodeFailure) -> RealmSecret {
        do {
            if let secret = try RealmSecret.fromEnvironment() { return secret }
            if let home = options.homePath.map(HomeLayout.init), SystemAccess.exists(home.secret) {
                return try RealmSecret(contentsOfFile: home.secret)
            }
        } catch {
            throw NodeFailure(code: .badFile, message: "realm secret \(error)")
        }
        return .generate()
    }
}
