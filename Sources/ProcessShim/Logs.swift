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
}
