import CoreMetrics
import Dispatch
import LMDB
import StoreLayout

/// What the store counts as it works, through swift-metrics: bytes taken
/// for uploads and served by reads, verification calls and the corruption
/// they find.
///
/// The instruments are made once, when the store opens, so counting costs
/// an atomic add. Which backend receives them is the process's choice
/// (`MetricsSystem.bootstrap`); without one they count nothing. Figures
/// the store can be asked for at any time (sizes, usage, the writer's
/// queue) are not pushed here: see ``ArtifactStore/mapSizeBytes``,
/// ``ArtifactStore/writesWaiting`` and ``ArtifactStore/tenantUsages()``.
struct StoreInstruments: Sendable {
    /// Payload bytes taken for storage: `stage`'s content and each
    /// accepted append, before deduplication.
    let uploadedBytes = Counter(label: "cairn_upload_bytes_total")
    /// Verified bytes returned by ``ArtifactStore/read(tenant:artifactId:offset:length:)``.
    let readBytes = Counter(label: "cairn_read_bytes_total")
    /// Verification calls: a page of a tenant's scrub, or one blob.
    let verifyRuns = Counter(label: "cairn_verify_runs_total")
    /// Scrubs that reached the tenant's last blob.
    let verifyCompleted = Counter(label: "cairn_verify_completed_total")
    let verifiedBlobs = Counter(label: "cairn_verify_checked_blobs_total")
    let verifiedBytes = Counter(label: "cairn_verify_checked_bytes_total")
    /// Blobs that failed verification (each time one is checked).
    let corruptBlobs = Counter(label: "cairn_verify_corrupt_blobs_total")

    /// Counts bytes taken for an upload.
    func uploaded(_ count: Int) { uploadedBytes.increment(by: Int64(count)) }

    /// Counts bytes a read returned.
    func served(_ count: Int) { readBytes.increment(by: Int64(count)) }

    /// Counts one verification call.
    ///
    /// - Parameter completed: whether the call finished a scrub of the tenant.
    func verified(_ page: VerificationPage, completed: Bool) {
        verifyRuns.increment()
        if completed { verifyCompleted.increment() }
        verifiedBlobs.increment(by: Int64(page.checkedBlobs))
        verifiedBytes.increment(by: Int64(clamping: page.checkedBytes))
        if !page.corrupt.isEmpty { corruptBlobs.increment(by: Int64(page.corrupt.count)) }
    }
}

/// How long the writer's transactions take, from begin to committed (and
/// flushed, when durable): one figure per transaction, so a group commit
/// counts once.
struct CommitTimers: Sendable {
    let durable = CoreMetrics.Timer(
        label: "cairn_writer_commit_duration_seconds", dimensions: [("durability", "durable")])
    let deferred = CoreMetrics.Timer(
        label: "cairn_writer_commit_duration_seconds", dimensions: [("durability", "deferred")])

    /// Records a transaction that began at `start` (`DispatchTime` nanoseconds).
    func record(_ durability: StoreWriter.Durability, since start: UInt64) {
        let elapsed = Int64(clamping: DispatchTime.now().uptimeNanoseconds &- start)
        switch durability {
        case .durable: durable.recordNanoseconds(elapsed)
        case .deferred: deferred.recordNanoseconds(elapsed)
        }
    }
}

extension ArtifactStore {
    /// The size of LMDB's map now, in bytes: the address space the store
    /// holds, and (where the map is allocated) the data file's size.
    public var mapSizeBytes: Int { environment.info.mapSize }

    /// Writes waiting for the store's writer now, not yet begun.
    public var writesWaiting: Int { writer.queueDepth }

    /// The usage and quotas of every tenant the store has a record of, in
    /// name order, from one read transaction.
    public func tenantUsages() throws -> [TenantUsage] {
        try read { txn in
            try tenants(txn).map { tenant in
                let record =
                    try txn.record(TenantRecord.self, Keys.tenant(tenant.rawValue), in: tables.tenants)
                    ?? TenantRecord()
                return TenantUsage(tenant: tenant, record: record)
            }
        }
    }
}
