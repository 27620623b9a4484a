import Logging
import Platform
import PubSub

/// Settings or input for programs that have none.
public struct Nothing: Codable, Sendable, Equatable {
    public init() {}
}

/// A node's command line and files could not be used: one line saying what and where.
struct NodeFailure: Error {
    let code: ExitStatus
    let message: String
}

/// The framework flags every node understands, and the program's own settings flags.
///
/// Parsed here, not by swift-argument-parser (which the `ansar` command uses): a node's settings
/// flags are made at run time from its `Settings` value (`--name=Gladys`, typed by the default's
/// JSON), which ArgumentParser, declaring flags statically, would pass on as leftovers for this
/// parser anyway; and every role a runner starts or restarts would pay for it — a program parsing
/// three flags with ArgumentParser started in 7.2–8.6 ms against 4.8–5.4 ms with a loop like this
/// one (release builds, 100 starts each, this VM). The framework flags'
/// names are ``LaunchFlags``', shared with the runner that passes them.
struct NodeOptions {
    var help = false
    var debugLevel: Logger.Level? = .warning
    var homePath: String?
    var roleName: String?
    var groupAddress: String?
    var settingsFile: String?
    var inputFile: String?
    var pureObject = false
    var storeSettings = false
    var dumpSettings = false
    var dumpInput = false
    var check = false
    /// Link and loop settings from the flags (laid over the environment's).
    var tuning = Tuning()
    var settingFlags: [(name: String, value: String?)] = []
    var arguments: [String] = []

    static let frameworkHelp = """
          --help                   this text
          --debug-level=LEVEL      log to stderr from LEVEL up: TRACE, DEBUG, INFO, NOTICE, WARNING (default), ERROR, \
          NONE
          --home-path=PATH         the home this process runs in (with --role-name)
          --role-name=NAME         the role: settings in HOME/settings/NAME.json, input in HOME/input/NAME.json
          --group-address=ADDRESS  the process group's directory (host:port, /path or @abstract)
          --settings-file=FILE     settings from FILE instead of the home
          --input-file=FILE        input from FILE instead of the home
          --pure-object            write the result as JSON
          --store-settings         save the settings, with these flags applied, and exit
          --dump-settings          print the settings as JSON and exit
          --dump-input             print the input as JSON and exit
          --check                  check the settings and input (types, unknown keys) and exit
        """ + "\n"
        + Tuning.settings.map { setting in
            let flag = "  --\(setting.flag)=VALUE"
            return flag + String(repeating: " ", count: max(1, 27 - flag.count))
                + "\(setting.help); or \(setting.variable)"
        }.joined(separator: "\n")

    init(parsing arguments: [String]) throws(NodeFailure) {
        var positional = false
        for argument in arguments {
            if positional || !argument.hasPrefix("--") || argument == "--" {
                if argument == "--" && !positional { positional = true } else { self.arguments.append(argument) }
                continue
            }
            let body = argument.dropFirst(2)
            let name: String
            let value: String?
            if let equals = body.firstIndex(of: "=") {
                name = String(body[..<equals])
                value = String(body[body.index(after: equals)...])
            } else {
                name = String(body)
                value = nil
            }
            func text() throws(NodeFailure) -> String {
                guard let value, !value.isEmpty else {
                    throw NodeFailure(code: .usage, message: "flag --\(name) needs a value (--\(name)=...)")
                }
                return value
            }
            func flag() throws(NodeFailure) -> Bool {
                guard let value else { return true }
                guard let parsed = Self.boolean(value) else {
                    throw NodeFailure(code: .usage, message: "flag --\(name)=\(value): expected true or false")
                }
                return parsed
            }
            switch name {
            case "help": help = try flag()
            case LaunchFlags.debugLevel:
                let level = try text()
                guard let parsed = Logs.level(named: level) else {
                    throw NodeFailure(
                        code: .usage,
                        message:
                            "flag --debug-level=\(level): expected TRACE, DEBUG, INFO, NOTICE, WARNING, ERROR or NONE")
                }
                debugLevel = parsed
            case LaunchFlags.homePath: homePath = try text()
            case LaunchFlags.roleName: roleName = try text()
            case LaunchFlags.groupAddressFlag: groupAddress = try text()
            case "settings-file": settingsFile = try text()
            case "input-file": inputFile = try text()
            case LaunchFlags.pureObject: pureObject = try flag()
            case "store-settings": storeSettings = try flag()
            case "dump-settings": dumpSettings = try flag()
            case "dump-input": dumpInput = try flag()
            case "check": check = try flag()
            case _ where Tuning.isSetting(name):
                let setting = try text()
                do throws(TuningError) { try tuning.set(name, to: setting) } catch {
                    throw NodeFailure(code: .usage, message: error.description)
                }
            default: settingFlags.append((name, value))
            }
        }
    }

    /// How a settings member is spelled as a flag: `clientName` and `client_name` as `client-name`.
    static func flagName(_ key: String) -> String {
        var name = ""
        for character in key {
            if character == "_" {
                name.append("-")
            } else if character.isUppercase {
                name += "-" + character.lowercased()
            } else {
                name.append(character)
            }
        }
        return name
    }

    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "1", "on": return true
        case "false", "no", "0", "off": return false
        default: return nil
        }
    }

    /// Where settings are read from (and stored to): `--settings-file`, else the home's file.
    var settingsPath: String? { settingsFile ?? homeFile(.settings) }
    var inputPath: String? { inputFile ?? homeFile(.input) }

    private func homeFile(_ kind: HomeLayout.RoleFile) -> String? {
        guard let homePath, let roleName else { return nil }
        return HomeLayout(homePath).file(kind, of: roleName)
    }

    // MARK: - Settings

    /// The defaults, overlaid with the settings file, then with the flags; checked against the type
    /// after each step so that an error names its source.
    func settings<Settings: Codable>(_ defaults: Settings) throws(NodeFailure) -> (Settings, JSON) {
        var json: JSON
        do {
            json = try JSON(encoding: defaults)
        } catch {
            throw NodeFailure(code: .framework, message: "default settings cannot be encoded: \(error)")
        }
        if let path = settingsPath,
            let file = try Self.readJSON(path, required: settingsFile != nil, what: "settings file")
        {
            json = json.overlaid(with: file)
            let decoded = try Self.decode(Settings.self, json, source: "settings file \(path)", code: .badFile)
            try Self.refuseUnknownKeys(file, understood: decoded, source: "settings file \(path)")
        }
        for (name, value) in settingFlags {
            json = try Self.apply(flag: name, value, to: json)
        }
        let settings = try Self.decode(Settings.self, json, source: "settings flags", code: .usage)
        return (settings, json)
    }

    func input<Input: Codable>(_: Input.Type) throws(NodeFailure) -> (Input, JSON)? {
        guard let path = inputPath, let json = try Self.readJSON(path, required: inputFile != nil, what: "input file")
        else { return nil }
        let decoded = try Self.decode(Input.self, json, source: "input file \(path)", code: .badFile)
        try Self.refuseUnknownKeys(json, understood: decoded, source: "input file \(path)")
        return (decoded, json)
    }

    /// A file's members that its type does not know would be dropped in silence by decoding (a
    /// typo'd key, say): they are refused, named, with the keys that are known there. What the
    /// type knows is what the decoded value encodes to, so optional members set in the file count
    /// as known; a null member counts as absent.
    static func refuseUnknownKeys(_ given: JSON, understood value: some Encodable, source: String)
        throws(NodeFailure)
    {
        guard let understood = try? JSON(encoding: value) else { return }
        if let (path, known) = firstUnknownKey(given, understood: understood, at: []) {
            let knownText = known.isEmpty ? "none" : known.joined(separator: ", ")
            throw NodeFailure(
                code: .badFile,
                message: "\(source): unknown key \(path.joined(separator: ".")) (known there: \(knownText))")
        }
    }

    private static func firstUnknownKey(_ given: JSON, understood: JSON, at path: [String])
        -> ([String], [String])?
    {
        guard case .object(let members) = given, case .object(let known) = understood else { return nil }
        for (key, value) in members where value != .null {
            guard let match = known.first(where: { $0.0 == key }) else { return (path + [key], known.map(\.0)) }
            if let found = firstUnknownKey(value, understood: match.1, at: path + [key]) { return found }
        }
        return nil
    }

    static func decode<T: Decodable>(_ type: T.Type, _ json: JSON, source: String, code: ExitStatus) throws(NodeFailure)
        -> T
    {
        do {
            return try json.decode(type)
        } catch let error as WireError {
            throw NodeFailure(code: code, message: "\(source): \(error)")
        } catch {
            throw NodeFailure(code: code, message: "\(source): \(error)")
        }
    }

    /// A JSON file's value; nil when an optional file is absent.
    static func readJSON(_ path: String, required: Bool, what: String) throws(NodeFailure) -> JSON? {
        guard SystemAccess.exists(path) else {
            if required { throw NodeFailure(code: .badFile, message: "\(what) \(path): not found") }
            return nil
        }
        do {
            return try JSON(objectAt: path)
        } catch {
            throw NodeFailure(code: .badFile, message: "\(what) \(path): \(error)")
        }
    }

    /// Sets the member a flag names (`--retry.seconds=2`, `--client-name=x` for `clientName` or
    /// `client_name`), typed by the value it replaces.
    static func apply(flag name: String, _ value: String?, to json: JSON) throws(NodeFailure) -> JSON {
        let path = name.split(separator: ".").map(String.init)
        guard let (keys, current) = json.resolve(path) else {
            throw NodeFailure(code: .usage, message: "unknown flag --\(name) (see --help)")
        }
        let replacement: JSON
        switch current {
        case .bool:
            guard let parsed = value.map(boolean) ?? true else {
                throw NodeFailure(code: .usage, message: "flag --\(name)=\(value!): expected true or false")
            }
            replacement = .bool(parsed)
        case .integer, .unsigned:
            guard let value, let parsed = Int64(value) else {
                throw NodeFailure(code: .usage, message: "flag --\(name)=\(value ?? ""): expected an integer")
            }
            replacement = .integer(parsed)
        case .double:
            guard let value, let parsed = Double(value), parsed.isFinite else {
                throw NodeFailure(code: .usage, message: "flag --\(name)=\(value ?? ""): expected a number")
            }
            replacement = .double(parsed)
        case .string:
            guard let value else {
                throw NodeFailure(code: .usage, message: "flag --\(name) needs a value (--\(name)=...)")
            }
            replacement = .string(value)
        case .null, .array, .object:
            guard let value, let parsed = try? JSON(parsing: value) else {
                throw NodeFailure(code: .usage, message: "flag --\(name)=\(value ?? ""): expected a JSON value")
            }
            replacement = parsed
        }
        return json.replacing(keys, with: replacement)
    }
}

extension JSON {
    /// `other`'s members replace this object's, recursively; anything else replaces it whole.
    func overlaid(with other: JSON) -> JSON {
        guard case .object(var members) = self, case .object(let overrides) = other else { return other }
        for (key, value) in overrides {
            if let index = members.firstIndex(where: { $0.0 == key }) {
                members[index].1 = members[index].1.overlaid(with: value)
            } else {
                members.append((key, value))
            }
        }
        return .object(members)
    }

    /// Finds the member a flag path names, trying each part as written, in camelCase and in
    /// snake_case; returns the real keys and the value there.
    func resolve(_ path: [String]) -> ([String], JSON)? {
        guard let first = path.first else { return ([], self) }
        guard case .object(let members) = self else { return nil }
        let spellings = [first, Self.camelCase(first), first.replacingDashes(with: "_")]
        for spelling in spellings {
            if let member = members.first(where: { $0.0 == spelling }),
                let (rest, value) = member.1.resolve(Array(path.dropFirst()))
            {
                return ([spelling] + rest, value)
            }
        }
        return nil
    }

    func replacing(_ keys: [String], with value: JSON) -> JSON {
        guard let first = keys.first, case .object(var members) = self,
            let index = members.firstIndex(where: { $0.0 == first })
        else {
            return value
        }
        members[index].1 = members[index].1.replacing(Array(keys.dropFirst()), with: value)
        return .object(members)
    }

    static func camelCase(_ name: String) -> String {
        let parts = name.split(separator: "-")
        guard let head = parts.first else { return name }
        return String(head) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}

extension String {
    func replacingDashes(with replacement: Character) -> String { String(map { $0 == "-" ? replacement : $0 }) }
}
