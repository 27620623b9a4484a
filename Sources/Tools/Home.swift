import Platform
import ProcessShim

/// Something the command cannot do: one line naming the thing and the fix.
struct ToolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A role: a name, the deployed executable that plays it, and how often it is restarted when it
/// fails (exits non-zero or is killed), with backoff and jitter between attempts.
struct Role: Equatable {
    let name: String
    let executable: String
    var retries = 0
}

/// An ansar home: the folder a group lives in.
///
/// ```
/// HOME/secret            the realm secret (hex, mode 0600): every process of the home holds it
/// HOME/bin/              deployed executables
/// HOME/roles/ROLE.json   {"executable": "NAME"}
/// HOME/settings/ROLE.json, HOME/input/ROLE.json   what the process shim reads
/// HOME/logs/ROLE.log     each role's stderr (rotated past 4 MiB: ROLE.log.1 keeps the previous)
/// HOME/resource/, HOME/model/   files roles read, and files they keep
/// HOME/locks/ROLE        held by a running role (the process shim takes it; the kernel frees it)
/// HOME/tmp/              results of the last run, one file per role
/// ```
struct Home {
    static let defaultPath = HomeLayout.defaultPath
    static let folders = HomeLayout.folders
    /// A role's log is rotated when a run starts with it over this size: one older file is kept.
    static let logLimit = 4 << 20
    /// The paths the process shim shares.
    let layout: HomeLayout
    var path: String { layout.path }

    init(path: String) { layout = HomeLayout(path) }

    var bin: String { layout.bin }
    func entry(_ role: String) -> String { layout.entry(role) }
    func log(_ role: String) -> String { layout.log(role) }
    func result(_ role: String) -> String { layout.result(role) }
    /// A role's stored settings or input.
    func file(_ kind: RoleFile, of role: String) -> String { layout.file(kind, of: role) }
    /// The running group's state, its lock, and how its last stop went.
    var state: String { "\(path)/tmp/group.json" }
    var lock: String { "\(path)/tmp/group.lock" }
    var stopReport: String { "\(path)/tmp/last-stop.json" }
    /// Which roles failed while the group was launched (what `ansar start` reports).
    var launchReport: String { "\(path)/tmp/last-launch.json" }
    var groupLog: String { "\(path)/logs/group.log" }

    /// The last runs of a role, oldest first (at most ``historyLength``).
    static let historyLength = 8
    func historyFile(_ role: String) -> String { "\(path)/logs/\(role).history" }

    func history(_ role: String) -> [JSON] {
        guard let (bytes, _) = try? SystemAccess.readSmallFile(historyFile(role), limit: 1 << 20) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSON(parsing: String($0))
        }
    }

    /// Appends a run to a role's history, keeping the last ``historyLength``.
    /// A role's history with one more run (the last ``historyLength``), and its file's bytes.
    static func adding(_ run: JSON, to runs: [JSON]) -> (runs: [JSON], bytes: [UInt8]) {
        let kept = Array((runs + [run]).suffix(historyLength))
        return (kept, Array(kept.map { $0.description + "\n" }.joined().utf8))
    }

    /// The running group's state, if a group is running (its runner holds the home's lock).
    func runningGroup() -> JSON? {
        guard ChildProcess.isLockHeld(lock), let json = try? JSON(objectAt: state), case .integer? = json["pid"] else {
            return nil
        }
        return json
    }

    /// Makes a new home: the folders and a realm secret — fresh, or `secret` (another home's, so
    /// that homes on several hosts form one realm).
    /// Whether the running group, if any, has `role` running (or waiting to restart).
    func runningRole(_ role: String) -> Bool {
        guard let state = runningGroup(), case .array(let roles)? = state["roles"] else { return false }
        return roles.contains { entry in
            guard case .string(let name)? = entry["role"], name == role, case .string(let state)? = entry["state"]
            else {
                return false
            }
            return state == "running" || state == "restarting"
        }
    }

    static func create(at path: String, secret: RealmSecret? = nil) throws(ToolError) -> Home {
        guard !SystemAccess.exists(path) else { throw ToolError("\(path) already exists: use it, or remove it first") }
        do {
            for folder in folders { try SystemAccess.makeDirectories("\(path)/\(folder)") }
            try SystemAccess.writeFileAtomically(
                HomeLayout(path).secret, Array(((secret ?? RealmSecret.generate()).hex + "\n").utf8), mode: 0o600)
        } catch {
            throw ToolError("cannot create the home at \(path): \(error)")
        }
        return Home(path: path)
    }

    /// The home at `path`, checked to be one.
    static func open(_ path: String) throws(ToolError) -> Home {
        guard SystemAccess.exists(path) else {
            throw ToolError("no home at \(path): create one with `ansar create`, or give --home-path")
        }
        guard SystemAccess.exists(HomeLayout(path).secret), SystemAccess.exists("\(path)/roles") else {
            throw ToolError(
                """
                \(path) is not an ansar home (no secret or roles folder): give --home-path, or `ansar create` a new \
                one
                """
            )
        }
        return Home(path: path)
    }

    func secret() throws(ToolError) -> RealmSecret {
        do {
            return try RealmSecret(contentsOfFile: layout.secret)
        } catch {
            throw ToolError("realm secret \(error)")
        }
    }

    /// Role names are file names: 1–64 letters, digits, `-` or `_`, starting with a letter or digit.
    static func validate(role name: String) throws(ToolError) {
        func alphanumeric(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
        }
        let scalars = Array(name.unicodeScalars)
        guard (1...64).contains(scalars.count), let first = scalars.first, alphanumeric(first),
            scalars.allSatisfy({ alphanumeric($0) || $0 == "-" || $0 == "_" })
        else {
            throw ToolError(
                "invalid role name \"\(name)\": use 1-64 letters, digits, - and _, starting with a letter or digit")
        }
    }

    func role(_ name: String) throws(ToolError) -> Role {
        try Self.validate(role: name)
        let path = entry(name)
        guard SystemAccess.exists(path) else {
            throw ToolError("unknown role \(name): see `ansar list`, or `ansar add EXECUTABLE \(name)`")
        }
        do {
            let (bytes, _) = try SystemAccess.readSmallFile(path)
            let json = try JSON(parsing: String(decoding: bytes, as: UTF8.self))
            guard case .string(let executable)? = json["executable"] else {
                throw WireError(path: "executable", problem: "missing, or not a string")
            }
            var retries = 0
            switch json["retries"] {
            case nil: break
            case .integer(let count)? where count >= 0: retries = Int(count)
            default: throw WireError(path: "retries", problem: "expected a count of 0 or more")
            }
            return Role(name: name, executable: executable, retries: retries)
        } catch {
            throw ToolError("role entry \(path) is corrupt (\(error)): `ansar delete \(name)` and add it again")
        }
    }

    func roles() throws(ToolError) -> [Role] {
        let names = (ChildProcess.files(in: "\(path)/roles") ?? []).filter { $0.hasSuffix(".json") }.map {
            String($0.dropLast(5))
        }
        var roles: [Role] = []
        for name in names { roles.append(try role(name)) }
        return roles
    }

    func add(_ role: Role) throws(ToolError) {
        try Self.validate(role: role.name)
        guard !SystemAccess.exists(entry(role.name)) else {
            throw ToolError("role \(role.name) exists: `ansar delete \(role.name)` first")
        }
        try replace(role)
    }

    /// The last non-empty line of the file at `path` (read from its last 4 KiB), if any, without
    /// the time and role a captured line starts with.
    func lastLine(of path: String) -> String? {
        guard let bytes = SystemAccess.readTail(path, count: 4_096),
            let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").last
        else { return nil }
        return String(CapturedLine(line)?.text ?? line).prefix(300).description
    }

    /// Keeps the log at `path` bounded: past ``logLimit`` it becomes PATH.1 (replacing the older).
    func rotate(_ path: String, limit: Int = Home.logLimit) {
        guard let size = SystemAccess.fileSize(path), size > limit else { return }
        try? ChildProcess.rename(path, to: path + ".1")
    }

    /// Checks that a role's settings and input files, if any, are JSON objects.
    func checkFiles(of role: String) throws(ToolError) {
        for kind in RoleFile.allCases {
            let path = file(kind, of: role)
            guard SystemAccess.exists(path) else { continue }
            do {
                _ = try JSON(objectAt: path)
            } catch {
                throw ToolError(
                    """
                    \(kind.rawValue) file \(path) is corrupt (\(error)): fix it with `ansar edit \(kind.rawValue) \
                    \(role)`
                    """
                )
            }
        }
    }

    /// A role's stored settings or input, `{}` if none.
    func stored(_ kind: RoleFile, of role: String) throws(ToolError) -> JSON {
        let path = file(kind, of: role)
        guard SystemAccess.exists(path) else { return .object([]) }
        do {
            return try JSON(objectAt: path)
        } catch {
            throw ToolError(
                "\(path) is corrupt (\(error)): replace it with `ansar set \(kind.rawValue) \(role) --file FILE`")
        }
    }

    /// Stores a role's settings or input.
    func store(_ json: JSON, _ kind: RoleFile, for role: String) throws(ToolError) {
        do {
            try json.store(at: file(kind, of: role))
        } catch {
            throw ToolError("cannot store \(kind.rawValue) for \(role): \(error)")
        }
    }

    /// Writes a role's entry, new or not.
    func replace(_ role: Role) throws(ToolError) {
        guard ChildProcess.isExecutable("\(bin)/\(role.executable)") else {
            throw ToolError("no executable \(role.executable) in \(bin): deploy it first (`ansar deploy FOLDER`)")
        }
        let json = JSON.object([("executable", .string(role.executable)), ("retries", .integer(Int64(role.retries)))])
        do {
            try SystemAccess.writeFileAtomically(entry(role.name), Array((json.pretty + "\n").utf8))
        } catch {
            throw ToolError("cannot write \(entry(role.name)): \(error)")
        }
    }
}
