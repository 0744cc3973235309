import Foundation
import Testing

/// The web console in a real browser: headless Chromium driven through
/// WebDriver (selenium) by tools/web-tests/console_browser_test.py, against a
/// real `cairn serve` and two `cairn web` (the second drops the connection
/// of one upload piece, as a failing network would). The script walks the
/// four setups of the OCI OpenVEX connector in the page and confirms each
/// through the CLI, a refused delete of a referenced artifact, a CONFLICT
/// after the CLI changed the configuration under the open page, a 20 MiB
/// upload with its progress bar, and an upload resumed after the dropped
/// connection.
///
/// tools/test installs chromium, chromium-driver and selenium when they are
/// missing (CAIRN_TEST_PYTHON names the interpreter with selenium).
/// CAIRN_WEB_SCREENSHOTS=DIR also saves the screenshots of docs/web.md.
@Suite(.timeLimit(.minutes(5)))
struct WebConsoleBrowserTests {
    @Test func theFourSetupsAndTheUploadsInABrowser() async throws {
        let environment = ProcessInfo.processInfo.environment
        let python = environment["CAIRN_TEST_PYTHON"] ?? "/usr/bin/python3"
        for path in [python, "/usr/bin/chromium", "/usr/bin/chromedriver"] {
            try #require(
                FileManager.default.isExecutableFile(atPath: path),
                "\(path) is missing: run tools/test, which installs chromium, chromium-driver and selenium")
        }
        let server = try await ServerProcess.start()
        let console = try await WebConsoleProcess(socketPath: server.socketPath, directory: server.root)
        let dropping = try await WebConsoleProcess(
            socketPath: server.socketPath, directory: server.root, arguments: ["--test-drop-upload-after", "3"])
        var arguments = [
            Self.script, "--console", console.url, "--dropping-console", dropping.url,
            "--cairn", try ServerProcess.cairnExecutable().path, "--socket", server.socketPath,
            "--scratch", server.scratchDirectory,
        ]
        if let directory = environment["CAIRN_WEB_SCREENSHOTS"], !directory.isEmpty {
            arguments += ["--screenshots", directory]
        }
        var childEnvironment = environment
        childEnvironment["CAIRN_SOCKET"] = server.socketPath
        childEnvironment["XDG_STATE_HOME"] = server.stateDirectory
        let run = try RunningCommand(
            executable: URL(fileURLWithPath: python), arguments: ["-u"] + arguments, environment: childEnvironment,
            stdin: nil, directory: server.scratchDirectory)
        let result = try await run.wait(timeout: .seconds(270))
        #expect(result.status == 0, "the browser script failed:\n\(result.output)\n\(result.errorOutput)")
        #expect(result.output.contains("7 passed, 0 failed"), "\(result.output)")
    }

    /// tools/web-tests/console_browser_test.py in this checkout.
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools/web-tests/console_browser_test.py").path
}
