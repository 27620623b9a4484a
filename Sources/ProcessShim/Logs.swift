import Logging

/// The one logging set-up of an ansar process (a node or the `ansar` command): every line to
/// stderr, under its layer's own label (`ansar.reactor`, `ansar.transport`, `ansar.actors`, …) and
/// tagged with the process's name, so the lines of many processes in one log can be told apart.
public enum Logs {
    /// Bootstraps swift-log once for this process: lines at `level` and above (nil: none).
    public static func bootstrap(process: String, level: Logger.Level?) {
        let tag = Logger.MetadataProvider { ["process": .string(process)] }
        LoggingSystem.bootstrap(
            { label, provider in
                guard let level else { return SwiftLogNoOpLogHandler() }
                var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                handler.logLevel = level
                return handler
            }, metadataProvider: tag)
    }

    /// The level a `--debug-level` name means (the seed's names too: OBJECT, CONSOLE, FAULT); NONE
    /// is `.some(nil)`, no lines; an unknown name is nil.
    public static func level(named name: String) -> Logger.Level?? {
        switch name.uppercased() {
        case "TRACE": return .some(.trace)
        case "DEBUG": return .some(.debug)
        case "INFO", "OBJECT": return .some(.info)
        case "NOTICE", "CONSOLE": return .some(.notice)
        case "WARNING": return .some(.warning)
        case "ERROR", "FAULT": return .some(.error)
        case "CRITICAL": return .some(.critical)
        case "NONE": return .some(nil)
        default: return nil
        }
    }

    /// The names ``level(named:)`` takes, for a refusal to list.
    public static let levelNames = "TRACE, DEBUG, INFO, NOTICE, WARNING, ERROR or NONE"
}
