/// The metrics of `cairn backup --to` for Prometheus's textfile collector (node_exporter's
/// `--collector.textfile.directory`): one file, rewritten after every run, that carries the
/// counters of earlier runs forward. Pure: the previous file's text in, the new text out.
public struct BackupRunMetrics: Sendable, Hashable {
    /// What one run did.
    public struct Run: Sendable, Hashable {
        /// Whether it succeeded.
        public var succeeded: Bool
        /// When it ended, seconds since 1970.
        public var endedAt: Double
        /// How long it took.
        public var durationSeconds: Double
        /// Stored bytes sent (packs, indexes, the record); 0 for a failed run.
        public var sentBytes: Int64
        /// Packs sent.
        public var sentPacks: Int
        /// Contents the repository lacked and now has.
        public var newContents: Int

        /// A run of these facts.
        public init(
            succeeded: Bool, endedAt: Double, durationSeconds: Double, sentBytes: Int64, sentPacks: Int,
            newContents: Int
        ) {
            self.succeeded = succeeded
            self.endedAt = endedAt
            self.durationSeconds = durationSeconds
            self.sentBytes = sentBytes
            self.sentPacks = sentPacks
            self.newContents = newContents
        }
    }

    /// The text after `run`, given the file's previous text (empty when there was none).
    ///
    /// - Parameters:
    ///   - previous: the file as it was; its counters and last success time are carried forward
    ///     for the same repository, anything else in it is dropped.
    ///   - repository: the repository's location, the `repository` label.
    ///   - run: the run that just ended.
    public static func render(previous: String, repository: String, run: Run) -> String {
        let label = "{repository=\"\(escape(repository))\"}"
        let earlier = values(in: previous, label: label)
        let runs = (earlier["cairn_backup_runs_total"] ?? 0) + 1
        let failures = (earlier["cairn_backup_failures_total"] ?? 0) + (run.succeeded ? 0 : 1)
        let sentTotal = (earlier["cairn_backup_sent_bytes_total"] ?? 0) + Double(run.sentBytes)
        let packsTotal = (earlier["cairn_backup_sent_packs_total"] ?? 0) + Double(run.sentPacks)
        let lastSuccess = run.succeeded ? run.endedAt : earlier["cairn_backup_last_success_timestamp_seconds"]
        var lines: [String] = []
        func metric(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            lines.append("\(name)\(label) \(format(value))")
        }
        metric(
            "cairn_backup_last_success_timestamp_seconds", "gauge",
            "When a backup to the repository last succeeded (seconds since 1970).", lastSuccess)
        metric(
            "cairn_backup_last_run_timestamp_seconds", "gauge", "When the last backup run ended (seconds since 1970).",
            run.endedAt)
        metric(
            "cairn_backup_last_run_success", "gauge", "1 when the last run succeeded, else 0.", run.succeeded ? 1 : 0)
        metric("cairn_backup_last_run_duration_seconds", "gauge", "How long the last run took.", run.durationSeconds)
        metric(
            "cairn_backup_last_run_sent_bytes", "gauge", "Bytes the last run stored in the repository.",
            Double(run.sentBytes))
        metric(
            "cairn_backup_last_run_new_contents", "gauge", "Contents the last run stored that the repository lacked.",
            Double(run.newContents))
        metric("cairn_backup_runs_total", "counter", "Backup runs.", runs)
        metric("cairn_backup_failures_total", "counter", "Backup runs that failed.", failures)
        metric("cairn_backup_sent_bytes_total", "counter", "Bytes stored in the repository by all runs.", sentTotal)
        metric("cairn_backup_sent_packs_total", "counter", "Packs stored in the repository by all runs.", packsTotal)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The samples of `text` with exactly `label`, by metric name.
    static func values(in text: String, label: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            let series = line[..<space]
            guard series.hasSuffix(label) else { continue }
            values[String(series.dropLast(label.count))] = value
        }
        return values
    }

    static func escape(_ value: String) -> String {
        value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
