import CairnFuzz
import Foundation
import Testing

/// The fuzzer's short run against a real `cairn serve`: mutated and random
/// requests from the grammar of every method on two connections at once,
/// while a control connection checks `system.hello` and `artifacts.meta`
/// and the server's memory is held under a bound (docs/fuzzing.md).
///
/// The run is bounded by a unit count and by time, whichever comes first,
/// and asserts no duration: a loaded machine sends fewer units, nothing
/// else. The seed is fixed so that a failure replays (`CAIRN_FUZZ_SEED`
/// picks another); `cairn-fuzz` does long runs with fresh seeds.
@Suite(.timeLimit(.minutes(3)))
struct FuzzEndToEndTests {
    static let seed = ProcessInfo.processInfo.environment["CAIRN_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20_251_128

    @Test
    func shortRunAgainstARealServer() async throws {
        let server = try await ServerProcess.start()
        let pid = try #require(server.pid)
        var configuration = ServerFuzzer.Configuration(socketPath: server.socketPath, serverPID: pid, seed: Self.seed)
        configuration.connections = 2
        configuration.maxUnits = 4000
        configuration.duration = .seconds(10)
        configuration.rssLimitBytes = 512 << 20
        configuration.hugeLinesPerConnection = 1
        configuration.bulkBytesPerConnection = 16 << 20
        let report: ServerFuzzer.Report
        do {
            report = try await ServerFuzzer.run(configuration)
        } catch {
            var failure = error
            failure.replay = "CAIRN_FUZZ_SEED=\(Self.seed) swift test --filter FuzzEndToEndTests"
            Issue.record("\(failure)\n--- server log ---\n\(server.log)")
            return
        }
        print("FuzzEndToEndTests: \(report)")
        #expect(report.units > 0 && report.answers > 0)
        #expect(report.controlChecks > 0, "the control connection never got through")
        #expect(server.isRunning, "the server exited:\n\(server.log)")
        let status = try await server.stop()
        #expect(status == 0, "the server's exit status after the run:\n\(server.log)")
    }
}
