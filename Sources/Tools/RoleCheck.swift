import Platform
import ProcessShim

#if canImport(Glibc)
    import Glibc
#endif

/// Asking a role's own executable whether settings or input fit it: the process shim knows the
/// types (`--check` decodes them as a run would, and names a wrong type or an unknown key), the
/// `ansar` command does not.
extension Home {
    /// How long an executable may take to answer `--check`.
    static let checkLimit = Duration.seconds(10)

    /// What ``check(_:_:for:)`` learned.
    enum CheckOutcome: Equatable {
        case fits
        /// The executable did not answer as a node does (not an ansar node, or it hung): nothing
        /// is known either way.
        case unchecked(String)
    }

    /// Asks the executable playing `role` whether `json` fits as its `kind` (with the role's other
    /// stored file as it is). A misfit is refused with the executable's own line; nothing is
    /// stored either way.
    func check(_ json: JSON, _ kind: RoleFile, for role: Role) throws(ToolError) -> CheckOutcome {
        let draft = "\(path)/tmp/\(kind.rawValue)-\(role.name).check.json"
        let errors = "\(path)/tmp/\(kind.rawValue)-\(role.name).check.err"
        do {
            try SystemAccess.writeFileAtomically(draft, Array((json.pretty + "\n").utf8), mode: 0o600)
        } catch {
            throw ToolError("cannot prepare \(draft): \(error)")
        }
        defer {
            ChildProcess.remove(draft)
            ChildProcess.remove(errors)
        }
        let executable = "\(bin)/\(role.executable)"
        var environment = ChildProcess.currentEnvironment()
        environment[Readiness.variable] = nil
        let pid: Int32
        do {
            pid = try ChildProcess.spawnTied(
                executable,
                arguments: [
                    "--check", "--home-path=\(path)", "--role-name=\(role.name)", "--\(kind.rawValue)-file=\(draft)",
                ],
                environment: environment, stdout: "/dev/null", stderr: errors
            ).keeper
        } catch {
            throw ToolError("cannot start \(executable) to check the \(kind.rawValue): \(error)")
        }
        guard ChildProcess.waitForEnd(of: pid, upTo: Self.checkLimit) else {
            ChildProcess.killTied(pid)
            _ = ChildProcess.wait(pid)
            return .unchecked("\(role.executable) did not answer --check within 10 s")
        }
        let exit = ChildProcess.wait(pid)
        switch exit {
        case .code(ExitStatus.success.rawValue): return .fits
        case .code(ExitStatus.badFile.rawValue), .code(ExitStatus.usage.rawValue):
            // The shim's line is "NAME: KIND file PATH: what"; the draft's path means nothing here.
            var reason = lastLine(of: errors) ?? "refused (\(exit))"
            if reason.hasPrefix("\(role.executable): ") { reason.removeFirst(role.executable.count + 2) }
            reason = reason.replacing("\(kind.rawValue) file \(draft)", with: kind.rawValue)
            throw ToolError("role \(role.name): \(reason); nothing was stored")
        default:
            return .unchecked("\(role.executable) does not check \(kind.rawValue) (\(exit) to --check)")
        }
    }
}
