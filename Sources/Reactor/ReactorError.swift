import Platform

@_exported import struct Platform.Deadline
@_exported import struct Platform.SystemError

/// Everything a reactor operation can report to its owner. Never a crash, never silence.
public enum ReactorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kernel refused: connection refused, reset by peer, address in use, out of descriptors…
    case system(SystemError)
    /// A fixed limit set at init was reached; nothing was queued.
    case limitReached(Limit)
    /// The socket or timer was already closed (its identifier is stale); nothing was done.
    case closed
    /// A connect deadline passed before the connection was established.
    case timedOut
    /// The socket is not in a state that allows this operation (e.g. sending on a listener).
    case invalidState(StaticString)
    /// The address could not be parsed or is too long for its family.
    case invalidAddress(String)
    /// The reactor could not start (both backends failed, or the forced one did).
    case unavailable(String)

    /// The fixed limits a reactor enforces.
    public enum Limit: String, Sendable {
        case sockets, timers, sendQueueBytes, sendChunks, receiveBuffers, submissionQueue
    }

    /// The errno behind a `.system` error, if any.
    public var errno: Int32? {
        if case .system(let error) = self { return error.code }
        return nil
    }

    public var description: String {
        switch self {
        case .system(let error): return error.description
        case .limitReached(let limit): return "limit reached: \(limit.rawValue)"
        case .closed: return "socket or timer already closed"
        case .timedOut: return "deadline passed"
        case .invalidState(let what): return "invalid state: \(what)"
        case .invalidAddress(let what): return "invalid address: \(what)"
        case .unavailable(let why): return "reactor unavailable: \(why)"
        }
    }

    /// Case by case, without building descriptions: refusals are compared on hot paths.
    public static func == (lhs: ReactorError, rhs: ReactorError) -> Bool {
        switch (lhs, rhs) {
        case (.system(let a), .system(let b)): return a == b
        case (.limitReached(let a), .limitReached(let b)): return a == b
        case (.closed, .closed), (.timedOut, .timedOut): return true
        case (.invalidState(let a), .invalidState(let b)): return sameText(a, b)
        case (.invalidAddress(let a), .invalidAddress(let b)): return a == b
        case (.unavailable(let a), .unavailable(let b)): return a == b
        default: return false
        }
    }
}
