/// A link — a connection as the actor runtime sees it — named by the runtime rather than by the
/// socket under it: a number its runtime never hands out twice, so an address that outlived its
/// link can never reach whatever link came next.
public struct LinkID: Hashable, Sendable, CustomStringConvertible {
    /// 1 up to 2^56 - 1; 0 is no link.
    let value: UInt64

    init(value: UInt64) { self.value = value }

    public var description: String { "link#\(value)" }
}
