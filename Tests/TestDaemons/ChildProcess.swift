import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A command run to its end, its input from bytes and its output collected, for the tests' helpers
/// (python3 with botocore, tools/ceph-rgw).
///
/// Started with `posix_spawn` and reaped with a blocking `waitpid` on a thread of its own, not
/// through Foundation's `Process`: a script that leaves daemons behind (tools/ceph-rgw) was seen
/// to end as a zombie that `Process` never reported. Output goes to temporary files, so no pipe
/// fills up.
public enum ChildProcess {
    /// How the command ended, and what it wrote.
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var errorOutput: String
    }

    /// A command that could not be started.
    public struct LaunchError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs `arguments` (found on `PATH`) with `input` on standard input, to its end.
    public static func run(_ arguments: [String], input: [UInt8] = []) async throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "object-storage-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(
            at: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: scratch) }
        let paths = ["in", "out", "err"].map { scratch.appendingPathComponent($0).path }
        try Data(input).write(to: URL(fileURLWithPath: paths[0]))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, paths[0], O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, paths[1], O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, paths[2], O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else of this process's: daemons the child leaves behind (tools/ceph-rgw) would
        // otherwise hold other tests' pipes and sockets open for as long as they run.
        // (glibc 2.34's posix_spawn_file_actions_addclosefrom_np, which Swift's Glibc module leaves out.)
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { throw LaunchError(description: "this glibc has no posix_spawn_file_actions_addclosefrom_np") }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)

        // The calling thread (a concurrency pool thread) blocks signals and NIO ignores SIGPIPE;
        // the child starts with no signal blocked and every signal at its default, or daemons it
        // leaves behind would not stop on SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = (["/usr/bin/env"] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, argv, environ)
        guard spawned == 0 else {
            throw LaunchError(description: "cannot run \(arguments.first ?? ""): \(String(cString: strerror(spawned)))")
        }
        let child = pid
        let status: Int32 = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(child, &status, 0) == -1 && errno == EINTR {}
                // Exit status, or 128 + the signal that ended it.
                let exitStatus = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
                continuation.resume(returning: exitStatus)
            }
        }
        return Result(
            status: status, output: (try? String(contentsOfFile: paths[1], encoding: .utf8)) ?? "",
            errorOutput: (try? String(contentsOfFile: paths[2], encoding: .utf8)) ?? "")
    }
}
