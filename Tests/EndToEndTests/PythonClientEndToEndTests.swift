import Foundation
import Testing

/// Runs the Python client's own tests (`clients/python/tests`, standard
/// `unittest`) against the `cairn` executable built with this test bundle,
/// so that the one test command covers the client too.
///
/// The Python tests start their own servers (one per test class) on
/// temporary data directories; `CAIRN_BIN` tells them which binary. They
/// also install the package with pip into a temporary virtual environment,
/// offline, and run the program docs/clients.md shows. A failure prints
/// Python's whole report.
@Suite(.timeLimit(.minutes(4)))
struct PythonClientEndToEndTests {
    /// `clients/python` of the checkout these tests were built from.
    static let clientDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("clients/python")

    @Test func thePythonClientsTestsPass() async throws {
        let tests = Self.clientDirectory.appendingPathComponent("tests").path
        // The runner's output files and working directory: nothing lands in the checkout.
        let scratch = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "cairn-python-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(
            atPath: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        var environment = ProcessInfo.processInfo.environment
        for name in ["CAIRN_SOCKET", "CAIRN_DATA_DIR", "CAIRN_TENANT", "PYTHONPATH"] { environment[name] = nil }
        environment["CAIRN_BIN"] = try ServerProcess.cairnExecutable().path
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        let run = try RunningCommand(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [
                "python3", "-m", "unittest", "discover", "--start-directory", tests, "--top-level-directory", tests,
            ],
            environment: environment, stdin: nil, directory: scratch)
        let result = try await run.wait(timeout: .seconds(220))
        #expect(
            result.status == 0, "python3 -m unittest failed in clients/python:\n\(result.errorOutput)\(result.output)")
    }
}
