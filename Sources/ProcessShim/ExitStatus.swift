/// How a node process ends (its exit status; not ArgumentParser's `ExitCode`, which the `ansar`
/// command throws). Documented in `docs/actors.md`; the `ansar` runner relies on them.
public enum ExitStatus: Int32, Sendable {
    /// The main object completed with a value that is not a fault.
    case success = 0
    /// A bad command line: unknown flag, wrong type, missing value.
    case usage = 64
    /// A settings or input file that cannot be read or does not fit its type.
    case badFile = 65
    /// The main object completed with ``Faulted`` (its own `exitCode` wins when set).
    case faulted = 70
    /// The runtime itself could not start (no reactor, say).
    case framework = 71
    /// A second SIGINT/SIGTERM ended the main object before it stopped.
    case aborted = 130
}
