/// A box for state that only one thread ever touches (a reactor's, say), whose accesses skip
/// Swift's dynamic exclusivity checks: on a per-message hot path those checks cost more than the
/// work. Safe when every access happens on the owning thread and none overlaps another — that is,
/// when the code holding the box never reaches the same state again from inside an access.
/// Layers above the reactor, compiled with strict memory safety, use this instead of the
/// attribute they may not spell.
public final class Confined<Value> {
    // Inlinable accessors carry the unchecked access, as compiled here, into the client; a
    // client touching a stored property itself would emit its own checks.
    @exclusivity(unchecked) @usableFromInline
    var storage: Value

    public init(_ value: Value) { storage = value }

    @inlinable
    public var value: Value {
        _read { yield storage }
        _modify { yield &storage }
    }
}
