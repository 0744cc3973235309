import CairnProtocol

/// `backup.*`: whole-store snapshots for a peer with the `backup` grant on
/// `*` (checked before the handlers run). The copy and the file reads are
/// disk work: never on the connection's thread.
extension Dispatcher {
    func backupBegin(_ params: NoParams, _ call: Call) async throws -> BackupSnapshotResult {
        try snapshots.begin(owner: call.peer.uid, store: store, now: .now)
    }

    func backupRead(_ params: BackupReadParams, _ call: Call) async throws -> BackupChunkResult {
        try snapshots.read(
            params.snapshotId, owner: call.peer.uid, path: params.path, offset: params.offset,
            length: Int(params.length ?? UInt64(limits.maxChunkBytes)), now: .now)
    }

    func backupEnd(_ params: BackupSnapshotParams, _ call: Call) async throws -> BackupEndedResult {
        try snapshots.end(params.snapshotId, owner: call.peer.uid, now: .now)
        return BackupEndedResult(snapshotId: params.snapshotId)
    }
}
