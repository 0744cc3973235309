import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A running `cairn-crash-driver` (tools/crash-driver), its stdout collected
/// line by line and its stderr written to a file for failure messages.
///
/// `swift test` builds every product, so the driver sits next to the test
/// bundle in the build directory; ``executableURL()`` finds it there.
final class CrashDriverProcess {
    /// Why the driver could not be run or did not do what a test waited for.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let process = Process()
    private let output = LineCollector()
    private let reader: Thread
    /// Where the driver's stderr goes.
    let stderrPath: String

    /// Starts the driver with `arguments`; its stderr goes to `stderrPath`.
    init(arguments: [String], stderrPath: String) throws {
        self.stderrPath = stderrPath
        process.executableURL = try Self.executableURL()
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardInput = FileHandle.nullDevice
        guard FileManager.default.createFile(atPath: stderrPath, contents: nil) else {
            throw Failure(description: "cannot create \(stderrPath)")
        }
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        let handle = stdout.fileHandleForReading
        let output = self.output
        reader = Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                output.append(data)
            }
            output.finish()
        }
        try process.run()
        reader.start()
    }

    deinit {
        if process.isRunning { _ = kill(process.processIdentifier, SIGKILL) }
    }

    /// The complete lines printed so far.
    var lines: [String] { output.lines }

    /// Waits until `condition` holds for the lines printed so far, and
    /// returns them.
    ///
    /// - Throws: ``Failure`` when the driver ends first or `timeout` passes.
    func waitForLines(timeout: Duration, until condition: ([String]) -> Bool) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let lines = output.lines
            if condition(lines) { return lines }
            if output.isFinished || !process.isRunning {
                throw Failure(
                    description:
                        "the driver ended before it got there (\(exitDescription())); \(lines.count) lines; stderr: \(stderrTail())"
                )
            }
            if ContinuousClock.now > deadline {
                throw Failure(
                    description:
                        "the driver did not get there in \(timeout); \(lines.count) lines; stderr: \(stderrTail())"
                )
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Kills the driver with SIGKILL and returns every complete line it
    /// printed; a line cut off by the kill is dropped.
    func killNow() async throws -> [String] {
        _ = kill(process.processIdentifier, SIGKILL)
        _ = try await waitForExit(timeout: .seconds(30))
        return output.lines
    }

    /// Waits for the driver to end by itself and for its stdout to close.
    ///
    /// - Returns: the exit status (or the signal, when killed).
    /// - Throws: ``Failure`` after `timeout`, having killed the driver.
    @discardableResult
    func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning || !output.isFinished {
            if ContinuousClock.now > deadline {
                _ = kill(process.processIdentifier, SIGKILL)
                throw Failure(description: "the driver did not end in \(timeout); stderr: \(stderrTail())")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }

    /// The last lines of the driver's stderr.
    func stderrTail(lines count: Int = 20) -> String {
        let text = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }

    private func exitDescription() -> String {
        if process.isRunning { return "still running" }
        let how = process.terminationReason == .uncaughtSignal ? "signal" : "status"
        return "\(how) \(process.terminationStatus)"
    }

    /// The built `cairn-crash-driver`: the first directory holding one,
    /// walking up from the test bundle.
    static func executableURL() throws -> URL {
        let name = "cairn-crash-driver"
        let starts = [
            Bundle.main.bundleURL,
            URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath(),
            Bundle.main.executableURL,
        ].compactMap { $0?.standardizedFileURL }
        for start in starts {
            var directory = start
            for _ in 0..<6 {
                let candidate = directory.appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        throw Failure(
            description:
                "\(name) not found next to the test bundle (looked up from \(starts.map(\.path))); "
                + "build it with `swift build --build-tests` (swift test builds all products)")
    }
}

/// Bytes arriving on a pipe, cut into lines.
private final class LineCollector: Sendable {
    private struct State {
        var lines: [String] = []
        var partial: [UInt8] = []
        var finished = false
    }

    private let state = Mutex(State())

    func append(_ data: Data) {
        state.withLock { state in
            for byte in data {
                if byte == UInt8(ascii: "\n") {
                    state.lines.append(String(decoding: state.partial, as: UTF8.self))
                    state.partial.removeAll(keepingCapacity: true)
                } else {
                    state.partial.append(byte)
                }
            }
        }
    }

    func finish() { state.withLock { $0.finished = true } }

    var lines: [String] { state.withLock { $0.lines } }
    var isFinished: Bool { state.withLock { $0.finished } }
}
