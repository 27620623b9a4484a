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
        let asked = ask(directory: PublishRequest(name: name, scope: scope, factory: factory)) {
            NotPublished(name: name, reason: $0)
        }
        if !asked { takeBack(factory) }
    }

    /// Looks for publishers whose names match `search`: this object receives ``Subscribed`` (or
    /// ``NotSubscribed``), then ``Available`` for each matching publisher, from the publisher (or
    /// its session object). `session` works as for ``publish(_:scope:session:)``; the
    /// publisher's ``Delivered`` then comes from this end's session object. A string literal is an
    /// exact search; `Search(parsing:)` reads one from input.
    public func subscribe(_ search: Search, scope: Scope = .group, session: SessionFactory? = nil) {
        let factory = handOver(session)
        let asked = ask(directory: SubscribeRequest(search: search, scope: scope, factory: factory)) {
            NotSubscribed(search: search, reason: $0)
        }
        if !asked { takeBack(factory) }
    }

    /// Gives a session factory to the directory object itself; the request names it by number.
    private func handOver(_ factory: SessionFactory?) -> UInt64 {
        guard let factory, let directory = runtime.pubSub.directory(on: runtime) else { return 0 }
        return directory.object.keep(factory)
    }

    /// The request naming a handed-over factory never reached the directory: it is not kept.
    private func takeBack(_ token: UInt64) {
        guard token != 0 else { return }
        runtime.pubSub.directory(on: runtime)?.object.discard(token)
    }

    /// Ends a session from this side: this object receives ``Cleared`` (with `value`), the other
    /// end ``Dropped``; or ``NotCleared`` with the reason (no such session of this object, the
    /// directory busy). The same pair is not offered again while both are listed.
    public func clear(_ session: UInt64, value: (any Message)? = nil) {
        ask(directory: ClearRequest(session: session, value: value.map(AnyMessage.init))) {
            NotCleared(session: session, reason: $0)
        }
    }

    /// Withdraws every listing and search of this object: its sessions end (``Cleared`` here,
    /// ``Dropped`` at the other ends), then it receives ``Retracted`` — or ``NotRetracted`` with
    /// the reason, and nothing changed.
    public func retract() {
        ask(directory: RetractRequest()) { NotRetracted(reason: $0) }
    }

    /// Sends a request to the runtime's directory as this object; if the directory cannot be had
    /// or refuses the request, this object is told `refusal` with the reason, and it is false.
    /// Requests are not held to the directory's mailbox bound (an object may publish 10,000 names
    /// in one turn): the directory bounds what it keeps, and refuses beyond it with the reason.
    /// A refusal cannot itself be refused: it is the runtime's answer to this object's own request.
    @discardableResult
    private func ask(directory request: some Message, refusal: (String) -> some Message) -> Bool {
        guard let directory = runtime.pubSub.directory(on: runtime)?.address else {
            try? runtime.notify(refusal("no room for the directory (object table full)"), to: address, from: address)
            return false
        }
        do {
            try runtime.notify(request, to: directory, from: address)
            return true
        } catch {
            try? runtime.notify(refusal("directory busy: \(error)"), to: address, from: address)
            return false
        }
    }
}
