#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call: the errno it returned and the call that returned it.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The errno value (`ECONNREFUSED`, `EMFILE`, …).
    public let code: Int32
    /// The call that failed, e.g. `"connect"`.
    public let operation: StaticString

    public init(_ code: Int32, _ operation: StaticString) {
        self.code = code
        self.operation = operation
    }

    public var description: String {
        "\(operation): \(String(cString: strerror(code))) (errno \(code))"
    }

    public static func == (lhs: SystemError, rhs: SystemError) -> Bool {
        lhs.code == rhs.code && sameText(lhs.operation, rhs.operation)
    }
}

/// Compares two static strings' bytes without allocating.
package func sameText(_ a: StaticString, _ b: StaticString) -> Bool {
    a.withUTF8Buffer { x in b.withUTF8Buffer { y in x.elementsEqual(y) } }
}
