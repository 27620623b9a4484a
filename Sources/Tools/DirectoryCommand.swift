import ArgumentParser
import Logging
import Platform
import ProcessShim

#if canImport(Glibc)
    import Glibc
#endif

/// The level a directory daemon serves.
enum DirectoryLevel: String, ExpressibleByArgument, CaseIterable {
    case host, lan, wan

    var scope: Scope {
        switch self {
        case .host: return .host
        case .lan: return .lan
        case .wan: return .wan
        }
    }

    func defaultAddress(realm: RealmSecret) -> String {
        switch self {
        case .host: return ScopeDirectory.hostAddress(of: realm).description
        case .lan: return "0.0.0.0:\(ScopeDirectory.lanPort)"
        case .wan: return "0.0.0.0:\(ScopeDirectory.wanPort)"
        }
    }

    /// The daemon's state file and log, by level: a host may run one of each.
    var stem: String { self == .host ? "directory" : "directory-\(rawValue)" }
}

struct DirectoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "directory",
        abstract:
            "Run a directory daemon: the machine's HOST directory (default), a LAN directory, or a WAN directory.",
        discussion: """
            HOST: groups link to it (`ansar run --host`); it finds the LAN directory by beacon, or --parent names it.
            LAN (--scope lan): host directories of the network link to it; it announces itself by UDP multicast and \
            broadcast beacons (port --beacon-port), and links to a WAN directory if --parent names one.
            WAN (--scope wan): LAN directories link to it by address; it relays sessions whose ends cannot reach each \
            other (--relay).
            All must share the realm secret (`ansar create --realm-of`). In the foreground until Ctrl-C, or with \
            --background until `ansar directory --scope … --stop`.
            Example: ansar directory --scope lan --background
            """)
    @OptionGroup var home: HomeOption
    @Option(help: "host, lan or wan.") var scope = DirectoryLevel.host
    @Option(
        help:
            "Where it listens (default: HOST @ansar-host-… named after the realm; LAN 0.0.0.0:32177; WAN 0.0.0.0:32178)."
    )
    var address: String?
    @Option(
        help: "The directory above: a HOST's LAN directory (instead of beacons), a LAN's WAN directory (host:port).")
    var parent: String?
    @Option(help: "The UDP port of LAN beacons (sent by a LAN directory, heard by HOST directories).") var beaconPort =
        LANBeacon.defaultPort
    @Flag(help: "HOST: do not look for a LAN directory; LAN: do not announce.") var noBeacons = false
    @Option(help: "WAN: where its relay listens (default 0.0.0.0:32179; `none` for no relay).") var relay: String?
    @Option(
        help:
            """
            WAN: name a relay that runs elsewhere (`ansar relay`) instead of running one; host 0.0.0.0 means this \
            machine. Needs --relay-key-file.
            """
    ) var relayAt: String?
    @Option(help: "WAN: the key of the relay --relay-at names (the file `ansar relay --write-key-file` made).")
    var relayKeyFile: String?
    @Flag(help: "Run in the background; return once it listens.") var background = false
    @Option(help: "In the background, its log becomes LOG.1 past this size, while it runs (K, M or G).")
    var logLimit = "4M"
    /// Set by --background for the process it starts: the log it keeps bounded.
    @Option(help: .hidden) var ownLog: String?
    @Flag(help: "Stop the directory of this --scope running in the background.") var stop = false
    @OptionGroup(title: "Links and loop") var tuning: TuningOptions

    func run() throws {
        // First, while this process has one thread: taking the readiness pipe unsets its
        // environment variable, which must not race the relay thread started below.
        let ready = Readiness.inherited()
        try perform(telling: ready) { () throws(ToolError) in
            let home = try Home.open(home.homePath)
            let state = "\(home.path)/tmp/\(scope.stem).json"
            if stop {
                guard let json = try? JSON(objectAt: state), case .integer(let pid)? = json["pid"],
                    ChildProcess.isAlive(Int32(pid))
                else {
                    throw ToolError("no \(scope.rawValue) directory is running from \(home.path)")
                }
                ChildProcess.signal(Int32(pid), SIGTERM)
                return
            }
            // One directory of a scope per home, held by a lock that ends with its process: a second
            // would find the address taken, and its state file would hide the first from --stop.
            // Refused at once; the first runs on.
            let lock = "\(home.path)/tmp/\(scope.stem).lock"
            let taken = background ? !ChildProcess.isLockHeld(lock) : ChildProcess.holdLock(lock)
            guard taken else {
                let pid = (try? JSON(objectAt: state)).flatMap { json -> Int64? in
                    if case .integer(let pid)? = json["pid"] { pid } else { nil }
                }
                throw ToolError(
                    "a \(scope.rawValue) directory is already running from \(home.path)"
                        + "\(pid.map { " (pid \($0))" } ?? ""): `ansar directory --scope=\(scope.rawValue) --stop` it first"
                )
            }
            let tuning = try self.tuning.tuning()
            let logLimit = try RoleLogOptions.logLimit(self.logLimit)
            let secret = try home.secret()
            let permissions = try home.permissions()
            let address = self.address ?? scope.defaultAddress(realm: secret)
            guard let listen = try? SocketAddress(parsing: address) else {
                throw ToolError("invalid address \(address): use host:port, /path or @name")
            }
            var links = ScopeDirectory.Links()
            if let parent {
                guard scope != .wan else { throw ToolError("a WAN directory has no parent") }
                guard let above = try? SocketAddress(parsing: parent), above.isTCP || scope == .host else {
                    throw ToolError("invalid parent address \(parent): use host:port")
                }
                links.parent = above
            }
            if !noBeacons && scope == .host && parent == nil { links.discoverOnPort = beaconPort }
            if !noBeacons && scope == .lan { links.beaconPort = beaconPort }
            var namedRelayKey: [UInt8]? = nil
            if let relayAt {
                guard scope == .wan, relay == nil else {
                    throw ToolError("--relay-at names a WAN directory's relay, instead of --relay")
                }
                guard let relayKeyFile else {
                    throw ToolError(
                        "--relay-at needs --relay-key-file: the file `ansar relay --write-key-file` made for that relay"
                    )
                }
                do {
                    namedRelayKey = try RelayTicket.key(contentsOfFile: relayKeyFile)
                } catch {
                    throw ToolError("relay key \(error)")
                }
                guard let at = try? SocketAddress(parsing: relayAt), at.isTCP else {
                    throw ToolError("invalid relay address \(relayAt): use host:port")
                }
                links.relay = at
            } else if scope == .wan, relay != "none" {
                let text = relay ?? "0.0.0.0:\(ScopeDirectory.wanPort + 1)"
                guard let at = try? SocketAddress(parsing: text), at.isTCP else {
                    throw ToolError("invalid relay address \(text): use host:port or none")
                }
                links.relay = at
            }
            if background {
                try startInBackground(home, state: state)
                return
            }
            if relayAt == nil, let at = links.relay {
                // Its own relay: a key no one else holds, so only this directory issues tickets.
                let key = RelayTicket.newKey()
                do {
                    links.relay = try RelaySwitch.startThread(listening: at, configuration: .init(key: key))
                } catch {
                    throw ToolError("cannot start the relay at \(at): \(error)")
                }
                links.relayKey = key
            } else if links.relay != nil {
                links.relayKey = namedRelayKey // the key that relay, and only this directory, holds
            }
            let level = scope
            let chosen = links
            let ownLog = self.ownLog
            Logs.bootstrap(process: "ansar directory", level: .info)
            let homePath = home.path
            // SIGHUP: the home's permissions read again (`ansar grant` sends it), as daemons do.
            _ = try joinGroup(secret, tuning: tuning, signals: [SIGHUP]) { mailbox in
                let directory = mailbox.create(
                    ScopeDirectory(listening: listen, scope: level.scope, links: chosen, permissions: permissions) {
                        bound in
                        let json = JSON.object([
                            ("pid", .integer(Int64(ChildProcess.currentProcessID()))), ("address", .string(bound)),
                        ])
                        try? json.store(at: state)
                        ready?.announce()
                    } whenRefused: { reason in
                        // Taken by another process (of this user, or another's: abstract names
                        // have no permissions): said, and the daemon ends rather than wait.
                        ready?.fail(reason)
                        SystemAccess.writeStandardError("ansar: \(reason)\n")
                        SystemAccess.exit(1)
                    })
                if let ownLog { mailbox.create(OwnLog(path: ownLog, limit: logLimit)) }
                while try await mailbox.select(Stop.self, Signalled.self) is Signalled {
                    guard let directory else { continue }
                    do {
                        try mailbox.send(PermissionsChanged(try Home.open(homePath).permissions()), to: directory)
                        mailbox.runtime.logger.notice("permissions read again")
                    } catch {
                        mailbox.runtime.logger.error("permissions not read again: \(error)")
                    }
                }
                ChildProcess.remove(state)
                return Ack()
            }
        }
    }

    /// Starts this same command in the foreground as a detached process; returns once it listens.
    private func startInBackground(_ home: Home, state: String) throws(ToolError) {
        guard let ansar = ChildProcess.currentExecutable() else { throw ToolError("cannot find the ansar executable") }
        ChildProcess.remove(state)
        let log = "\(home.path)/logs/\(scope.stem).log"
        home.rotate(log) // bounded like the group's: past 4 MiB it becomes .1, now and while it runs
        var arguments = [
            "directory", "--home-path=\(home.path)", "--scope=\(scope.rawValue)", "--beacon-port=\(beaconPort)",
        ]
        if let address { arguments.append("--address=\(address)") }
        if let parent { arguments.append("--parent=\(parent)") }
        if let relay { arguments.append("--relay=\(relay)") }
        if let relayAt { arguments.append("--relay-at=\(relayAt)") }
        if let relayKeyFile { arguments.append("--relay-key-file=\(relayKeyFile)") }
        if noBeacons { arguments.append("--no-beacons") }
        arguments += ["--log-limit=\(logLimit)", "--own-log=\(log)"]
        arguments += tuning.arguments
        let readiness: Readiness
        do {
            readiness = try Readiness()
            _ = try ChildProcess.spawn(
                ansar, arguments: arguments, environment: ChildProcess.currentEnvironment(), stdout: log, stderr: log,
                appendingOutput: true, detached: true,
                readiness: readiness)
        } catch {
            throw ToolError("cannot start the directory: \(error)")
        }
        switch readiness.wait(upTo: .seconds(10)) {
        case .ready: return
        case .failed(let reason): throw ToolError("the directory did not start: \(reason)")
        case .ended: throw ToolError("the directory ended before it listened: see \(log)")
        case .timedOut: throw ToolError("the directory did not come up within 10 s: see \(log)")
        }
    }
}

/// `ansar relay`: a relay on its own, for WAN directories that name it (`--relay-at`).
struct RelayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract:
            """
            Run a relay for WAN sessions whose ends cannot reach each other; a WAN directory names it with --relay-at.
            """,
        discussion: """
            It joins two connections that show tickets for the same session, issued by the WAN directory under the \
            relay key, and copies bytes both ways within its limits; the ends run the realm handshake across it, so it \
            reads nothing. The relay key is a random one in --key-file, which --write-key-file makes: give the same \
            file to the WAN directory (--relay-key-file) and to no one else, so only that directory issues tickets and \
            the relay's machine holds no realm secret. In the foreground until Ctrl-C or SIGTERM. Example: ansar relay \
            --write-key-file relay.key; ansar relay --key-file relay.key --address 0.0.0.0:32179
            """)
    /// Accepted like every command's (`ANSAR_HOME` scripts pass it), though a relay needs no home.
    @OptionGroup(visibility: .hidden) var home: HomeOption
    @Option(help: "Where it listens.") var address = "0.0.0.0:\(ScopeDirectory.wanPort + 1)"
    @Option(help: "The relay key (64 hexadecimal digits, mode 0600).") var keyFile: String?
    @Option(help: "Write a new random relay key to this file (0600) and exit.") var writeKeyFile: String?

    func run() throws {
        try perform { () throws(ToolError) in
            if let writeKeyFile {
                let key = RelayTicket.newKey()
                do {
                    try SystemAccess.writeFileAtomically(
                        writeKeyFile, Array((RelayTicket.text(of: key) + "\n").utf8), mode: 0o600)
                } catch {
                    throw ToolError("cannot write \(writeKeyFile): \(error)")
                }
                print("wrote the relay key to \(writeKeyFile)")
                return
            }
            guard let keyFile else {
                throw ToolError(
                    "ansar relay needs --key-file: make one with --write-key-file, and give it to the WAN directory")
            }
            let key: [UInt8]
            do {
                key = try RelayTicket.key(contentsOfFile: keyFile)
            } catch {
                throw ToolError("relay key \(error)")
            }
            guard let listen = try? SocketAddress(parsing: address), listen.isTCP else {
                throw ToolError("invalid address \(address): use host:port")
            }
            let relay: RelaySwitch
            do {
                relay = try RelaySwitch(listening: listen, configuration: .init(key: key))
            } catch {
                throw ToolError("cannot listen at \(address): \(error)")
            }
            SystemAccess.writeStandardError("ansar: relay listening at \(relay.address)\n")
            do {
                try relay.run()
            } catch {
                throw ToolError("relay stopped: \(error)")
            }
        }
    }
}
