/// What publish/subscribe keeps on each runtime, registered on it by type: where the process
/// group's directory is, and this runtime's process directory once it is made.
public final class PubSubRuntime {
    /// The process group's directory, when this process runs in a group (``Node`` sets it from
    /// `--group-address`); the process directory links to it.
    public var groupAddress: SocketAddress?
    private var directory: (address: Address, object: ProcessDirectory)?

    init() {
        // Known before any link opens, so a peer's first frame of one is refused, not held.
        for type in Self.localOnlyTypes { MessageRegistry.register(type) }
    }

    /// The pub-sub layer's ``LocalOnlyMessage`` types: its answers to local objects, their
    /// requests to the process directory, its timers.
    static let localOnlyTypes: [any Message.Type] = [
        Published.self, NotPublished.self, Subscribed.self, NotSubscribed.self, Available.self,
        Dropped.self, Cleared.self, NotCleared.self, Retracted.self, NotRetracted.self, SessionOpened.self,
        PublishRequest.self, SubscribeRequest.self, ClearRequest.self, RetractRequest.self, ControlOutbox.RetryDue.self,
        ProcessDirectory.ReopenDue.self, ProcessDirectory.RelayOverdue.self, ProcessDirectory.DoubtDue.self,
    ]

    /// The process directory, made on first use; nil if the object table is full.
    func directory(on runtime: Runtime) -> (address: Address, object: ProcessDirectory)? {
        if let directory, runtime.isRunning(directory.address) { return directory }
        let object = ProcessDirectory()
        guard let address = runtime.create(object) else { return nil }
        directory = (address, object)
        return directory
    }
}

extension Runtime {
    /// This runtime's publish/subscribe state.
    public var pubSub: PubSubRuntime { attachment(PubSubRuntime.self) { PubSubRuntime() } }
}

extension RuntimeThread {
    /// A runtime thread whose process directory links to the group directory at `groupAddress`.
    public convenience init(
        transport: TransportConfiguration = TransportConfiguration(secret: .generate()),
        limits: RuntimeLimits = RuntimeLimits(), tuning: Tuning = Tuning(),
        groupAddress: SocketAddress?, _ main: @escaping @Sendable (Mailbox) async throws -> any Message
    ) {
        self.init(
            transport: transport, limits: limits, tuning: tuning, prepare: { $0.pubSub.groupAddress = groupAddress },
            main)
    }
}
