import CairnDigest
import DamageSupport
import Foundation
import LMDB
import StoreLayout
import Testing

@testable import CairnStore

/// Manifests, read-only opening, hot backups and verified restores of a real store.
@Suite struct BackupTests {
    let acme = tenant("acme")
    let beta = tenant("beta")

    /// A path for a directory that does not exist yet, removed afterwards by `cleanup`.
    func scratch() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("cairn-backup-test-\(UUID().uuidString)").path
    }

    @Test func theCanonicalFormIsExactlyTheDocumentedOne() throws {
        let digest = SHA256Hasher.digest(Array("x".utf8))
        let manifest = TenantManifest(
            tenant: acme,
            usage: TenantUsage(
                tenant: acme, artifactCount: 2, logicalBytes: 2, storedBytes: 1, maxBytes: 10, maxArtifacts: nil),
            events: EventChainHead(seq: 0, sha256: nil),
            artifacts: [
                .init(
                    artifactId: UUID(uuidString: "FFFFFFFF-0000-4000-8000-000000000000")!, sha256: digest, sizeBytes: 1,
                    providerId: "p", mimeType: "text/plain; charset=utf-8"),
                .init(
                    artifactId: UUID(uuidString: "0AAAAAAA-0000-4000-8000-000000000000")!, sha256: digest, sizeBytes: 1,
                    providerId: "q", mimeType: "x/y"),
            ],
            configurations: [
                .init(providerId: "z", revision: 3), .init(providerId: "excititor:oci-openvex", revision: 1),
            ])
        let text = """
            cairn-manifest 1
            tenant acme
            usage 2 2 1
            quota 10 none
            events 0 none
            artifact 0aaaaaaa-0000-4000-8000-000000000000 \(digest.hex) 1 q x/y
            artifact ffffffff-0000-4000-8000-000000000000 \(digest.hex) 1 p text/plain; charset=utf-8
            config excititor:oci-openvex 1
            config z 3

            """
        #expect(manifest.canonicalText == text)
        #expect(manifest.digest == SHA256Hasher.digest(Array(text.utf8)))
        let store = StoreManifest(tenants: [manifest])
        #expect(
            store.digest
                == SHA256Hasher.digest(Array("cairn-store-manifest 1\ntenant acme \(manifest.digest.hex)\n".utf8)))
    }

    /// Artifacts are sorted by their id's bytes, which must give exactly the
    /// order of the ids' canonical text that the documented form promises.
    @Test func artifactsAreInTheOrderOfTheirCanonicalIds() {
        let digest = SHA256Hasher.digest([1])
        var ids = (0..<2000).map { _ in UUID() }
        // Ids that differ only in one byte, at every position, and in the high nibble.
        for position in 0..<16 {
            for value: UInt8 in [0x00, 0x09, 0x0a, 0x7f, 0x80, 0x9f, 0xa0, 0xff] {
                var bytes = [UInt8](repeating: 0x55, count: 16)
                bytes[position] = value
                ids.append(UUID(bytes: bytes)!)
            }
        }
        let manifest = TenantManifest(
            tenant: acme,
            usage: TenantUsage(
                tenant: acme, artifactCount: 0, logicalBytes: 0, storedBytes: 0, maxBytes: nil, maxArtifacts: nil),
            events: EventChainHead(seq: 0, sha256: nil),
            artifacts: ids.map {
                .init(artifactId: $0, sha256: digest, sizeBytes: 1, providerId: "p", mimeType: "x/y")
            },
            configurations: [])
        #expect(manifest.artifacts.map(\.id) == ids.map { $0.uuidString.lowercased() }.sorted())
    }

    @Test func theManifestFollowsWritesAndTheChain() async throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let empty = try store.manifest(tenant: acme)
        #expect(empty.artifacts.isEmpty && empty.events == EventChainHead(seq: 0, sha256: nil))
        let staged = try await stage(store, acme, Array("hello".utf8))
        _ = try await stage(store, acme, Array("hello".utf8))
        _ = try await store.setQuota(tenant: acme, maxBytes: .set(99), maxArtifacts: .unchanged, actor: alice)
        let manifest = try store.manifest(tenant: acme)
        #expect(manifest.artifacts.count == 2)
        #expect(manifest.artifacts.contains { $0.artifactId == staged.meta.artifactId && $0.sizeBytes == 5 })
        #expect(manifest.usage == (try store.usage(tenant: acme)))
        let chain = try store.verifyEventChain(tenant: acme)
        #expect(chain.problems.isEmpty)
        #expect(chain.checkedEvents == 3)
        #expect(manifest.events == chain.head)
        #expect(manifest.events.seq == 3)
        #expect(try store.tenants() == [acme])
        #expect(try store.storeManifest().tenants == [manifest])
    }

    @Test func aBackupRestoresToTheSameManifestAndContent() async throws {
        let source = StoreDirectory()
        let backup = scratch()
        let restored = scratch()
        defer {
            try? FileManager.default.removeItem(atPath: backup)
            try? FileManager.default.removeItem(atPath: restored)
        }
        let large = pseudoRandomBytes(chunkBytes * 2 + 77, seed: 0xBAC0)
        let (manifest, file, ids) = try await source.withStore { store in
            var ids: [UUID] = []
            ids.append(try await stage(store, acme, large).meta.artifactId)
            ids.append(try await stage(store, beta, Array("beta".utf8)).meta.artifactId)
            // Garbage and an open upload are not part of what a backup must restore, but must not break it.
            let gone = try await stage(store, acme, Array("gone".utf8)).meta.artifactId
            _ = try await store.delete(tenant: acme, artifactId: gone, actor: alice)
            _ = try await store.beginUpload(tenant: acme, providerId: provider("p"), mimeType: "x/y", actor: alice)
            let result = try store.backup(to: backup)
            #expect(result.manifest == (try store.storeManifest()))
            return (result.manifest, result.dataFile, ids)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: backup) == ["data.mdb"])
        let report = try ArtifactStore.restore(
            dataFile: backup + "/data.mdb", into: restored, expected: manifest, expectedFile: file, logger: quietLogger)
        #expect(report.manifest == manifest)
        #expect(report.checkedBlobs == 2)
        let store = try ArtifactStore.open(directory: restored, logger: quietLogger)
        #expect(try readAll(store, acme, ids[0]) == large)
        #expect(try readAll(store, beta, ids[1]) == Array("beta".utf8))
        #expect(try store.storeManifest() == manifest)
        #expect(try store.verifyEventChain(tenant: acme).problems.isEmpty)
    }

    @Test func aDamagedOrDifferentBackupIsRefusedAndLeavesNothing() async throws {
        let source = StoreDirectory()
        let backup = scratch()
        let restored = scratch()
        defer {
            try? FileManager.default.removeItem(atPath: backup)
            try? FileManager.default.removeItem(atPath: restored)
        }
        let content = pseudoRandomBytes(50_000, seed: 0xBAC1)
        let (manifest, file, id) = try await source.withStore { store in
            let id = try await stage(store, acme, content).meta.artifactId
            let result = try store.backup(to: backup)
            return (result.manifest, result.dataFile, id)
        }
        // A manifest that expects one more artifact: named, nothing restored.
        var expected = manifest
        let extra = TenantManifest.Artifact(
            artifactId: UUID(), sha256: SHA256Hasher.digest([1]), sizeBytes: 1, providerId: "p", mimeType: "x/y")
        expected.tenants[0].artifacts.append(extra)
        #expect {
            try ArtifactStore.restore(
                dataFile: backup + "/data.mdb", into: restored, expected: expected, expectedFile: file,
                logger: quietLogger)
        } throws: { error in
            (error as? RestoreRefusal)?.problems.contains {
                $0.contains("artifact \(extra.id)") && $0.contains("is missing")
            }
                == true
        }
        #expect(!FileManager.default.fileExists(atPath: restored))

        // A flipped content byte: the blob and its artifact are named.
        let found = try #require(
            try FileDamage.offsets(of: Array(content[1000..<1064]), in: backup + "/data.mdb").first)
        try FileDamage.flip(backup + "/data.mdb", at: found)
        #expect {
            try ArtifactStore.restore(
                dataFile: backup + "/data.mdb", into: restored, expected: manifest, expectedFile: file,
                logger: quietLogger)
        } throws: { error in
            let problems = (error as? RestoreRefusal)?.problems ?? []
            return problems.count == 2
                && problems.contains {
                    $0.contains("blob sha256:\(SHA256Hasher.digest(content).hex) fails verification")
                        && $0.contains(id.uuidString.lowercased())
                } && problems.contains { $0.contains("data file is not the one") }
        }
        #expect(!FileManager.default.fileExists(atPath: restored))

        let siblings = try FileManager.default.contentsOfDirectory(
            atPath: (restored as NSString).deletingLastPathComponent)
        #expect(!siblings.contains { $0.hasPrefix(".\((restored as NSString).lastPathComponent).restoring") })
    }

    @Test func aBackupWithAnEditedEventIsRefused() async throws {
        let source = StoreDirectory()
        let backup = scratch()
        let restored = scratch()
        defer {
            try? FileManager.default.removeItem(atPath: backup)
            try? FileManager.default.removeItem(atPath: restored)
        }
        let manifest = try await source.withStore { store in
            _ = try await stage(store, acme, Array("one".utf8))
            _ = try await stage(store, acme, Array("two".utf8))
            _ = try await store.setQuota(tenant: acme, maxBytes: .set(100), maxArtifacts: .unchanged, actor: alice)
            return try store.backup(to: backup).manifest
        }
        // Rewrite event 1 in the backup's file: the manifest's chain head (event 3) is untouched.
        let environment = try Environment(path: backup)
        try environment.withWriteTransaction { txn in
            let events = try #require(try txn.openDatabase(DatabaseName.events.rawValue, create: false))
            let key = Keys.event(tenant: "acme", seq: 1)
            var record = try EventRecord(decoding: Array(try #require(try txn.get(key, in: events))))
            record.actor = "mallory"
            try txn.put(record.encoded(), for: key, in: events)
        }
        #expect {
            try ArtifactStore.restore(
                dataFile: backup + "/data.mdb", into: restored, expected: manifest, expectedFile: nil,
                logger: quietLogger)
        } throws: { error in
            (error as? RestoreRefusal)?.problems == [
                "tenant acme: audit chain: event 2 does not follow event 1: event 1 was changed, or events before 2 were removed or reordered"
            ]
        }
        #expect(!FileManager.default.fileExists(atPath: restored))
    }

    @Test func readOnlyOpeningWritesNothingAndNeedsAStore() async throws {
        let directory = StoreDirectory()
        try await directory.withStore { store in _ = try await stage(store, acme, [1, 2, 3]) }
        let before = try Data(contentsOf: URL(fileURLWithPath: directory.dataFile))
        do {
            let store = try ArtifactStore.openReadOnly(directory: directory.path, logger: quietLogger)
            #expect(try store.manifest(tenant: acme).artifacts.count == 1)
            #expect(try store.verifyBlobs(tenant: acme).corrupt.isEmpty)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.dataFile)) == before)
        await expectStoreError(.notFound) { try ArtifactStore.openReadOnly(directory: scratch(), logger: quietLogger) }
        try directory.setRawValue([0, 0, 0, 3], for: MetaKey.layoutVersion, in: .meta)
        await expectStoreError(.internalError) {
            try ArtifactStore.openReadOnly(directory: directory.path, logger: quietLogger)
        }
    }
}
