import CairnDigest
import CairnProtocol
import CairnStore
import Foundation
import Logging
import Testing

@testable import CairnServer

private let backupJob = Peer(pid: 21, uid: 4_200_001, gid: 4_200_001)
private let secondJob = Peer(pid: 22, uid: 4_200_002, gid: 4_200_002)
private let acmeBackup = Peer(pid: 23, uid: 4_200_003, gid: 4_200_003)
private let administrator = Peer(pid: 24, uid: 4_200_004, gid: 4_200_004)

private let policy = AccessPolicy(grants: [
    .init(subject: .uid(backupJob.uid), tenants: ["*"], scopes: [.backup]),
    .init(subject: .uid(secondJob.uid), tenants: ["*"], scopes: [.backup]),
    .init(subject: .uid(acmeBackup.uid), tenants: ["acme"], scopes: [.backup]),
    .init(subject: .uid(administrator.uid), tenants: ["*"], scopes: [.read, .admin]),
])

/// `backup.*` over a real store: what a snapshot holds, who may take and
/// read one, and when it goes away (driven by explicit instants, not by
/// waiting).
@Suite struct BackupSnapshotsTests {
    /// A store, a dispatcher and a snapshot registry in one temporary directory.
    final class Fixture: Sendable {
        let root: String
        let store: ArtifactStore
        let snapshots: BackupSnapshots
        let dispatcher: Dispatcher

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-snapshots-\(UUID())").path
            try FileManager.default.createDirectory(atPath: root + "/providers.d", withIntermediateDirectories: true)
            try Data(#"{"grants":[]}"#.utf8).write(to: URL(fileURLWithPath: root + "/access.json"))
            var logger = Logger(label: "cairn.test")
            logger.logLevel = .critical
            var configuration = ArtifactStore.Configuration()
            configuration.initialMapSize = 64 << 20
            store = try ArtifactStore.open(directory: root + "/store", configuration: configuration, logger: logger)
            // A leftover of an earlier run, which the registry must remove.
            try FileManager.default.createDirectory(
                atPath: root + "/snapshots/leftover", withIntermediateDirectories: true)
            let root = root
            snapshots = BackupSnapshots(
                directory: root + "/snapshots", idleTimeout: .seconds(60),
                configurationFiles: { [.init(source: root + "/access.json", path: "config/access.json")] })
            var limits = ServerConfiguration.Limits()
            limits.maxChunkBytes = 4096
            dispatcher = Dispatcher(store: store, policy: policy, limits: limits, snapshots: snapshots, logger: logger)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func call(_ method: String, _ params: JSONObject = JSONObject(), as peer: Peer) async -> Reply {
            await dispatcher.handle(RPCRequest(id: 1, method: method, params: params), peer: peer, attachment: nil)
        }

        /// Reads the whole file `path` of a snapshot through `backup.read`.
        func fetch(_ snapshot: BackupSnapshotResult, _ path: String, as peer: Peer) async throws -> [UInt8] {
            var bytes: [UInt8] = []
            while true {
                let reply = await call(
                    "backup.read",
                    BackupReadParams(snapshotId: snapshot.snapshotId, path: path, offset: UInt64(bytes.count)).encoded,
                    as: peer)
                guard case .binary(let json, let chunk) = reply else {
                    Issue.record("backup.read failed: \(reply)")
                    throw RPCError(.internalError, "no chunk")
                }
                let result = try BackupChunkResult(decoding: json, attachment: chunk)
                #expect(result.bytes.count <= 4096)
                bytes += result.bytes
                if result.eof { return bytes }
            }
        }

        /// Reads one whole content of a `separate` snapshot through `backup.readContent`.
        func content(
            _ snapshot: BackupSnapshotResult, _ content: BackupContentParams.Content, as peer: Peer
        ) async throws -> [UInt8] {
            var bytes: [UInt8] = []
            while true {
                let params = BackupContentParams(
                    snapshotId: snapshot.snapshotId, content: content, offset: UInt64(bytes.count))
                guard case .binary(let json, let chunk) = await call("backup.readContent", params.encoded, as: peer)
                else { throw RPCError(.internalError, "backup.readContent failed") }
                let result = try BackupContentResult(decoding: json, attachment: chunk)
                #expect(result.offset == UInt64(bytes.count) && result.bytes.count <= 4096)
                bytes += result.bytes
                if result.eof { return bytes }
            }
        }

        func begin(as peer: Peer) async throws -> BackupSnapshotResult {
            guard case .result(let json) = await call("backup.begin", as: peer) else {
                throw RPCError(.internalError, "backup.begin failed")
            }
            return try BackupSnapshotResult(decoding: json, attachment: nil)
        }
    }

    private func code(_ reply: Reply) -> String? {
        guard case .error(let error) = reply else { return nil }
        return error.code.name
    }

    @Test func aSnapshotHoldsTheStoreItsManifestAndTheConfiguration() async throws {
        let fixture = try Fixture()
        #expect(!FileManager.default.fileExists(atPath: fixture.root + "/snapshots/leftover"))
        for tenant in ["acme", "beta"] {
            _ = try await fixture.store.stage(
                tenant: TenantID(tenant)!, providerId: ProviderID("p")!, mimeType: "x/y",
                content: Array(repeating: UInt8(tenant.count), count: 10_000), actor: Actor("test"))
        }
        let snapshot = try await fixture.begin(as: backupJob)
        #expect(snapshot.files.map(\.path) == ["data.mdb", "config/access.json"])
        #expect(snapshot.layoutVersion == UInt64(fixture.store.layoutVersion))
        let expected = try fixture.store.storeManifest()
        #expect(snapshot.digest == expected.digest)
        #expect(snapshot.tenants == expected.tenants.map(ManifestCoding.encode))
        for file in snapshot.files {
            let bytes = try await fixture.fetch(snapshot, file.path, as: backupJob)
            #expect(UInt64(bytes.count) == file.sizeBytes && SHA256Hasher.digest(bytes) == file.sha256, "\(file.path)")
        }
        // The snapshot's own copy is private.
        let directory = fixture.root + "/snapshots/" + UUIDText.lowercase(snapshot.snapshotId)
        let mode = try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int
        #expect(mode == 0o700)

        // Ended: gone from disk and from the registry.
        let ended = await fixture.call(
            "backup.end", BackupSnapshotParams(snapshotId: snapshot.snapshotId).encoded, as: backupJob)
        guard case .result = ended else { Issue.record("backup.end failed: \(ended)"); return }
        #expect(!FileManager.default.fileExists(atPath: directory))
        #expect(fixture.snapshots.ids.isEmpty)
    }

    @Test func aSeparateSnapshotHoldsNoContentAndServesItFromTheStore() async throws {
        let fixture = try Fixture()
        let acme = TenantID("acme")!
        let content = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 255) }
        let staged = try await fixture.store.stage(
            tenant: acme, providerId: ProviderID("p")!, mimeType: "x/y", content: content, actor: Actor("test"))
        let upload = try await fixture.store.beginUpload(
            tenant: acme, providerId: ProviderID("p")!, mimeType: "x/y", actor: Actor("test"))
        let uploaded = Array(content.prefix(5_000))
        _ = try await fixture.store.append(uploadId: upload.uploadId, offset: 0, bytes: uploaded, actor: Actor("test"))

        let separate = BackupBeginParams(content: .separate).encoded
        guard case .result(let json) = await fixture.call("backup.begin", separate, as: backupJob) else {
            Issue.record("backup.begin with separate content failed")
            return
        }
        let snapshot = try BackupSnapshotResult(decoding: json, attachment: nil)
        #expect(snapshot.content == .separate)
        #expect(snapshot.files.map(\.path) == ["data.mdb", "config/access.json"])
        #expect(snapshot.digest == (try fixture.store.storeManifest()).digest)
        // data.mdb is the metadata file: none of the content's bytes are in it.
        let metadata = try await fixture.fetch(snapshot, "data.mdb", as: backupJob)
        #expect(UInt64(metadata.count) == snapshot.files[0].sizeBytes)
        #expect(!Self.contains(metadata, Array(content[1000..<1064])))

        // The blob and the upload, a chunk at a time (maxChunkBytes is 4096 here).
        let blob = BackupContentParams.Content.blob(tenant: "acme", sha256: staged.meta.sha256)
        #expect(try await fixture.content(snapshot, blob, as: backupJob) == content)
        #expect(try await fixture.content(snapshot, .upload(upload.uploadId), as: backupJob) == uploaded)
        // The upload goes on: the snapshot still serves the bytes it had.
        _ = try await fixture.store.append(
            uploadId: upload.uploadId, offset: 5_000, bytes: [1, 2, 3], actor: Actor("test"))
        #expect(try await fixture.content(snapshot, .upload(upload.uploadId), as: backupJob) == uploaded)

        func read(_ content: BackupContentParams.Content, offset: UInt64 = 0, length: UInt64? = nil, as peer: Peer)
            async -> Reply
        {
            await fixture.call(
                "backup.readContent",
                BackupContentParams(snapshotId: snapshot.snapshotId, content: content, offset: offset, length: length)
                    .encoded, as: peer)
        }
        // Only its owner reads it, only what it refers to, only within bounds.
        #expect(code(await read(blob, as: secondJob)) == "NOT_FOUND")
        #expect(code(await read(blob, as: administrator)) == "FORBIDDEN")
        let other = BackupContentParams.Content.blob(tenant: "beta", sha256: staged.meta.sha256)
        let unknown = await read(other, as: backupJob)
        #expect(code(unknown) == "NOT_FOUND")
        if case .error(let error) = unknown { #expect(error.data["what"] == "content") }
        #expect(code(await read(.upload(UUID()), as: backupJob)) == "NOT_FOUND")
        #expect(code(await read(blob, offset: 10_001, as: backupJob)) == "INVALID_PARAMS")
        #expect(code(await read(blob, length: 4097, as: backupJob)) == "TOO_LARGE")
        var both = BackupContentParams(snapshotId: snapshot.snapshotId, content: blob).encoded
        both["uploadId"] = .string(UUIDText.lowercase(upload.uploadId))
        #expect(code(await fixture.call("backup.readContent", both, as: backupJob)) == "INVALID_PARAMS")
        let bogus = JSONObject([("content", "elsewhere")])
        #expect(code(await fixture.call("backup.begin", bogus, as: backupJob)) == "INVALID_PARAMS")

        // Deleted since the snapshot: NOT_FOUND, saying so; and the ended upload likewise.
        #expect(try await fixture.store.delete(tenant: acme, artifactId: staged.meta.artifactId, actor: Actor("test")))
        let deleted = await read(blob, as: backupJob)
        #expect(code(deleted) == "NOT_FOUND")
        if case .error(let error) = deleted { #expect(error.message.contains("take the backup again")) }
        try await fixture.store.abortUpload(uploadId: upload.uploadId, actor: Actor("test"))
        #expect(code(await read(.upload(upload.uploadId), as: backupJob)) == "NOT_FOUND")

        // A snapshot with its content included serves no content apart.
        let included = try await fixture.begin(as: backupJob)
        #expect(included.content == .included)
        let apart = BackupContentParams(snapshotId: included.snapshotId, content: blob).encoded
        #expect(code(await fixture.call("backup.readContent", apart, as: backupJob)) == "NOT_FOUND")
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, haystack.count >= needle.count else { return false }
        for at in 0...(haystack.count - needle.count) where haystack[at] == first {
            if haystack[at..<at + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }

    @Test func onlyTheBackupGrantOnEveryTenantTakesASnapshotAndOnlyItsOwnerReadsIt() async throws {
        let fixture = try Fixture()
        #expect(code(await fixture.call("backup.begin", as: administrator)) == "FORBIDDEN")
        #expect(code(await fixture.call("backup.begin", as: acmeBackup)) == "FORBIDDEN")
        let refused = await fixture.call("backup.begin", as: acmeBackup)
        if case .error(let error) = refused {
            #expect(error.data["scope"] == "backup" && error.data["tenant"] == "*")
        }
        let snapshot = try await fixture.begin(as: backupJob)
        let read = BackupReadParams(snapshotId: snapshot.snapshotId, path: "data.mdb").encoded
        // Another backup job does not see it; neither does an admin.
        #expect(code(await fixture.call("backup.read", read, as: secondJob)) == "NOT_FOUND")
        #expect(code(await fixture.call("backup.read", read, as: administrator)) == "FORBIDDEN")
        #expect(
            code(
                await fixture.call(
                    "backup.end", BackupSnapshotParams(snapshotId: snapshot.snapshotId).encoded, as: secondJob))
                == "NOT_FOUND")
        // Only the files the snapshot lists are served: never a path the client makes up.
        for path in ["../store/data.mdb", "/etc/passwd", "config", "lock.mdb"] {
            let params = BackupReadParams(snapshotId: snapshot.snapshotId, path: path).encoded
            #expect(code(await fixture.call("backup.read", params, as: backupJob)) == "NOT_FOUND", "\(path)")
        }
        let past = BackupReadParams(snapshotId: snapshot.snapshotId, path: "data.mdb", offset: 1 << 40).encoded
        #expect(code(await fixture.call("backup.read", past, as: backupJob)) == "INVALID_PARAMS")
        let tooLong = BackupReadParams(snapshotId: snapshot.snapshotId, path: "data.mdb", length: 4097).encoded
        #expect(code(await fixture.call("backup.read", tooLong, as: backupJob)) == "TOO_LARGE")

        // The backup grant reads manifests and lists tenants, and nothing of the artifacts.
        _ = try await fixture.store.stage(
            tenant: TenantID("acme")!, providerId: ProviderID("p")!, mimeType: "x/y", content: [1, 2, 3],
            actor: Actor("test"))
        guard case .result = await fixture.call("tenants.manifest", JSONObject([("tenant", "acme")]), as: acmeBackup)
        else { Issue.record("tenants.manifest refused to the backup grant"); return }
        guard case .result(let listed) = await fixture.call("tenants.list", as: acmeBackup) else { return }
        #expect(listed["tenants"] == ["acme"])
        #expect(
            code(await fixture.call("artifacts.list", JSONObject([("tenant", "acme")]), as: acmeBackup)) == "FORBIDDEN")
        #expect(
            code(await fixture.call("tenants.manifest", JSONObject([("tenant", "beta")]), as: acmeBackup))
                == "FORBIDDEN")
    }

    @Test func aSnapshotNobodyReadsExpiresAndANewOneReplacesTheOld() async throws {
        let fixture = try Fixture()
        let start = ContinuousClock.now
        let first = try fixture.snapshots.begin(owner: backupJob.uid, store: fixture.store, now: start)
        let other = try fixture.snapshots.begin(owner: secondJob.uid, store: fixture.store, now: start)
        // A read keeps a snapshot alive.
        _ = try fixture.snapshots.read(
            other.snapshotId, owner: secondJob.uid, path: "data.mdb", offset: 0, length: 10, now: start + .seconds(50))
        #expect(fixture.snapshots.expire(now: start + .seconds(59)).isEmpty)
        #expect(fixture.snapshots.expire(now: start + .seconds(60)) == [first.snapshotId])
        #expect(fixture.snapshots.ids == [other.snapshotId])
        #expect(
            !FileManager.default.fileExists(atPath: fixture.root + "/snapshots/" + UUIDText.lowercase(first.snapshotId))
        )

        // One snapshot per owner: a new begin replaces its previous one.
        let replacement = try fixture.snapshots.begin(
            owner: secondJob.uid, store: fixture.store, now: start + .seconds(70))
        #expect(fixture.snapshots.ids == [replacement.snapshotId])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: fixture.root + "/snapshots")
                == [UUIDText.lowercase(replacement.snapshotId)])
    }
}
