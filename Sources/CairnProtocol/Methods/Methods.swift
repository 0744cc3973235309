/// Every method of Cairn's protocol: the contract's, and Cairn's additions
/// (`tenants.list`, `tenants.manifest`, `events.verify`, `artifacts.import`,
/// `artifacts.importBatch`).
///
/// Each wire name is written here and nowhere else in the sources: the
/// server registers a handler per definition, the client calls through
/// them. docs/protocol.md describes each method's params, result and
/// errors.
public enum Methods {
    // MARK: System

    /// The server, its limits, who the caller is and what it may do.
    public static let systemHello = RPCMethod<NoParams, JSONDocument>("system.hello", .open, readsOnly: true)
    /// The server's status; store figures for peers with the admin scope on every tenant.
    public static let systemHealth = RPCMethod<NoParams, JSONDocument>("system.health", .open, readsOnly: true)
    /// The server's metrics in Prometheus's text format; for peers with the admin scope on every tenant.
    public static let systemMetrics = RPCMethod<NoParams, MetricsResult>(
        "system.metrics", .everywhere(.admin), readsOnly: true)

    // MARK: Artifacts

    /// Stores content of up to `maxRequestBytes` in one request.
    public static let artifactsUpload = RPCMethod<UploadArtifactParams, ArtifactMetaResult>(
        "artifacts.upload", .tenant(.admin), takesAttachment: true, readsOnly: false)
    /// A page of a tenant's artifacts, optionally of one provider.
    public static let artifactsList = RPCMethod<ListArtifactsParams, JSONDocument>(
        "artifacts.list", .tenant(.read), readsOnly: true)
    /// One artifact's meta.
    public static let artifactsMeta = RPCMethod<ArtifactParams, ArtifactMetaResult>(
        "artifacts.meta", .tenant(.read), readsOnly: true)
    /// A verified range of an artifact's content.
    public static let artifactsRead = RPCMethod<ReadParams, ReadResult>(
        "artifacts.read", .tenant(.read), readsOnly: true)
    /// Deletes an artifact; its content goes when no other artifact of the tenant has it.
    public static let artifactsDelete = RPCMethod<ArtifactParams, ArtifactDeletedResult>(
        "artifacts.delete", .tenant(.admin), readsOnly: false)
    /// Plans or carries out an import that keeps artifact ids.
    public static let artifactsImport = RPCMethod<ImportParams, JSONDocument>(
        "artifacts.import", .tenant(.admin), readsOnly: false)
    /// An import in one request and one transaction: entries and the contents the tenant lacks, attached.
    public static let artifactsImportBatch = RPCMethod<ImportBatchParams, JSONDocument>(
        "artifacts.importBatch", .tenant(.admin), takesAttachment: true, readsOnly: false)

    // MARK: Uploads

    /// Starts a resumable upload.
    public static let uploadsBegin = RPCMethod<BeginUploadParams, UploadStateResult>(
        "uploads.begin", .tenant(.admin), readsOnly: false)
    /// Adds bytes at the upload's offset.
    public static let uploadsAppend = RPCMethod<AppendParams, UploadStateResult>(
        "uploads.append", .upload, takesAttachment: true, readsOnly: false)
    /// Where an upload stands.
    public static let uploadsStatus = RPCMethod<UploadParams, UploadStateResult>(
        "uploads.status", .upload, readsOnly: true)
    /// Makes the upload an artifact, checking size and digest.
    public static let uploadsCommit = RPCMethod<CommitUploadParams, ArtifactMetaResult>(
        "uploads.commit", .upload, readsOnly: false)
    /// Drops an upload and what it stored.
    public static let uploadsAbort = RPCMethod<UploadParams, UploadAbortedResult>(
        "uploads.abort", .upload, readsOnly: false)

    // MARK: Blobs

    /// One content of the tenant and the artifacts that have it.
    public static let blobsStat = RPCMethod<BlobParams, JSONDocument>("blobs.stat", .tenant(.read), readsOnly: true)
    /// Re-hashes the tenant's stored content, a page at a time.
    public static let blobsVerify = RPCMethod<VerifyBlobsParams, JSONDocument>(
        "blobs.verify", .tenant(.admin), readsOnly: true)

    // MARK: Tenants and events

    /// The tenants the caller may read.
    public static let tenantsList = RPCMethod<NoParams, JSONDocument>("tenants.list", .open, readsOnly: true)
    /// A tenant's usage and quotas.
    public static let tenantsUsage = RPCMethod<TenantParams, TenantUsageResult>(
        "tenants.usage", .tenant(.read), readsOnly: true)
    /// Sets or removes a tenant's quotas.
    public static let tenantsSetQuota = RPCMethod<SetQuotaParams, TenantUsageResult>(
        "tenants.setQuota", .tenant(.admin), readsOnly: false)
    /// What a tenant holds, in the canonical form auditors recompute.
    public static let tenantsManifest = RPCMethod<TenantParams, JSONDocument>(
        "tenants.manifest", .tenantEither(.read, .backup), readsOnly: true)
    /// A page of a tenant's audit log.
    public static let eventsList = RPCMethod<ListEventsParams, JSONDocument>(
        "events.list", .tenant(.read), readsOnly: true)
    /// Checks a tenant's audit chain, optionally against an anchor.
    public static let eventsVerify = RPCMethod<VerifyEventsParams, JSONDocument>(
        "events.verify", .tenant(.read), readsOnly: true)

    // MARK: Providers

    /// The provider catalog.
    public static let providersList = RPCMethod<NoParams, JSONDocument>("providers.list", .open, readsOnly: true)
    /// A tenant's configuration of one provider.
    public static let providersConfigGet = RPCMethod<ProviderParams, JSONDocument>(
        "providers.config.get", .tenant(.read), readsOnly: true)
    /// Changes a tenant's configuration of one provider.
    public static let providersConfigSet = RPCMethod<ConfigureProviderParams, JSONDocument>(
        "providers.config.set", .tenant(.admin), readsOnly: false)
    /// Whether a configuration can run, with precise codes.
    public static let providersReadiness = RPCMethod<ProviderParams, JSONDocument>(
        "providers.readiness", .tenant(.read), readsOnly: true)

    // MARK: Backups (Cairn's addition to the contract)

    /// Takes a consistent snapshot of the whole store (and the server's
    /// configuration files) for the caller to fetch with ``backupRead``: a
    /// compacted copy, or with `content: "separate"` the store without its
    /// content, which ``backupReadContent`` then serves; needs the `backup`
    /// grant on `*`.
    public static let backupBegin = RPCMethod<BackupBeginParams, BackupSnapshotResult>(
        "backup.begin", .everywhere(.backup), readsOnly: true)
    /// A range of one file of the caller's snapshot, as raw bytes.
    public static let backupRead = RPCMethod<BackupReadParams, BackupChunkResult>(
        "backup.read", .everywhere(.backup), readsOnly: true)
    /// A range of one content of the caller's `separate` snapshot, as raw bytes.
    public static let backupReadContent = RPCMethod<BackupContentParams, BackupContentResult>(
        "backup.readContent", .everywhere(.backup), readsOnly: true)
    /// Removes the caller's snapshot.
    public static let backupEnd = RPCMethod<BackupSnapshotParams, BackupEndedResult>(
        "backup.end", .everywhere(.backup), readsOnly: true)

    /// The wire names of every method, in the order above.
    public static let names: [String] = [
        systemHello.name, systemHealth.name, systemMetrics.name,
        artifactsUpload.name, artifactsList.name, artifactsMeta.name,
        artifactsRead.name, artifactsDelete.name, artifactsImport.name, artifactsImportBatch.name, uploadsBegin.name,
        uploadsAppend.name,
        uploadsStatus.name, uploadsCommit.name, uploadsAbort.name, blobsStat.name, blobsVerify.name,
        tenantsList.name, tenantsUsage.name, tenantsSetQuota.name, tenantsManifest.name, eventsList.name,
        eventsVerify.name, providersList.name, providersConfigGet.name, providersConfigSet.name,
        providersReadiness.name, backupBegin.name, backupRead.name, backupReadContent.name, backupEnd.name,
    ]
}
