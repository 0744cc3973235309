import ArgumentParser
import CairnClient
import CairnDigest
import CairnManifest
import CairnProtocol

/// `cairn export --out FILE.tar|DIR`: a tenant's artifacts, configurations and manifest, portable.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export the tenant's artifacts, their meta, provider configurations and manifest.",
        discussion: """
            Writes EXPORT.json (the manifest, the content files, the configurations) and every distinct \
            content once as blobs/sha256/HEX, into a new directory, or a tar file when the path ends in \
            .tar. Every content is verified on the way; the export appears under its name only when it is \
            complete. Secret configuration values never leave the server: the export names the secret \
            fields that were set, and carries no value for them. See docs/auditing.md for the format.
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    @Option(help: ArgumentHelp("The export to create: a directory, or FILE.tar.", valueName: "path"))
    var out: String

    func run() async throws {
        try await BulkFailure.reported(as: "export") {
            let writer = try ExportWriter(target: out)
            do {
                let document = try await client.withClient { connection in
                    var progress = ProgressBar(label: "export \(tenant.name)", total: nil, enabled: false)
                    defer { progress.interrupt() }
                    let document = try await TenantExport(tenant: tenant.name).run(
                        on: connection, into: writer, exportedAt: Timestamp.now()
                    ) { done, total in
                        if done == 0 {
                            progress = ProgressBar(
                                label: "export \(tenant.name)", total: total,
                                enabled: ProgressBar.shouldShow(json: client.json))
                        }
                        progress.update(done)
                    }
                    progress.finish()
                    return document
                }
                try writer.publish()
                report(document)
            } catch {
                writer.discard()
                throw error
            }
        }
    }

    private func report(_ document: ExportDocument) {
        let bytes = document.blobs.reduce(0) { $0 + $1.sizeBytes }
        if client.json {
            Output.json(
                .object(
                    JSONObject([
                        ("out", .string(out)), ("tenant", .string(tenant.name)),
                        ("artifacts", .number(JSONNumber(document.manifest.artifacts.count))),
                        ("blobs", .number(JSONNumber(document.blobs.count))), ("bytes", .number(JSONNumber(bytes))),
                        ("configurations", .number(JSONNumber(document.configurations.count))),
                        ("digest", .string(document.manifest.digest.hex)),
                    ])))
            return
        }
        Output.fields([
            ("export", out),
            ("artifacts", "\(document.manifest.artifacts.count)"),
            ("blobs", "\(document.blobs.count), \(Output.exactBytes(bytes))"),
            ("configurations", "\(document.configurations.count)"),
            ("manifest", "sha256:\(document.manifest.digest.hex)"),
        ])
        for configuration in document.configurations where !configuration.secretFields.isEmpty {
            Output.error(
                "cairn: secret fields of \(configuration.providerId) not exported: \(configuration.secretFields.joined(separator: ", "))"
            )
        }
    }
}

/// `cairn import FILE.tar|DIR`: an export into this server's tenant, keeping artifact ids.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import an export (made by cairn export) into the tenant, keeping artifact ids.",
        discussion: """
            First checks every content file of the export against its sha256, then asks the server \
            what the import would do (artifacts.import with dryRun): artifacts already present, content \
            the tenant already holds (never sent again), ids in use by other artifacts, and whether the \
            result fits the tenant's quotas. Nothing is written unless all of that is fine. Then sends \
            each missing content once, creates the other artifacts from content now held, and sets the \
            non-secret configuration values (secret fields stay unset: an export carries none). Running \
            the same import again changes nothing and sends no content.
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var tenant: TenantOptions

    @Argument(help: ArgumentHelp("The export: a directory or a .tar file.", valueName: "path"))
    var path: String?

    @Option(
        help: ArgumentHelp(
            "Import a tenant of an off-host backup instead: s3://BUCKET/PREFIX[#BACKUP_ID] (the newest when no id is given).",
            valueName: "s3-url"))
    var from: String?

    @Option(
        help: ArgumentHelp(
            "With --from: the backup's tenant to import (default: the tenant imported into).", valueName: "name"))
    var sourceTenant: String?

    @OptionGroup var repository: RepositoryOptions

    @Option(
        help: ArgumentHelp(
            "With --from: where the tenant's contents are staged before they are sent (default $TMPDIR, else /var/tmp).",
            valueName: "dir"))
    var workDir: String?

    func validate() throws {
        guard (path == nil) != (from == nil) else { throw ValidationError("give an export path or --from, not both") }
        if from == nil, sourceTenant != nil || workDir != nil {
            throw ValidationError("--source-tenant and --work-dir go with --from")
        }
        if let sourceTenant, !Names.isTenant(sourceTenant) {
            throw ValidationError("'\(sourceTenant)' is not a tenant name")
        }
    }

    func run() async throws {
        guard let from else { return try await importExport(at: path ?? "", named: path ?? "") }
        let work = try RemoteCommands.makeWorkDirectory(in: workDir)
        defer { RemoteCommands.removeWorkDirectory(work) }
        let staged = try await RemoteCommands.stageExport(
            from: from, tenant: sourceTenant ?? tenant.name, repository: repository, into: work + "/export",
            showsProgress: ProgressBar.shouldShow(json: client.json))
        try await importExport(at: staged.path, named: staged.name)
    }

    /// Imports the export at `path`; `name` is what the report calls it.
    private func importExport(at path: String, named name: String) async throws {
        try await BulkFailure.reported(as: "import") {
            let transfer = try TenantImport(tenant: tenant.name, exportAt: path)
            let document = transfer.document
            let showProgress = ProgressBar.shouldShow(json: client.json)
            var checking = ProgressBar(
                label: "check \(path)", total: document.blobs.reduce(0) { $0 + $1.sizeBytes }, enabled: showProgress)
            defer { checking.interrupt() }
            try await transfer.checkContent { checking.update($0) }
            checking.finish()
            let summary = try await client.withClient { connection in
                let plan = try await transfer.plan(on: connection)
                if !client.json {
                    Output.error(
                        "cairn: import plan: \(plan.present) present, \(plan.newArtifacts) to create, \(plan.newContents) contents (\(Output.bytes(plan.newBytes))) to send"
                    )
                }
                var progress = ProgressBar(label: "import \(tenant.name)", total: plan.newBytes, enabled: showProgress)
                defer { progress.interrupt() }
                let summary = try await transfer.run(plan, on: connection) { sent, _ in progress.update(sent) }
                progress.finish()
                return summary
            }
            report(summary, document, name)
        }
    }

    private typealias Summary = TenantImport.Summary

    private func report(_ summary: Summary, _ document: ExportDocument, _ path: String) {
        if client.json {
            Output.json(
                .object(
                    JSONObject([
                        ("tenant", .string(tenant.name)),
                        ("artifacts", .number(JSONNumber(document.manifest.artifacts.count))),
                        ("present", .number(JSONNumber(summary.present))),
                        ("created", .number(JSONNumber(summary.created))),
                        ("uploadedBlobs", .number(JSONNumber(summary.uploadedContents))),
                        ("uploadedBytes", .number(JSONNumber(summary.uploadedBytes))),
                        (
                            "configurations",
                            .array(
                                summary.configurations.map {
                                    .object(
                                        JSONObject([
                                            ("providerId", .string($0.providerId)), ("changed", .bool($0.changed)),
                                            ("secretFieldsUnset", .array($0.unsetSecrets.map(JSONValue.string))),
                                        ]))
                                })
                        ),
                    ])))
            return
        }
        Output.fields([
            ("imported", path),
            (
                "artifacts",
                "\(document.manifest.artifacts.count): \(summary.created) created, \(summary.present) present"
            ),
            ("sent", "\(summary.uploadedContents) contents, \(Output.exactBytes(summary.uploadedBytes))"),
            (
                "configurations",
                summary.configurations.isEmpty
                    ? "none"
                    : summary.configurations.map { "\($0.providerId) \($0.changed ? "set" : "unchanged")" }.joined(
                        separator: ", ")
            ),
        ])
        for configuration in summary.configurations where !configuration.unsetSecrets.isEmpty {
            Output.error(
                "cairn: secret fields of \(configuration.providerId) left unset (an export carries no secrets): \(configuration.unsetSecrets.joined(separator: ", "))"
            )
        }
    }
}

/// The bulk paths' failures as the CLI's.
enum BulkFailure {
    /// Runs `body`; a ``BulkTransferError`` becomes its problems on standard error (one line
    /// each, `cairn: <command>: …`) and a ``LocalFailure`` (exit status 1).
    static func reported(as command: String, _ body: () async throws -> Void) async throws {
        do { try await body() } catch let error as BulkTransferError {
            for problem in error.problems { Output.error("cairn: \(command): \(problem)") }
            throw LocalFailure(error.message)
        }
    }
}
