import Foundation
import Testing

/// The web console in a real browser: headless Chromium driven through
/// WebDriver (selenium) by tools/web-tests/console_browser_test.py, against a
/// real `cairn serve` and two `cairn web` (the second drops the connection
/// of one upload piece, as a failing network would). The script walks the
/// four setups of the OCI OpenVEX connector in the page and confirms each
/// through the CLI, a refused delete of a referenced artifact, a CONFLICT
/// after the CLI changed the configuration under the open page, a 20 MiB
/// upload with its progress bar, usage against quotas and a verification
/// run, an upload resumed after the dropped
/// connection, and a provider defined as data (providers.d/), whose page is
/// generated from its fields like the built-in one's; and the page logs no
/// script error or Content-Security-Policy violation throughout.
///
/// tools/test installs chromium, chromium-driver and selenium when they are
/// missing (CAIRN_TEST_PYTHON names the interpreter with selenium, by default
/// the one tools/lib/browser-packages.sh sets up under the cache directory).
/// CAIRN_WEB_SCREENSHOTS=DIR also saves the screenshots of docs/web.md.
@Suite(.timeLimit(.minutes(5)))
struct WebConsoleBrowserTests {
    @Test func theFourSetupsAndTheUploadsInABrowser() async throws {
        let environment = ProcessInfo.processInfo.environment
        let home = environment["HOME"] ?? NSHomeDirectory()
        let cache = environment["XDG_CACHE_HOME"] ?? (home as NSString).appendingPathComponent(".cache")
        let python =
            environment["CAIRN_TEST_PYTHON"]
            ?? (cache as NSString).appendingPathComponent("cairn-tests/venv/bin/python")
        for path in [python, "/usr/bin/chromium", "/usr/bin/chromedriver"] {
            try #require(
                FileManager.default.isExecutableFile(atPath: path),
                "\(path) is missing: run tools/test, which installs chromium, chromium-driver and selenium")
        }
        let server = try ServerProcess()
        // A data-defined provider beside the built-in one: its page is generated from its fields too.
        let definitions = (server.dataDirectory as NSString).appendingPathComponent("providers.d")
        try FileManager.default.createDirectory(
            atPath: definitions, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try Data(Self.sbomProvider.utf8).write(
            to: URL(fileURLWithPath: (definitions as NSString).appendingPathComponent("sbom-export.json")))
        try await server.start()
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
        #expect(result.output.contains("10 passed, 0 failed"), "\(result.output)")
    }

    /// A provider defined as data, with a field of each shape.
    static let sbomProvider = """
        {"providerId":"acme:sbom-export","displayName":"SBOM export","fields":[
          {"key":"endpoint","shape":"scalar","required":true,"secret":false,"description":"Where SBOMs are sent."},
          {"key":"format","shape":"scalar","required":false,"secret":false,"description":"The SBOM format.",
           "allowedValues":["spdx","cyclonedx"]},
          {"key":"token","shape":"scalar","required":false,"secret":true,"description":"The endpoint's token."},
          {"key":"products","shape":"list<string>","required":true,"secret":false,"description":"Product names."},
          {"key":"signingKey","shape":"artifactRef","required":true,"secret":false,"description":"PEM key."},
          {"key":"extraRoots","shape":"list<artifactRef>","required":false,"secret":false,"description":"PEM roots."}
        ]}
        """

    /// tools/web-tests/console_browser_test.py in this checkout.
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools/web-tests/console_browser_test.py").path
}
