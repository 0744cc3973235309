import Synchronization

/// The open connections, so that a graceful shutdown reaches every one and
/// the server can wait until they are gone.
///
/// It holds, for each connection, a closure that tells it to shut down
/// (``Connection`` hops to its event loop and lets its state machine decide:
/// an idle connection closes at once, a busy one finishes what it owes or
/// runs out of grace). A connection stays registered until its channel is
/// closed and no request it handed on is still being carried out. It knows
/// nothing else of connections.
final class ConnectionRegistry: Sendable {
    /// A registered connection, for ``remove(_:)``.
    struct Registration: Hashable, Sendable {
        fileprivate let id: UInt64
    }

    private struct State {
        var nextID: UInt64 = 0
        var shutDowns: [UInt64: @Sendable () -> Void] = [:]
        var shuttingDown = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Adds a connection. When a shutdown is under way, `shutDown` is
    /// called at once.
    ///
    /// - Parameter shutDown: tells the connection to shut down; called at
    ///   most once, from any thread.
    func register(shutDown: @escaping @Sendable () -> Void) -> Registration {
        let (registration, late) = state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.shutDowns[id] = shutDown
            return (Registration(id: id), state.shuttingDown)
        }
        if late { shutDown() }
        return registration
    }

    /// Forgets a connection that has closed and has no request under way.
    func remove(_ registration: Registration) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.shutDowns[registration.id] = nil
            guard state.shutDowns.isEmpty else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Tells every connection, and every one registered from now on, to
    /// shut down. Calling it again does nothing more.
    func shutDownAll() {
        let shutDowns = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.shuttingDown else { return [] }
            state.shuttingDown = true
            return Array(state.shutDowns.values)
        }
        for shutDown in shutDowns { shutDown() }
    }

    /// Returns once no connection is registered.
    func waitUntilEmpty() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                guard !state.shutDowns.isEmpty else { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// The number of open connections.
    var count: Int { state.withLock { $0.shutDowns.count } }
}
