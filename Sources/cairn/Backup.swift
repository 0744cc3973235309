import ArgumentParser
import CairnClient
import CairnDigest
import CairnProtocol
import CairnServer
import CairnStore
import Foundation
import Logging

/// `cairn backup --out DIR`: a hot, compacted, verified-by-digest copy of the whole store.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the whole store, consistently and compacted, with a manifest of every tenant.",
        discussion: """
            Without --data-dir, asks the running server through its socket: the server takes a \
            snapshot (LMDB's copy with compaction, in a read transaction of its own, beside its \
            writes) and streams it; the caller needs the backup grant on "*" and no access to the \
            data directory. With --data-dir, works on that data directory's files directly, beside \
            a running server or with none. Either way DIR (new or empty) gets data.mdb, the access \
            policy and providers.d/*.json when present (under config/), and MANIFEST.json: every \
            tenant's artifacts, usage, audit chain head and configuration revisions, their digests, \
            and the sha256 of every file, written last. Everything is created 0600 in 0700 \
            directories. See docs/backup-restore.md.
            """
    )

    @Option(
        help: ArgumentHelp(
            "Back up this data directory's files directly instead of asking the server.", valueName: "dir"))
    var dataDir: String?

    @Option(
        help: ArgumentHelp(
            "The server's socket; $CAIRN_SOCKET, when set, replaces the default.", valueName: "path"))
    var socket: String = CairnClient.defaultSocketPath()

    @Option(help: ArgumentHelp("The backup directory to create; it must not exist or be empty.", valueName: "dir"))
    var out: String?

    @Option(
        help: ArgumentHelp(
            "Send the backup to the repository at s3://BUCKET/PREFIX (created when missing); only what it lacks is sent.",
            valueName: "s3-url"))
    var to: String?

    @Option(help: ArgumentHelp("List the backups in the repository at s3://BUCKET/PREFIX.", valueName: "s3-url"))
    var list: String?

    @Option(
        help: ArgumentHelp(
            "Remove the backups of the repository at s3://BUCKET/PREFIX that --keep-* does not keep, then the objects no kept backup needs.",
            valueName: "s3-url"))
    var prune: String?

    @Option(help: ArgumentHelp("With --prune: keep the newest N backups.", valueName: "n"))
    var keepLast: Int?

    @Option(
        help: ArgumentHelp("With --prune: keep the newest backup of each of the last N days (UTC).", valueName: "n"))
    var keepDaily: Int?

    @Option(
        help: ArgumentHelp("With --prune: keep the newest backup of each of the last N weeks (UTC).", valueName: "n"))
    var keepWeekly: Int?

    @OptionGroup var repository: RepositoryOptions

    @Flag(help: "With --to and no encryption key: store secret configuration values in clear anyway.")
    var allowPlaintextSecrets = false

    @Option(
        help: ArgumentHelp(
            "With --to: where the snapshot's metadata file (a few MiB) is kept while it is sent (default: $TMPDIR, else /var/tmp).",
            valueName: "dir"))
    var workDir: String?

    @Option(
        help: ArgumentHelp(
            "With --to: after each run, success or not, rewrite this Prometheus text file (for node_exporter's textfile collector) with the last success time, bytes and packs sent and failures.",
            valueName: "file"))
    var metricsFile: String?

    @Flag(help: "Print the manifest's summary as JSON.")
    var json = false

    func validate() throws {
        if metricsFile != nil, to == nil { throw ValidationError("--metrics-file goes with --to") }
        let modes = [out, to, list, prune].compactMap { $0 }.count
        guard modes == 1 else { throw ValidationError("give exactly one of --out, --to, --list and --prune") }
        if prune == nil, keepLast != nil || keepDaily != nil || keepWeekly != nil {
            throw ValidationError("--keep-last, --keep-daily and --keep-weekly go with --prune")
        }
        if prune != nil, keepLast == nil, keepDaily == nil, keepWeekly == nil {
            throw ValidationError("--prune needs at least one of --keep-last, --keep-daily and --keep-weekly")
        }
        for value in [keepLast, keepDaily, keepWeekly].compactMap({ $0 }) where value < 0 {
            throw ValidationError("--keep-* values are at least 0")
        }
    }

    func run() async throws {
        if let to { return try await RemoteCommands.backup(self, to: to) }
        if let list { return try await RemoteCommands.list(self, list) }
        if let prune { return try await RemoteCommands.prune(self, prune) }
        guard let out else { return }
        // Cleaned up on failure only when it was absent or empty: never anything that was there before.
        let existed = FileIO.status(path: out) != nil
        let ours = !existed || (try? FileManager.default.contentsOfDirectory(atPath: out))?.isEmpty == true
        let manifest: BackupManifest
        do {
            try PrivateFiles.createEmptyDirectory(out)
            let snapshot = StoreSnapshot(directory: out, showsProgress: ProgressBar.shouldShow(json: json))
            if let dataDir {
                manifest = try snapshot.offline(dataDir)
            } else {
                manifest = try await snapshot.overSocket(socket)
            }
            // Last, and whole or not at all: a backup directory with a manifest is complete, also after a power loss.
            try PrivateFiles.publish(manifest.json.serialized() + [0x0a], as: path(BackupManifest.fileName))
        } catch {
            // A backup without its manifest is no backup: leave nothing half-written behind.
            if ours, let entries = try? FileManager.default.contentsOfDirectory(atPath: out) {
                if existed {
                    for entry in entries { try? FileManager.default.removeItem(atPath: path(entry)) }
                } else {
                    try? FileManager.default.removeItem(atPath: out)
                }
            }
            if error is LocalFailure || error is ExitCode { throw error }
            throw LocalFailure("the backup failed: \(error)")
        }
        report(manifest)
    }

    private func report(_ manifest: BackupManifest) {
        let out = out ?? ""
        let artifacts = manifest.store.tenants.reduce(0) { $0 + $1.artifacts.count }
        let dataFile = manifest.files[0]
        if json {
            Output.json(
                .object(
                    JSONObject([
                        ("directory", .string(out)), ("digest", .string(manifest.store.digest.hex)),
                        ("tenants", .number(JSONNumber(manifest.store.tenants.count))),
                        ("artifacts", .number(JSONNumber(artifacts))),
                        (
                            "dataFile",
                            .object(
                                JSONObject([
                                    ("sizeBytes", .number(JSONNumber(dataFile.sizeBytes))),
                                    ("sha256", .string(dataFile.sha256.hex)),
                                ]))
                        ),
                    ])))
        } else {
            Output.fields([
                ("backup", out),
                ("tenants", "\(manifest.store.tenants.count)"),
                ("artifacts", "\(artifacts)"),
                ("data.mdb", "\(Output.exactBytes(dataFile.sizeBytes)), sha256 \(dataFile.sha256.hex)"),
                ("digest", "sha256:\(manifest.store.digest.hex)"),
            ])
        }
    }

    private func path(_ relative: String) -> String { ((out ?? "") as NSString).appendingPathComponent(relative) }
}

/// `cairn restore --from DIR --data-dir NEW`: a verified restore into a new data directory.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup into a new data directory, verifying every blob before it is usable.",
        discussion: """
            NEW must not exist or be empty. The backup's files are checked against MANIFEST.json, \
            data.mdb is copied into a staging directory and opened, every blob of every tenant is read \
            back and checked against its sha256, and the restored store's manifests are compared with \
            the backup's. Only then does the store become NEW/store; on any problem nothing is left in \
            NEW/store and every problem is printed. Exit status 0 restored, 1 refused. \
            Start `cairn serve --data-dir NEW` afterwards.
            """
    )

    @Option(
        help: ArgumentHelp(
            "The backup directory (made by cairn backup --out), or a repository: s3://BUCKET/PREFIX[#BACKUP_ID] (the newest backup when no id is given).",
            valueName: "dir|s3-url"))
    var from: String

    @OptionGroup var repository: RepositoryOptions

    @Option(help: ArgumentHelp("The new data directory; it must not exist or be empty.", valueName: "dir"))
    var dataDir: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        if from.hasPrefix("s3://") { return try await RemoteCommands.restore(self, from: from) }
        let manifest = try BackupManifest(readingFrom: from)
        var problems: [String] = []
        for file in manifest.files.dropFirst() {
            let found = try? PrivateFiles.digest(of: (from as NSString).appendingPathComponent(file.path))
            if found?.sizeBytes != file.sizeBytes || found?.sha256 != file.sha256 {
                problems.append("\(file.path) is missing or not the file the manifest records")
            }
        }
        guard problems.isEmpty else { throw refusal(problems) }
        try PrivateFiles.createEmptyDirectory(dataDir)
        let server = ServerConfiguration(dataDirectory: dataDir)
        let dataFile = manifest.files[0]
        let report: RestoreReport
        do {
            report = try ArtifactStore.restore(
                dataFile: (from as NSString).appendingPathComponent(dataFile.path), into: server.storeDirectory,
                expected: manifest.store,
                expectedFile: BackupFile(sizeBytes: dataFile.sizeBytes, sha256: dataFile.sha256),
                logger: quietLogger)
        } catch let refused as RestoreRefusal {
            throw refusal(refused.problems)
        } catch {
            throw LocalFailure("the restore failed: \(error)")
        }
        for file in manifest.files.dropFirst() {
            let relative = String(file.path.dropFirst("config/".count))
            let target = (dataDir as NSString).appendingPathComponent(relative)
            try PrivateFiles.createDirectory((target as NSString).deletingLastPathComponent)
            guard
                let contents = FileManager.default.contents(
                    atPath: (from as NSString).appendingPathComponent(file.path))
            else { throw LocalFailure("cannot read \(file.path) of the backup") }
            try PrivateFiles.write(Array(contents), to: target)
        }
        printReport(report, backup: nil)
    }

    /// Prints what a restore restored and checked; `backup` names the repository's backup, if any.
    func printReport(_ report: RestoreReport, backup: String?) {
        let server = ServerConfiguration(dataDirectory: dataDir)
        let artifacts = report.manifest.tenants.reduce(0) { $0 + $1.artifacts.count }
        if json {
            var fields = JSONObject([
                ("dataDir", .string(dataDir)), ("digest", .string(report.manifest.digest.hex)),
                ("tenants", .number(JSONNumber(report.manifest.tenants.count))),
                ("artifacts", .number(JSONNumber(artifacts))),
                ("checkedBlobs", .number(JSONNumber(report.checkedBlobs))),
                ("checkedBytes", .number(JSONNumber(report.checkedBytes))),
            ])
            if let backup { fields["backup"] = .string(backup) }
            Output.json(.object(fields))
        } else {
            Output.fields(
                [("restored", server.storeDirectory)] + (backup.map { [("backup", $0)] } ?? []) + [
                    ("tenants", "\(report.manifest.tenants.count)"),
                    ("artifacts", "\(artifacts)"),
                    ("verified", "\(report.checkedBlobs) blobs, \(Output.exactBytes(report.checkedBytes))"),
                    ("digest", "sha256:\(report.manifest.digest.hex) (equal to the backup's)"),
                ])
        }
    }

    /// Prints every problem and gives the failure that ends the command.
    func refusal(_ problems: [String]) -> LocalFailure {
        for problem in problems { Output.error("cairn: restore: \(problem)") }
        return LocalFailure(
            "restore refused: \(problems.count) problem\(problems.count == 1 ? "" : "s"); nothing was restored")
    }
}

/// Times for files the CLI writes, as the contract spells them: RFC 3339 UTC with milliseconds.
enum Timestamp {
    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date())
    }
}

/// The store's log for commands that open a store directly: warnings and worse only.
let quietLogger: Logger = {
    var logger = Logger(label: "cairn.store")
    logger.logLevel = .warning
    return logger
}()
