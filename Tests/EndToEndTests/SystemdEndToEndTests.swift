import CairnClient
import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `cairn serve` under systemd's protocols, with the real tools and without
/// a running systemd: a socket handed over by `systemd-socket-activate`,
/// notifications to a datagram socket of the test's own standing in for
/// `NOTIFY_SOCKET`, and the log formats for the journal and for shippers.
@Suite(.timeLimit(.minutes(2)))
struct SystemdEndToEndTests {
    /// The `cairn` binaries under test: the build's, and the one `tools/install` installed when `tools/test` ran it.
    static let executables: [String] = {
        var paths: [String] = []
        if let built = try? ServerProcess.cairnExecutable() { paths.append(built.path) }
        if let prefix = InstalledCairn.prefix { paths.append(prefix + "/bin/cairn") }
        return paths
    }()

    @Test(arguments: executables)
    func aSocketActivatedServerAnswersOnTheInheritedSocket(executable: String) async throws {
        let fixture = try ServerProcess()
        let listening = fixture.scratch("activated.sock")
        let notify = try NotifyListener(address: fixture.scratch("notify.sock"))
        let server = try ServiceProcess(
            executable: try Self.systemdSocketActivate(),
            arguments: [
                "-l", listening, "-E", "NOTIFY_SOCKET=\(notify.address)", executable, "serve",
                "--data-dir", fixture.dataDirectory, "--log-level", "notice",
            ],
            log: fixture.logPath)

        try await server.waitUntilAccepting(listening)
        // systemd-socket-activate starts cairn at the first connection, which then waits in the backlog.
        let hello = try await CairnClient.withConnection(socketPath: listening) { try await $0.hello() }
        #expect(hello["server"]?.stringValue == "cairn")

        let started = try await notify.wait(for: "READY=1")
        #expect(started.last?.contains("STATUS=serving on \(listening)") == true)
        // No socket of its own: the default one in the data directory was never made.
        #expect(!FileManager.default.fileExists(atPath: fixture.dataDirectory + "/cairn.sock"))

        server.signal(SIGTERM)
        _ = try await notify.wait(for: "STOPPING=1")
        #expect(try await server.exitStatus() == 0, "\(fixture.log)")
        // The socket file is the service manager's: cairn leaves it.
        var info = stat()
        #expect(lstat(listening, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK)
        #expect(fixture.log.contains("socket=\(listening)"), "\(fixture.log)")
    }

    @Test(arguments: [false, true])
    func readyOnlyOnceTheSocketAcceptsThenWatchdogPingsAndStoppingOnSigterm(abstract: Bool) async throws {
        let fixture = try ServerProcess()
        let name = "cairn-test-notify-\(UUID().uuidString.prefix(8))"
        let notify = try NotifyListener(address: abstract ? "@" + name : fixture.scratch("notify.sock"))
        let server = try ServiceProcess(
            executable: try ServerProcess.cairnExecutable().path,
            arguments: ["serve", "--data-dir", fixture.dataDirectory, "--socket", fixture.socketPath],
            environment: ["NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "200000"], log: fixture.logPath)

        let started = try await notify.wait(for: "READY=1")
        // The moment READY=1 arrives, the socket accepts.
        #expect(ServerProcess.accepts(fixture.socketPath))
        #expect(started.first == "STATUS=opening the store in \(fixture.dataDirectory)")
        #expect(started.last == "READY=1\nSTATUS=serving on \(fixture.socketPath)")

        // A ping every 100 ms: wait for two of them.
        _ = try await notify.wait(for: "WATCHDOG=1")
        let pinged = try await notify.wait(for: "WATCHDOG=1")
        #expect(!pinged.contains { $0.contains("STOPPING=1") })

        server.signal(SIGTERM)
        let stopping = try await notify.wait(for: "STOPPING=1")
        #expect(stopping.last?.hasPrefix("STOPPING=1\nSTATUS=shutting down") == true)
        #expect(try await server.exitStatus() == 0, "\(fixture.log)")
        #expect(!FileManager.default.fileExists(atPath: fixture.socketPath))
    }

    @Test func underTheJournalEachLineCarriesAPriorityAndNoTimestamp() async throws {
        let fixture = try ServerProcess()
        var info = stat()
        #expect(stat(fixture.logPath, &info) == 0)
        try await Self.serveUntilAccepting(
            fixture, environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino)"])

        let lines = fixture.log.split(separator: "\n").map(String.init)
        #expect(
            lines.contains { $0.hasPrefix("<5>cairn: cairn serving dataDir=\(fixture.dataDirectory) ") }, "\(lines)")
        #expect(lines.contains("<5>cairn: cairn stopped"), "\(lines)")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.wholeMatch(of: /<[0-7]>[^<].*/) != nil }, "\(lines)")
    }

    @Test func aJournalStreamThatIsNotStandardErrorIsIgnored() async throws {
        // A process that inherited JOURNAL_STREAM but logs to a file logs as on a terminal.
        let fixture = try ServerProcess()
        try await Self.serveUntilAccepting(fixture, environment: ["JOURNAL_STREAM": "1:1"])
        let serving = fixture.log.split(separator: "\n").first { $0.contains("cairn serving") }
        // StreamLogHandler's form: a timestamp first, the level named.
        #expect(serving?.first?.isNumber == true && serving?.contains("notice cairn:") == true, "\(fixture.log)")
    }

    @Test func jsonLogsAreOneObjectALine() async throws {
        let fixture = try ServerProcess()
        try await Self.serveUntilAccepting(fixture, arguments: ["--log-format", "json"])

        let records = try fixture.log.split(separator: "\n").map { try JSONParser.parse(Array($0.utf8)) }
        #expect(records.count >= 2)
        for record in records {
            #expect(record.objectValue?.keys == ["time", "level", "label", "message", "metadata"])
        }
        let serving = try #require(records.first { $0["message"]?.stringValue == "cairn serving" })
        #expect(serving["level"]?.stringValue == "notice")
        #expect(serving["label"]?.stringValue == "cairn")
        #expect(serving["metadata"]?["socket"]?.stringValue == fixture.socketPath)
        #expect(serving["time"]?.stringValue?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
    }

    /// Runs `cairn serve` on the fixture's directories until its socket accepts, then stops it with SIGTERM.
    static func serveUntilAccepting(
        _ fixture: ServerProcess, arguments: [String] = [], environment: [String: String] = [:]
    ) async throws {
        let server = try ServiceProcess(
            executable: try ServerProcess.cairnExecutable().path,
            arguments: ["serve", "--data-dir", fixture.dataDirectory, "--socket", fixture.socketPath] + arguments,
            environment: environment, log: fixture.logPath)
        try await server.waitUntilAccepting(fixture.socketPath)
        server.signal(SIGTERM)
        #expect(try await server.exitStatus() == 0, "\(fixture.log)")
    }

    /// `systemd-socket-activate`, from Debian's systemd package (tools/lib/system-packages.sh installs it).
    static func systemdSocketActivate() throws -> String {
        for path in ["/usr/bin/systemd-socket-activate", "/bin/systemd-socket-activate"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw ServerProcess.FixtureError(description: "no systemd-socket-activate; install Debian's systemd package")
    }
}

/// A process started as a service manager would start it: its own
/// environment (without this process's systemd variables), standard output
/// and error appended to a log file.
final class ServiceProcess {
    private let process = Process()

    init(executable: String, arguments: [String], environment: [String: String] = [:], log: String) throws {
        var inherited = ProcessInfo.processInfo.environment
        for variable in [
            "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID",
            "JOURNAL_STREAM", "CAIRN_DATA_DIR", "CAIRN_SOCKET",
        ] {
            inherited[variable] = nil
        }
        process.environment = inherited.merging(environment) { _, new in new }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        output.seekToEndOfFile()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? output.close()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            waitAfterKill(process)
        }
    }

    /// Sends `signal` to the process.
    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits until something accepts on `path`, while the process runs.
    func waitUntilAccepting(_ path: String, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !ServerProcess.accepts(path) {
            guard process.isRunning else {
                throw ServerProcess.FixtureError(description: "exited with \(process.terminationStatus)")
            }
            guard ContinuousClock.now < deadline else {
                throw ServerProcess.FixtureError(description: "nothing accepted on \(path) in time")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the process to exit: its status, or 128 + the signal that ended it.
    func exitStatus(timeout: Duration = .seconds(60)) async throws -> Int32 {
        guard try await ServerProcess.wait(for: process, timeout: timeout) else {
            throw ServerProcess.FixtureError(description: "\(process.arguments ?? []) did not exit in time")
        }
        return process.terminationReason == .uncaughtSignal
            ? 128 + process.terminationStatus : process.terminationStatus
    }
}

/// A datagram socket standing in for systemd's `NOTIFY_SOCKET`: a path, or
/// an `@name` in the abstract namespace.
final class NotifyListener {
    /// The value for `NOTIFY_SOCKET`.
    let address: String
    private let descriptor: Int32
    /// Every message received so far, in order.
    private(set) var messages: [String] = []
    /// How many of ``messages`` ``wait(for:timeout:)`` has handed out.
    private var consumed = 0

    init(address: String) throws {
        self.address = address
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw ServerProcess.FixtureError(description: "socket: \(errno)") }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1)
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard bound == 0 else {
            close(fd)
            throw ServerProcess.FixtureError(description: "bind \(address): \(String(cString: strerror(errno)))")
        }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Waits until a message not yet handed out contains `assignment`.
    ///
    /// - Returns: the messages received since the last call, up to and including that one.
    func wait(for assignment: String, timeout: Duration = .seconds(20)) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            receiveAll()
            if let index = messages[consumed...].firstIndex(where: {
                $0.split(separator: "\n").contains(Substring(assignment))
            }) {
                defer { consumed = index + 1 }
                return Array(messages[consumed...index])
            }
            guard ContinuousClock.now < deadline else {
                throw ServerProcess.FixtureError(description: "no \(assignment) in time; received \(messages)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    private func receiveAll() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count >= 0 else { return }
            messages.append(String(decoding: buffer[..<count], as: UTF8.self))
        }
    }
}
