import Testing

@testable import BackupRepository

struct BackupRunMetricsTests {
    static func run(_ succeeded: Bool, at: Double, bytes: Int64) -> BackupRunMetrics.Run {
        .init(succeeded: succeeded, endedAt: at, durationSeconds: 1.5, sentBytes: bytes, sentPacks: 2, newContents: 3)
    }

    @Test func countersCarryForwardAndAFailureKeepsTheLastSuccess() {
        let repository = "s3://b/p"
        let first = BackupRunMetrics.render(
            previous: "", repository: repository, run: Self.run(true, at: 100, bytes: 10))
        let second = BackupRunMetrics.render(
            previous: first, repository: repository, run: Self.run(false, at: 200, bytes: 0))
        let values = BackupRunMetrics.values(in: second, label: "{repository=\"s3://b/p\"}")
        #expect(values["cairn_backup_last_success_timestamp_seconds"] == 100)
        #expect(values["cairn_backup_last_run_timestamp_seconds"] == 200)
        #expect(values["cairn_backup_last_run_success"] == 0)
        #expect(values["cairn_backup_runs_total"] == 2)
        #expect(values["cairn_backup_failures_total"] == 1)
        #expect(values["cairn_backup_sent_bytes_total"] == 10)
        #expect(values["cairn_backup_sent_packs_total"] == 4)
        #expect(second.contains("# TYPE cairn_backup_failures_total counter\n"))
        #expect(second.contains("cairn_backup_last_run_duration_seconds{repository=\"s3://b/p\"} 1.5\n"))
        // Another repository's file starts afresh; a first run that fails has no last success.
        let other = BackupRunMetrics.render(
            previous: second, repository: "s3://b/q", run: Self.run(false, at: 300, bytes: 0))
        #expect(!other.contains("last_success"))
        #expect(BackupRunMetrics.values(in: other, label: "{repository=\"s3://b/q\"}")["cairn_backup_runs_total"] == 1)
    }
}
