import Actors
import Platform

/// The log of a process `ansar` started in the background (the group's runner, a directory
/// daemon): its stdout and stderr, appended to one file, kept bounded while it runs. Every few
/// seconds it looks at the file's size; past `limit` the file becomes PATH.1 (replacing the older)
/// and the streams move to a new one — two files at most, as the roles' logs.
final class OwnLog: Object {
    struct CheckDue: LocalOnlyMessage {
        static let typeName = "ansar.tools.OwnLogCheck"
    }

    static let interval = Duration.seconds(2)
    let path: String
    let limit: Int

    init(path: String, limit: Int) {
        self.path = path
        self.limit = limit
    }

    func receive(_ message: any Message, context: Context) throws {
        switch message {
        case is Start:
            context.startTimer(CheckDue(), after: Self.interval, repeating: true)
        case is CheckDue:
            rotateIfFull(context)
        case is Stop:
            context.complete(Ack())
        default:
            break
        }
    }

    private func rotateIfFull(_ context: Context) {
        guard let size = SystemAccess.fileSize(path), size > limit else { return }
        do throws(SystemError) {
            try ChildProcess.rename(path, to: path + ".1")
            try SystemAccess.appendStandardStreams(to: path)
        } catch {
            context.runtime.logger.error("cannot rotate the log", metadata: ["path": "\(path)", "reason": "\(error)"])
        }
    }
}
