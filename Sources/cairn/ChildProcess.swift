import Foundation

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
        #if canImport(Darwin)
            var attributes: posix_spawnattr_t? = nil
        #else
            var attributes = posix_spawnattr_t()
        #endif
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
