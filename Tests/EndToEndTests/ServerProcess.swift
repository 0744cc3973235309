import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A real `cairn serve` in a child process, on a data directory of its own,
/// for end-to-end tests.
///
/// The fixture owns a temporary directory holding the data directory, the
/// socket, the server's log, a state directory for the CLI's resume records
/// (`XDG_STATE_HOME` of every ``cairn(_:stdin:env:)`` run) and a scratch
/// directory for the test's files. The server can be stopped gracefully
/// (SIGTERM), killed (SIGKILL), and started again on the same data directory.
/// Dropping the fixture kills a server still running and removes the
/// directory (set `CAIRN_TEST_KEEP=1` to keep it for a post-mortem).
///
/// ```swift
/// let server = try await ServerProcess.start()
/// let result = try await server.cairn(["hello"])
/// #expect(result.status == 0)
/// ```
///
/// Not `Sendable`: one test task drives one fixture.
final class ServerProcess {
    /// The temporary directory that holds everything below.
    let root: String
    /// `--data-dir` of the server.
    let dataDirectory: String
    /// `--socket` of the server; also `CAIRN_SOCKET` of CLI runs.
    let socketPath: String
    /// `XDG_STATE_HOME` of CLI runs (resume records live in `cairn/uploads/` below it).
    let stateDirectory: String
    /// A directory for the test's own files.
    let scratchDirectory: String
    /// The server's standard output and error, across restarts.
    let logPath: String
    /// Arguments after `serve --data-dir … --socket …` on the next start.
    var extraArguments: [String]

    private var process: Process?

    /// What a finished CLI run produced.
    struct CommandResult: CustomStringConvertible {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]

        var output: String { String(decoding: stdout, as: UTF8.self) }
        var errorOutput: String { String(decoding: stderr, as: UTF8.self) }

        var description: String { "exit \(status)\nstdout: \(output)\nstderr: \(errorOutput)" }
    }

    /// Why the fixture could not do what was asked.
    struct FixtureError: Error, CustomStringConvertible {
        var description: String
    }

    /// Creates the directories and starts a server.
    ///
    /// - Parameter extraArguments: more `cairn serve` options, e.g. `["--max-artifact-bytes", "1024"]`.
    static func start(extraArguments: [String] = []) async throws -> ServerProcess {
        let server = try ServerProcess(extraArguments: extraArguments)
        try await server.start()
        return server
    }

    /// Creates the directories; call ``start()`` to run the server.
    init(extraArguments: [String] = []) throws {
        // Socket paths are limited to ~100 bytes: keep the root short.
        let temporary = NSTemporaryDirectory()
        let base = temporary.utf8.count < 40 ? temporary : "/tmp"
        let root = (base as NSString).appendingPathComponent("cairn-e2e-\(UUID().uuidString.prefix(8).lowercased())")
        self.root = root
        dataDirectory = (root as NSString).appendingPathComponent("data")
        socketPath = (root as NSString).appendingPathComponent("cairn.sock")
        stateDirectory = (root as NSString).appendingPathComponent("state")
        scratchDirectory = (root as NSString).appendingPathComponent("scratch")
        logPath = (root as NSString).appendingPathComponent("server.log")
        self.extraArguments = extraArguments
        for directory in [root, scratchDirectory] {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    }

    deinit {
        if let process, process.isRunning {
            sendSignal(process.processIdentifier, SIGKILL)
            waitAfterKill(process)
        }
        if ProcessInfo.processInfo.environment["CAIRN_TEST_KEEP"] == nil {
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    /// Whether the server process is alive.
    var isRunning: Bool { process?.isRunning ?? false }

    /// The server's process id while it runs.
    var pid: Int32? { isRunning ? process?.processIdentifier : nil }

    /// The server's log so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Starts the server and waits until its socket accepts connections.
    ///
    /// - Throws: ``FixtureError`` with the log when the server exits or does not listen within `timeout`.
    func start(timeout: Duration = .seconds(20)) async throws {
        guard !isRunning else { throw FixtureError(description: "the server is already running") }
        let process = Process()
        process.executableURL = try Self.cairnExecutable()
        process.arguments =
            ["serve", "--data-dir", dataDirectory, "--socket", socketPath, "--log-level", "warning"] + extraArguments
        var environment = ProcessInfo.processInfo.environment
        environment["CAIRN_DATA_DIR"] = nil
        environment["CAIRN_SOCKET"] = nil
        process.environment = environment
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? log.close()
        self.process = process
        let deadline = ContinuousClock.now + timeout
        while !Self.accepts(socketPath) {
            guard process.isRunning else {
                throw FixtureError(description: "cairn serve exited with \(process.terminationStatus):\n\(self.log)")
            }
            guard ContinuousClock.now < deadline else {
                throw FixtureError(description: "cairn serve did not listen on \(socketPath) in time:\n\(self.log)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Stops the server with SIGTERM and waits for it; SIGKILL after `timeout`.
    ///
    /// - Returns: the server's exit status (or the signal's number when it was killed).
    @discardableResult
    func stop(timeout: Duration = .seconds(10)) async throws -> Int32 {
        guard let process, process.isRunning else { return self.process?.terminationStatus ?? 0 }
        process.terminate()
        if try await !Self.wait(for: process, timeout: timeout) {
            sendSignal(process.processIdentifier, SIGKILL)
            _ = try await Self.wait(for: process, timeout: .seconds(10))
        }
        return process.terminationStatus
    }

    /// Kills the server with SIGKILL (no shutdown at all) and waits for it.
    func kill() async throws {
        guard let process, process.isRunning else { return }
        sendSignal(process.processIdentifier, SIGKILL)
        _ = try await Self.wait(for: process, timeout: .seconds(10))
    }

    /// Stops the server (SIGTERM) and starts it again on the same data directory.
    ///
    /// - Parameter extraArguments: new `serve` options, or `nil` to keep the current ones.
    func restart(extraArguments: [String]? = nil) async throws {
        try await stop()
        if let extraArguments { self.extraArguments = extraArguments }
        try await start()
    }

    /// Runs `cairn ARGS` against this server and waits for it.
    ///
    /// The child gets this process's environment without `CAIRN_TENANT` and
    /// `CAIRN_DATA_DIR`, with `CAIRN_SOCKET` set to ``socketPath`` and
    /// `XDG_STATE_HOME` to ``stateDirectory``, then `env` on top.
    ///
    /// - Parameters:
    ///   - stdin: bytes for standard input; `nil` gives it `/dev/null`.
    ///   - env: variables to set for this run.
    func cairn(_ args: [String], stdin: [UInt8]? = nil, env: [String: String] = [:]) async throws -> CommandResult {
        try await launch(args, stdin: stdin, env: env).wait()
    }

    /// Starts `cairn ARGS` (see ``cairn(_:stdin:env:)``) without waiting, so a test can signal it.
    func launch(_ args: [String], stdin: [UInt8]? = nil, env: [String: String] = [:]) throws -> RunningCommand {
        var environment = ProcessInfo.processInfo.environment
        environment["CAIRN_TENANT"] = nil
        environment["CAIRN_DATA_DIR"] = nil
        environment["CAIRN_SOCKET"] = socketPath
        environment["XDG_STATE_HOME"] = stateDirectory
        for (key, value) in env { environment[key] = value }
        return try RunningCommand(
            executable: try Self.cairnExecutable(), arguments: args, environment: environment, stdin: stdin,
            directory: scratchDirectory)
    }

    /// A path in the scratch directory.
    func scratch(_ name: String) -> String {
        (scratchDirectory as NSString).appendingPathComponent(name)
    }

    // MARK: - Helpers

    /// The `cairn` executable: `$CAIRN_EXECUTABLE`, else the one in the build directory of the test bundle.
    static func cairnExecutable() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["CAIRN_EXECUTABLE"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let starts = [
            Bundle.main.bundleURL,
            URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent(),
        ]
        for start in starts {
            var directory = start.standardizedFileURL
            for _ in 0..<5 {
                let candidate = directory.appendingPathComponent("cairn")
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory),
                    !isDirectory.boolValue,
                    FileManager.default.isExecutableFile(atPath: candidate.path)
                {
                    return candidate
                }
                directory.deleteLastPathComponent()
            }
        }
        throw FixtureError(
            description: "no cairn executable near \(starts.map(\.path)); build it or set CAIRN_EXECUTABLE")
    }

    /// Whether something accepts connections on the Unix socket at `path`.
    static func accepts(_ path: String) -> Bool {
        #if canImport(Glibc)
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withUnixAddress(path) { address, length in connect(fd, address, length) == 0 }
    }

    /// Calls `body` with a `sockaddr_un` for `path`.
    static func withUnixAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Waits for `process` to exit; `false` when `timeout` passed first.
    static func wait(for process: Process, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}

/// A `cairn` CLI process started by ``ServerProcess/launch(_:stdin:env:)``.
///
/// Its standard output and error go to temporary files (no pipe can fill
/// up), read back by ``wait(timeout:)``.
final class RunningCommand {
    private let process = Process()
    private let stdoutPath: String
    private let stderrPath: String
    private let stdinPath: String?

    init(
        executable: URL, arguments: [String], environment: [String: String], stdin: [UInt8]?, directory: String
    ) throws {
        let stem = (directory as NSString).appendingPathComponent(".run-\(UUID().uuidString.prefix(8))")
        stdoutPath = stem + ".out"
        stderrPath = stem + ".err"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        if let stdin {
            let path = stem + ".in"
            _ = FileManager.default.createFile(atPath: path, contents: Data(stdin))
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            stdinPath = path
        } else {
            process.standardInput = FileHandle.nullDevice
            stdinPath = nil
        }
        try process.run()
        for handle in [process.standardOutput, process.standardError, process.standardInput] {
            if let handle = handle as? FileHandle, handle !== FileHandle.nullDevice { try? handle.close() }
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            waitAfterKill(process)
        }
        for path in [stdoutPath, stderrPath] + (stdinPath.map { [$0] } ?? []) { unlink(path) }
    }

    /// The child's process id.
    var pid: Int32 { process.processIdentifier }

    /// Whether the child is still running.
    var isRunning: Bool { process.isRunning }

    /// Sends `signal` to the child.
    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the child to exit and returns what it printed.
    ///
    /// - Returns: the exit status, or 128 + the signal's number when a signal ended it.
    func wait(timeout: Duration = .seconds(30)) async throws -> ServerProcess.CommandResult {
        guard try await ServerProcess.wait(for: process, timeout: timeout) else {
            kill(process.processIdentifier, SIGKILL)
            _ = try await ServerProcess.wait(for: process, timeout: .seconds(10))
            throw ServerProcess.FixtureError(description: "cairn \(process.arguments ?? []) did not finish in time")
        }
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return ServerProcess.CommandResult(
            status: status,
            stdout: Array(FileManager.default.contents(atPath: stdoutPath) ?? Data()),
            stderr: Array(FileManager.default.contents(atPath: stderrPath) ?? Data()))
    }
}

/// `kill(2)`, named apart from ``ServerProcess/kill()``.
private func sendSignal(_ pid: Int32, _ signal: Int32) {
    kill(pid, signal)
}

/// Waits, five seconds at most, for a child sent SIGKILL to be gone.
///
/// Not `Process.waitUntilExit()`: called from a deinit on a Swift
/// concurrency thread, it was seen to wait forever for a child that had
/// long exited (Foundation missed the exit), blocking that thread, and with
/// both of the pool's threads blocked so every other test. The child is
/// gone once Foundation says so, or once /proc shows it a zombie or not at all.
func waitAfterKill(_ process: Process) {
    let pid = process.processIdentifier
    let deadline = Date().addingTimeInterval(5)
    while process.isRunning && Date() < deadline {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let state = stat.split(separator: ")").last?.split(separator: " ").first, state != "Z"
        else { return }
        usleep(10_000)
    }
}
