import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A real `cairn web` in a child process, for end-to-end tests: started
/// against a ``ServerProcess``'s socket, its URL read from the first line it
/// prints, stopped (SIGTERM, then SIGKILL) when the fixture goes.
final class WebConsoleProcess {
    /// The URL the console printed, with its login token.
    let url: String
    /// The console's port.
    let port: Int
    private let process: Process
    private let outputPath: String

    /// Starts `cairn web --socket SOCKET --listen 127.0.0.1:0 ARGS` and waits for its URL.
    ///
    /// - Parameters:
    ///   - launcher: a program and arguments to run `cairn` through (e.g. `setpriv` as another user), if any.
    init(
        socketPath: String, directory: String, arguments: [String] = [], launcher: [String] = [],
        environment: [String: String] = [:]
    ) async throws {
        let cairn = try ServerProcess.cairnExecutable().path
        let stem = (directory as NSString).appendingPathComponent("web-\(UUID().uuidString.prefix(8))")
        outputPath = stem + ".out"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stem + ".err", contents: nil)
        let process = Process()
        let command = launcher + [cairn, "web", "--socket", socketPath, "--listen", "127.0.0.1:0"] + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stem + ".err"))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(30)
        var line: String? = nil
        while line == nil {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            if let newline = text.firstIndex(of: "\n") { line = String(text[..<newline]) }
            guard line != nil || (process.isRunning && ContinuousClock.now < deadline) else {
                let errors = (try? String(contentsOfFile: stem + ".err", encoding: .utf8)) ?? ""
                throw ServerProcess.FixtureError(description: "cairn web printed no URL: \(text) \(errors)")
            }
            if line == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        url = line!
        let authority = url.dropFirst("http://".count).prefix { $0 != "/" }
        port = Int(authority.split(separator: ":").last ?? "") ?? 0
    }

    deinit {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                waitAfterKill(process)
            }
        }
    }

    /// The login token of the URL.
    var token: String { String(url.split(separator: "token=").last ?? "") }

    var probe: HTTPProbe { HTTPProbe(port: port) }
}
