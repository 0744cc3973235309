import ArgumentParser
import CairnFuzz
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `cairn-fuzz`: fuzzes a real `cairn serve` for as long as asked, from a
/// seed that it prints first (see docs/fuzzing.md).
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn-fuzz",
        abstract: "Fuzz a cairn server with mutated and random requests from a grammar of every method.",
        discussion: """
            Starts `cairn serve` on a temporary data directory (or fuzzes the server at --socket), drives \
            --connections fuzzing connections and a control connection, and checks that every request line \
            gets exactly one well-formed answer, that the server stays up and within --rss-limit-mib, and \
            that the control connection's answers never change. Exits 1 at the first broken invariant, \
            printing the seed and the request that broke it.
            """)

    @Option(help: "How long to fuzz, in seconds.")
    var seconds = 60

    @Option(help: "The seed (default: a random one, printed first).")
    var seed: UInt64?

    @Option(help: "Fuzzing connections at once.")
    var connections = 4

    @Option(help: "The first connection's index (a failure on connection C replays with C and one connection).")
    var firstConnection = 0

    @Option(help: "The most request units to send in all.")
    var maxUnits = 100_000_000

    @Option(help: "The cairn executable (default: next to this one, else built with swift build).")
    var cairn: String?

    @Option(help: "Fuzz the server listening here instead of starting one.")
    var socket: String?

    @Option(help: "The pid of the server at --socket, for its memory.")
    var serverPid: Int32?

    @Option(help: "The bound on the server's resident memory, in MiB.")
    var rssLimitMib = 512

    @Option(help: "Lines near maxRequestBytes (16 MiB) each connection may send at once.")
    var hugeLines = 1

    @Option(help: "Every this many units, a connection may send one more such line and two attachments at every limit.")
    var refillEvery = 20_000

    @Flag(help: "Keep the temporary data directory and the server's log.")
    var keep = false

    @Flag(help: "Print each connection's progress too.")
    var verbose = false

    func run() throws {
        let seed = seed ?? UInt64.random(in: 0...UInt64.max)
        say("cairn-fuzz: seed \(seed)")
        var server: RunningServer? = nil
        let socketPath: String
        let pid: Int32?
        if let socket {
            socketPath = socket
            pid = serverPid
        } else {
            let started = try RunningServer.start(executable: try cairnExecutable())
            server = started
            socketPath = started.socketPath
            pid = started.process.processIdentifier
            say("cairn-fuzz: cairn serve (pid \(started.process.processIdentifier)) in \(started.root)")
        }
        var configuration = ServerFuzzer.Configuration(socketPath: socketPath, serverPID: pid, seed: seed)
        configuration.connections = connections
        configuration.firstConnection = firstConnection
        configuration.duration = .seconds(seconds)
        configuration.maxUnits = maxUnits
        configuration.rssLimitBytes = rssLimitMib << 20
        configuration.hugeLinesPerConnection = hugeLines
        configuration.bulkBytesPerConnection = 48 << 20
        configuration.budgetRefillEvery = refillEvery
        configuration.progress = { line in if verbose || line.hasPrefix("control") { say("cairn-fuzz: \(line)") } }
        do {
            let report = try ServerFuzzer.runBlocking(configuration)
            if let server {
                guard server.process.isRunning else {
                    throw ExitMessage("the server exited during the run:\n\(server.logTail)")
                }
                let status = server.stop()
                guard status == 0 else { throw ExitMessage("the server exited with \(status):\n\(server.logTail)") }
                if !keep { server.remove() }
            }
            say("cairn-fuzz: what the answers were:\n\(report.outcomeTable)")
            say("cairn-fuzz: passed: \(report)")
        } catch let failure as FuzzFailure {
            say(failure.description)
            if let server {
                say(
                    "cairn-fuzz: server \(server.process.isRunning ? "still running" : "exited"); log and data kept in \(server.root)"
                )
                say(server.logTail)
                _ = server.stop()
            }
            throw ExitCode(1)
        }
    }

    /// `--cairn`, else `cairn` next to this executable, else one built now.
    private func cairnExecutable() throws -> String {
        if let cairn { return cairn }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("cairn").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        say("cairn-fuzz: building cairn (swift build -c release --product cairn)")
        let build = Process()
        build.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        build.arguments = ["swift", "build", "-c", "release", "--product", "cairn"]
        try build.run()
        build.waitUntilExit()
        guard build.terminationStatus == 0 else { throw ExitMessage("swift build failed") }
        let path = Process()
        let pipe = Pipe()
        path.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        path.arguments = ["swift", "build", "-c", "release", "--show-bin-path"]
        path.standardOutput = pipe
        try path.run()
        path.waitUntilExit()
        let directory = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return (directory as NSString).appendingPathComponent("cairn")
    }
}

/// A failure message for the command line.
struct ExitMessage: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `cairn serve` on a temporary data directory.
final class RunningServer {
    let root: String
    let socketPath: String
    let logPath: String
    let process = Process()

    private init(root: String) {
        self.root = root
        socketPath = (root as NSString).appendingPathComponent("cairn.sock")
        logPath = (root as NSString).appendingPathComponent("server.log")
    }

    static func start(executable: String) throws -> RunningServer {
        var template = Array("/tmp/cairn-fuzz-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw ExitMessage("mkdtemp failed") }
        let server = RunningServer(root: String(cString: made))
        _ = FileManager.default.createFile(atPath: server.logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: server.logPath))
        server.process.executableURL = URL(fileURLWithPath: executable)
        server.process.arguments = [
            "serve", "--data-dir", (server.root as NSString).appendingPathComponent("data"), "--socket",
            server.socketPath, "--log-level", "warning",
        ]
        server.process.standardOutput = log
        server.process.standardError = log
        server.process.standardInput = FileHandle.nullDevice
        try server.process.run()
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: server.socketPath) || !server.accepts() {
            guard server.process.isRunning, Date() < deadline else {
                throw ExitMessage("cairn serve did not start:\n\(server.logTail)")
            }
            usleep(20_000)
        }
        return server
    }

    private func accepts() -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    /// The last lines of the server's log.
    var logTail: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(40).joined(separator: "\n")
    }

    /// SIGTERM, then the exit status (SIGKILL after 20 s).
    func stop() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// Writes a line to standard output at once (unbuffered, also into a file or a pipe).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

FuzzCommand.main()
