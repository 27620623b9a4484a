import ArgumentParser
import ProcessShim

/// The link and loop settings of `run`, `start` and `directory` (see ``Tuning``): they tune the
/// command's own runtime and reach every role it starts through the environment.
struct TuningOptions: ParsableArguments {
    @Option(help: ArgumentHelp(Tuning.help("keep-alive"), valueName: "PROBE/DEADLINE")) var keepAlive: String?
    @Option(help: ArgumentHelp(Tuning.help("network-keep-alive"), valueName: "PROBE/DEADLINE")) var networkKeepAlive:
        String?
    @Option(help: ArgumentHelp(Tuning.help("sockets"), valueName: "N")) var sockets: String?
    @Option(help: ArgumentHelp(Tuning.help("timers"), valueName: "N")) var timers: String?
    @Option(help: ArgumentHelp(Tuning.help("messages-per-turn"), valueName: "N")) var messagesPerTurn: String?

    private var given: [(flag: String, value: String)] {
        [
            ("keep-alive", keepAlive), ("network-keep-alive", networkKeepAlive), ("sockets", sockets),
            ("timers", timers),
            ("messages-per-turn", messagesPerTurn),
        ].compactMap { flag, value in value.map { (flag, $0) } }
    }

    /// The environment's settings with these flags laid over them; a bad value is refused with
    /// its flag or variable named.
    func tuning() throws(ToolError) -> Tuning {
        do throws(TuningError) {
            var flags = Tuning()
            for (flag, value) in given { try flags.set(flag, to: value) }
            return flags.over(try Tuning.fromEnvironment())
        } catch {
            throw ToolError(error.description)
        }
    }

    /// The flags again, for a command that starts this one in another process.
    var arguments: [String] { given.map { "--\($0.flag)=\($0.value)" } }
}
