import ArgumentParser
import BackupRepository
import CairnDigest
import CairnProtocol
import CairnServer
import CairnStore
import Foundation

/// The commands on an off-host repository: `backup --to`, `--list`, `--prune`,
/// `restore --from s3://…` and `verify --remote`. See docs/backup-restore.md.
enum RemoteCommands {
    static func location(_ text: String, allowsBackupID: Bool) throws -> RepositoryLocation {
        let location: RepositoryLocation
        do { location = try RepositoryLocation(parsing: text) } catch let error as RepositoryError {
            throw UsageFailure(error.message)
        }
        if !allowsBackupID, location.backupID != nil {
            throw UsageFailure("\(text): a backup id (#…) does not go here")
        }
        return location
    }

    // MARK: - backup --to

    static func backup(_ command: Backup, to: String) async throws {
        let location = try location(to, allowsBackupID: false)
        let started = ContinuousClock.now
        let outcome: RemoteBackup.Outcome
        do {
            outcome = try await takeBackup(command, location: location)
        } catch {
            try writeMetrics(command, location: location, started: started, outcome: nil)
            throw error
        }
        try writeMetrics(command, location: location, started: started, outcome: outcome)
    }

    /// Rewrites `--metrics-file`, if given, after a run.
    static func writeMetrics(
        _ command: Backup, location: RepositoryLocation, started: ContinuousClock.Instant,
        outcome: RemoteBackup.Outcome?
    ) throws {
        guard let path = command.metricsFile else { return }
        let previous = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let text = BackupRunMetrics.render(
            previous: previous, repository: location.description,
            run: .init(
                succeeded: outcome != nil, endedAt: Date().timeIntervalSince1970,
                durationSeconds: (ContinuousClock.now - started).seconds, sentBytes: outcome?.sentBytes ?? 0,
                sentPacks: outcome?.sentPacks ?? 0, newContents: outcome?.newContents ?? 0))
        try PrivateFiles.publish(Array(text.utf8), as: path)
        // Read by the metrics collector, which may run as another user; it holds no secret.
        chmod(path, 0o644)
    }

    static func takeBackup(_ command: Backup, location: RepositoryLocation) async throws -> RemoteBackup.Outcome {
        let work = try makeWorkDirectory(in: command.workDir)
        defer { removeWorkDirectory(work) }
        let snapshotDirectory = work + "/snapshot"
        try PrivateFiles.createEmptyDirectory(snapshotDirectory)
        let snapshot = StoreSnapshot(
            directory: snapshotDirectory, showsProgress: ProgressBar.shouldShow(json: command.json), flushes: false)
        let remote = RemoteBackup(
            location: location, repository: command.repository, allowPlaintextSecrets: command.allowPlaintextSecrets,
            showsProgress: ProgressBar.shouldShow(json: command.json))
        // The snapshot is the store without its content; the content is read from the store (or
        // the server) as it is sent, never copied to disk first.
        let manifest: BackupManifest
        let outcome: RemoteBackup.Outcome
        if let dataDir = command.dataDir {
            let content: any SnapshotContent
            (manifest, content) = try snapshot.detachedOffline(dataDir)
            outcome = try await remote.send(
                snapshotDirectory: snapshotDirectory, manifest: manifest, content: content, source: "data-dir")
        } else {
            (manifest, outcome) = try await snapshot.detachedOverSocket(command.socket) { manifest, content in
                let outcome = try await remote.send(
                    snapshotDirectory: snapshotDirectory, manifest: manifest, content: content, source: "socket")
                return (manifest, outcome)
            }
        }
        let record = outcome.record
        if command.json {
            Output.json(
                .object(
                    JSONObject([
                        ("repository", .string(location.description)), ("backup", .string(record.id)),
                        ("time", .string(record.time)), ("host", .string(record.host)),
                        ("tenants", .number(JSONNumber(record.tenants.count))),
                        ("artifacts", .number(JSONNumber(record.artifacts))),
                        ("contents", .number(JSONNumber(record.contents))),
                        ("contentBytes", .number(JSONNumber(record.contentBytes))),
                        ("newContents", .number(JSONNumber(outcome.newContents))),
                        ("reusedContents", .number(JSONNumber(outcome.reusedContents))),
                        ("sentBytes", .number(JSONNumber(outcome.sentBytes))),
                        ("sentPacks", .number(JSONNumber(outcome.sentPacks))),
                        ("seconds", .number(JSONNumber(outcome.seconds))),
                        ("digest", .string(manifest.store.digest.hex)),
                    ])))
        } else {
            Output.fields([
                ("backup", "\(location.bucket)/\(location.prefix)#\(record.id)"),
                ("tenants", "\(record.tenants.count)"),
                ("artifacts", "\(record.artifacts)"),
                ("contents", "\(record.contents), \(Output.exactBytes(UInt64(record.contentBytes)))"),
                (
                    "sent",
                    "\(outcome.newContents) new, \(outcome.reusedContents) already stored; \(Output.exactBytes(UInt64(outcome.sentBytes))) in \(outcome.sentPacks) packs"
                ),
                ("digest", "sha256:\(manifest.store.digest.hex)"),
            ])
        }
        return outcome
    }

    /// Removes a directory ``makeWorkDirectory(in:)`` made, with everything in it.
    static func removeWorkDirectory(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A new private directory for a backup's local snapshot.
    static func makeWorkDirectory(in parent: String?) throws -> String {
        let base =
            parent ?? ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/tmp"
        var template = Array((base as NSString).appendingPathComponent("cairn-backup-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw LocalFailure.system("cannot create a directory in", base) }
        return String(cString: made)
    }

    // MARK: - backup --list

    static func list(_ command: Backup, _ text: String) async throws {
        let location = try location(text, allowsBackupID: false)
        let records = try await command.repository.withRepository(location, create: false) { repo in
            var records: [SnapshotRecord] = []
            for id in try await repo.snapshotIDs() { records.append(try await repo.snapshot(id)) }
            return records
        }
        if command.json {
            Output.json(
                .array(
                    records.map { record in
                        .object(
                            JSONObject([
                                ("id", .string(record.id)), ("time", .string(record.time)),
                                ("host", .string(record.host)), ("source", .string(record.source)),
                                ("tenants", .array(record.tenants.map { .string($0) })),
                                ("artifacts", .number(JSONNumber(record.artifacts))),
                                ("logicalBytes", .number(JSONNumber(record.logicalBytes))),
                                ("contents", .number(JSONNumber(record.contents))),
                                ("contentBytes", .number(JSONNumber(record.contentBytes))),
                            ]))
                    }))
            return
        }
        Output.table(
            ["ID", "TIME", "HOST", "TENANTS", "ARTIFACTS", "BYTES"],
            records.map {
                [
                    $0.id, $0.time, $0.host, $0.tenants.joined(separator: ","), "\($0.artifacts)",
                    Output.bytes(UInt64($0.logicalBytes)),
                ]
            }, rightAligned: [4, 5])
    }

    // MARK: - backup --prune

    static func prune(_ command: Backup, _ text: String) async throws {
        let location = try location(text, allowsBackupID: false)
        let policy = RetentionPolicy(
            keepLast: command.keepLast, keepDaily: command.keepDaily, keepWeekly: command.keepWeekly)
        let report = try await command.repository.withRepository(location, create: false) { repo in
            try await repo.prune(
                policy: policy, holder: "\(RemoteBackup.hostName()) pid \(getpid())", now: RemoteBackup.now())
        }
        if command.json {
            Output.json(
                .object(
                    JSONObject([
                        ("removedBackups", .array(report.removedBackups.map { .string($0) })),
                        ("keptBackups", .array(report.keptBackups.map { .string($0) })),
                        ("removedPacks", .number(JSONNumber(report.removedPacks))),
                        ("keptPacks", .number(JSONNumber(report.keptPacks))),
                        ("abortedUploads", .number(JSONNumber(report.abortedUploads))),
                    ])))
        } else {
            Output.fields([
                ("removed", "\(report.removedBackups.count) backups, \(report.removedPacks) packs"),
                ("kept", "\(report.keptBackups.count) backups, \(report.keptPacks) packs"),
                ("aborted", "\(report.abortedUploads) unfinished uploads"),
            ])
        }
    }
}
