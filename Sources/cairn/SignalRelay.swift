import Synchronization
import UnixSignals

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The signals `cairn materialize` receives, routed by phase: while the
/// files are prepared they cancel the preparation; once the child runs
/// they are passed on to it.
///
/// Signals are trapped (not left to their default action) for the whole
/// run, so that the CLI always gets to remove the files.
final class SignalRelay: Sendable {
    private struct State {
        var child: pid_t?
        /// Signals that arrived while there was no child, in order.
        var pending: [Int32] = []
        var onSignal: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    private init() {}

    /// Traps `signals` from now on and returns the relay that routes them.
    static func trapping(_ signals: [UnixSignal]) async -> SignalRelay {
        let relay = SignalRelay()
        let sequence = await UnixSignalsSequence(trapping: signals)
        Task.detached {
            for await signal in sequence { relay.deliver(signal.rawValue) }
        }
        return relay
    }

    /// The first signal that arrived while no child ran, if any.
    var firstSignal: Int32? {
        state.withLock { $0.pending.first }
    }

    /// Calls `action` on the next signal that arrives while no child runs,
    /// or at once when one already did.
    func onSignalWithoutChild(_ action: @escaping @Sendable () -> Void) {
        let already = state.withLock { state in
            state.onSignal = action
            return !state.pending.isEmpty
        }
        if already { action() }
    }

    /// From now on passes signals to `child`, starting with those that
    /// arrived since the last check of ``firstSignal``.
    func adopt(_ child: pid_t) {
        state.withLock { state in
            state.child = child
            for signal in state.pending { kill(child, signal) }
        }
    }

    /// Stops passing signals to the child (call before reaping it).
    func release() {
        state.withLock { $0.child = nil }
    }

    private func deliver(_ signal: Int32) {
        let action = state.withLock { state -> (@Sendable () -> Void)? in
            if let child = state.child {
                kill(child, signal)
                return nil
            }
            state.pending.append(signal)
            return state.onSignal
        }
        action?()
    }
}
