import Foundation
import Synchronization
import UnixSignals

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A command run by `cairn materialize`: spawned with an environment of its
/// own, waited for on a thread of its own, and ended with an exit status in
/// the shell's convention.
struct ChildProcess {
    /// The child's process id.
    let pid: pid_t

    /// Why a command could not be started, with the shell's exit status for it.
    struct SpawnFailure: Error {
        /// 127 when the command was not found, 126 when it could not be run.
        let status: Int32
        let message: String
    }

    /// Signals whose disposition the child gets back at their defaults,
    /// whatever this process (or Dispatch on its behalf) did with them.
    private static let defaultSignals = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE]

    /// Starts `arguments[0]` (looked up in `PATH` when it has no `/`) with
    /// `arguments` and exactly `environment`. Standard input, output and
    /// error, and the working directory, are this process's.
    static func spawn(_ arguments: [String], environment: [String: String]) throws(SpawnFailure) -> ChildProcess {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in defaultSignals { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], nil, &attributes, argv, envp)
        guard result == 0 else {
            let reason = String(cString: strerror(result))
            throw SpawnFailure(
                status: result == ENOENT ? 127 : 126, message: "cannot run \(arguments[0]): \(reason)")
        }
        return ChildProcess(pid: pid)
    }

    /// Waits until the child has ended, without reaping it: its process id
    /// stays reserved, so a signal sent meanwhile cannot reach another
    /// process that happens to get the same id.
    func waitForExit() async {
        let pid = pid
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
                continuation.resume()
            }
        }
    }

    /// Reaps the ended child and returns its exit status, or 128 + the
    /// signal's number when a signal ended it (the shell's convention).
    func reap() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // The wait status layout shared by Linux and the BSDs: the low seven bits are the
        // terminating signal (0 for a normal exit), the next byte the exit code.
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

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
