import CairnProtocol
import Foundation

/// `backup.*`: whole-store snapshots for a peer with the `backup` grant on
/// `*` (checked before the handlers run). The copy and the file reads are
/// disk work: never on the connection's thread.
extension Dispatcher {
    /// The copy reads the whole store and writes it out again: it runs on a thread of its own, not
    /// on one of the few that run every connection's tasks.
    func backupBegin(_ params: BackupBeginParams, _ call: Call) async throws -> BackupSnapshotResult {
        let (snapshots, store, owner) = (snapshots, store, call.peer.uid)
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    with: Result {
                        try snapshots.begin(owner: owner, store: store, content: params.content, now: .now)
                    })
            }
            thread.name = "cairn-backup-snapshot"
            thread.start()
        }
    }

    func backupRead(_ params: BackupReadParams, _ call: Call) async throws -> BackupChunkResult {
        try snapshots.read(
            params.snapshotId, owner: call.peer.uid, path: params.path, offset: params.offset,
            length: Int(params.length ?? UInt64(limits.maxChunkBytes)), now: .now)
    }

    func backupReadContent(_ params: BackupContentParams, _ call: Call) async throws -> BackupContentResult {
        try snapshots.readContent(
            params.snapshotId, owner: call.peer.uid, content: params.content, offset: params.offset,
            length: Int(params.length ?? UInt64(limits.maxChunkBytes)), store: store, now: .now)
    }

    func backupEnd(_ params: BackupSnapshotParams, _ call: Call) async throws -> BackupEndedResult {
        try snapshots.end(params.snapshotId, owner: call.peer.uid, now: .now)
        return BackupEndedResult(snapshotId: params.snapshotId)
    }
}
