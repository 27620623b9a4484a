import Actors

/// Publishing and subscribing, for every kind of object (handler, machine, sequential).
extension ObjectContext {
    /// Lists this object under `name`: it receives ``Published`` (or ``NotPublished`` with the
    /// reason), then ``Delivered`` for each subscriber session, from the subscriber.
    ///
    /// With `session`, each session gets its own object at this end, made by `session` as a child
    /// of this one: it receives ``SessionOpened`` from the other end, and the other end's
    /// ``Available`` comes from it. When it completes, the session is cleared from this end; when
    /// the session ends otherwise, it receives ``Stop``.
    /// A name from input is made with `try ServiceName(text)`, which says what is wrong with it.
    public func publish(_ name: ServiceName, scope: Scope = .group, session: SessionFactory? = nil) {
        let factory = handOver(session)
        ask(directory: PublishRequest(name: name, scope: scope, factory: factory)) {
            NotPublished(name: name, reason: $0)
        }
    }

    /// Looks for publishers whose names match `search`: this object receives ``Subscribed`` (or
    /// ``NotSubscribed``), then ``Available`` for each matching publisher, from the publisher (or
    /// its session object). `session` works as for ``publish(_:scope:session:)``; the
    /// publisher's ``Delivered`` then comes from this end's session object. A string literal is an
    /// exact search; `Search(parsing:)` reads one from input.
    public func subscribe(_ search: Search, scope: Scope = .group, session: SessionFactory? = nil) {
        let factory = handOver(session)
        ask(directory: SubscribeRequest(search: search, scope: scope, factory: factory)) {
            NotSubscribed(search: search, reason: $0)
        }
    }

    /// Gives a session factory to the directory object itself; the request names it by number.
    private func handOver(_ factory: SessionFactory?) -> UInt64 {
        guard let factory, let directory = runtime.pubSub.directory(on: runtime) else { return 0 }
        return directory.object.keep(factory)
    }

    /// Ends a session from this side: this object receives ``Cleared`` (with `value`), the other
    /// end ``Dropped``. The same pair is not offered again while both are listed.
    public func clear(_ session: UInt64, value: (any Message)? = nil) {
        ask(directory: ClearRequest(session: session, value: value.map(AnyMessage.init))) { _ in nil as Dropped? }
    }

    /// Withdraws every listing and search of this object; its sessions end (``Cleared`` here,
    /// ``Dropped`` at the other ends).
    public func retract() {
        ask(directory: RetractRequest()) { _ in nil as Dropped? }
    }

    /// Sends a request to the runtime's directory as this object; if the directory cannot be had
    /// or refuses the request, `refusal` says what this object is told.
    private func ask<Refusal: Message>(directory request: some Message, refusal: (String) -> Refusal?) {
        guard let directory = runtime.pubSub.directory(on: runtime)?.address else {
            if let refusal = refusal("no room for the directory (object table full)") {
                try? send(refusal, to: address)
            }
            return
        }
        do {
            try send(request, to: directory)
        } catch {
            if let refusal = refusal("directory busy: \(error)") { try? send(refusal, to: address) }
        }
    }
}
