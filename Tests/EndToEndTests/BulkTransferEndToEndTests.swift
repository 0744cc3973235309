import CairnClient
import CairnDigest
import CairnManifest
import CairnProtocol
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Exports and imports of many artifacts in batches (`artifacts.importBatch`,
/// pipelined reads) between real servers, and an import whose server is
/// killed with SIGKILL between batches.
@Suite(.timeLimit(.minutes(3)))
struct BulkTransferEndToEndTests {
    /// Stores `count` artifacts of 1–3 KiB in `tenant` (every tenth one with the content of the one
    /// before), plus the `extra` contents, through batches; returns the contents by artifact id.
    static func seed(
        _ server: ServerProcess, tenant: String, count: Int, extra: [[UInt8]] = []
    ) async throws -> [UUID: [UInt8]] {
        var contents: [UUID: [UInt8]] = [:]
        var pool = Payload.random(count * 3072)
        var previous: [UInt8] = []
        var planned: [(UUID, [UInt8])] = []
        for index in 0..<count {
            let size = 1024 + (index * 37) % 2048
            let content = index % 10 == 9 ? previous : Array(pool[(index * 3072)..<(index * 3072 + size)])
            previous = content
            planned.append((UUID(), content))
        }
        for content in extra { planned.append((UUID(), content)) }
        pool = []
        try await CairnClient.withConnection(socketPath: server.socketPath) { connection in
            for start in stride(from: 0, to: planned.count, by: 500) {
                let page = planned[start..<min(planned.count, start + 500)]
                var sent = Set<SHA256Digest>()
                var attached: [UInt8] = []
                var listed: [ImportBatchParams.Content] = []
                let entries = page.map { id, content in
                    let digest = SHA256Hasher.digest(content)
                    if sent.insert(digest).inserted {
                        attached += content
                        listed.append(.init(sha256: digest, sizeBytes: UInt64(content.count)))
                    }
                    return ImportParams.Entry(
                        artifactId: id, sha256: digest, sizeBytes: UInt64(content.count), providerId: "p",
                        mimeType: "application/octet-stream")
                }
                let result = try await connection.call(
                    Methods.artifactsImportBatch,
                    ImportBatchParams(tenant: tenant, artifacts: entries, contents: listed), attachment: attached
                ).json
                #expect(result["created"]?.intValue == page.count)
            }
        }
        for (id, content) in planned { contents[id] = content }
        return contents
    }

    /// The manifest's own figures agree with its artifacts: exact accounting.
    static func expectExactAccounting(_ manifest: TenantManifest, sourceLocation: SourceLocation = #_sourceLocation) {
        var distinct: [SHA256Digest: UInt64] = [:]
        for artifact in manifest.artifacts { distinct[artifact.sha256] = artifact.sizeBytes }
        #expect(manifest.usage.artifactCount == UInt64(manifest.artifacts.count), sourceLocation: sourceLocation)
        #expect(
            manifest.usage.logicalBytes == manifest.artifacts.reduce(0) { $0 + $1.sizeBytes },
            sourceLocation: sourceLocation)
        #expect(manifest.usage.storedBytes == distinct.values.reduce(0, +), sourceLocation: sourceLocation)
    }

    static func manifest(_ server: ServerProcess, _ tenant: String) async throws -> TenantManifest {
        try await CairnClient.withConnection(socketPath: server.socketPath) { connection in
            try ManifestCoding.decode(
                try await connection.call(Methods.tenantsManifest, TenantParams(tenant: tenant)).json)
        }
    }

    @Test func manyArtifactsTravelInBatchesWithTheirIds() async throws {
        let source = try await ServerProcess.start()
        let large = Payload.random(3 << 20 + 17)
        let contents = try await Self.seed(source, tenant: "acme", count: 1500, extra: [large, large, []])
        let sourceManifest = try await Self.manifest(source, "acme")
        #expect(sourceManifest.artifacts.count == 1503)

        let tar = source.scratch("acme.tar")
        let directory = source.scratch("acme-export")
        for out in [tar, directory] {
            let exported = try await source.cairn(["export", "--tenant", "acme", "--out", out, "--json"])
            #expect(exported.status == 0, "\(exported)")
            #expect(try Audit.json(exported.output)["artifacts"] == 1503)
        }
        // Every content file is its digest's.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/blobs/sha256")
        #expect(names.count == Set(contents.values.map { SHA256Hasher.digest($0) }).count)
        for name in names.prefix(50) {
            let bytes = try #require(FileManager.default.contents(atPath: directory + "/blobs/sha256/" + name))
            #expect(SHA256Hasher.digest(Array(bytes)).hex == name)
        }

        let target = try await ServerProcess.start()
        let first = try await target.cairn(["import", "--tenant", "acme", tar, "--json"])
        #expect(first.status == 0, "\(first)")
        let summary = try Audit.json(first.output)
        #expect(summary["created"] == 1503)
        #expect(summary["present"] == 0)
        #expect(summary["uploadedBlobs"]?.intValue == names.count)
        let targetManifest = try await Self.manifest(target, "acme")
        #expect(targetManifest.artifacts == sourceManifest.artifacts)
        Self.expectExactAccounting(targetManifest)
        #expect(targetManifest.usage.storedBytes == sourceManifest.usage.storedBytes)
        let chain = try await target.cairn(["verify", "--events", "--tenant", "acme"])
        #expect(chain.status == 0, "\(chain)")
        let scrub = try await target.cairn(["verify", "--tenant", "acme"])
        #expect(scrub.status == 0, "\(scrub)")

        // Again from the directory: nothing sent, nothing created, not an event more.
        let second = try await target.cairn(["import", "--tenant", "acme", directory, "--json"])
        #expect(second.status == 0, "\(second)")
        #expect(try Audit.json(second.output)["uploadedBytes"] == 0)
        #expect(try Audit.json(second.output)["present"] == 1503)
        #expect(try await Self.manifest(target, "acme") == targetManifest)
    }

    @Test func aServerKilledDuringABatchedImportLosesNoAcknowledgedBatchAndTheImportResumes() async throws {
        let source = try await ServerProcess.start()
        _ = try await Self.seed(source, tenant: "acme", count: 1200)
        let tar = source.scratch("acme.tar")
        #expect(try await source.cairn(["export", "--tenant", "acme", "--out", tar]).status == 0)
        let transfer = try TenantImport(tenant: "acme", exportAt: tar)
        let exported = transfer.document.manifest

        let target = try await ServerProcess.start()
        let limits = ImportBatches.Limits(entries: 50, bytes: 64 << 10, inlineBytes: 16 << 10)
        for killAfter in [1, 7] {
            let pid = try #require(target.pid)
            var acknowledged: [UUID] = []
            let plan = try await CairnClient.withConnection(socketPath: target.socketPath) {
                try await transfer.plan(on: $0)
            }
            let batches = ImportBatches(artifacts: exported.artifacts, statuses: plan.statuses, limits: limits)
            #expect(batches.batches.count > killAfter + 2)
            var acknowledgements = 0
            await #expect(throws: (any Error).self) {
                try await CairnClient.withConnection(socketPath: target.socketPath) { connection in
                    try await transfer.run(plan, on: connection, limits: limits) { _, ids in
                        acknowledged += ids
                        acknowledgements += 1
                        // The next batch is on its way: the server dies under it.
                        if acknowledgements == killAfter { kill(pid, SIGKILL) }
                    }
                }
            }
            try await target.kill()
            try await target.start()

            let after = try await Self.manifest(target, "acme")
            let held = Set(after.artifacts.map(\.artifactId))
            // Every acknowledged artifact is there, as exported.
            #expect(acknowledgements >= killAfter && !acknowledged.isEmpty)
            #expect(acknowledged.allSatisfy(held.contains))
            let byId = Dictionary(uniqueKeysWithValues: exported.artifacts.map { ($0.artifactId, $0) })
            #expect(after.artifacts.allSatisfy { byId[$0.artifactId] == $0 })
            // Whole batches or nothing of them.
            for batch in batches.batches {
                let present = batch.artifacts.filter { held.contains(exported.artifacts[$0].artifactId) }.count
                #expect(present == 0 || present == batch.artifacts.count)
            }
            Self.expectExactAccounting(after)
            let chain = try await target.cairn(["verify", "--events", "--tenant", "acme"])
            #expect(chain.status == 0, "\(chain)")
        }

        // Running the import again finishes it, sending only what is missing.
        let before = try await Self.manifest(target, "acme")
        let resumed = try await target.cairn(["import", "--tenant", "acme", tar, "--json"])
        #expect(resumed.status == 0, "\(resumed)")
        #expect(try Audit.json(resumed.output)["present"]?.intValue == before.artifacts.count)
        let done = try await Self.manifest(target, "acme")
        #expect(done.artifacts == exported.artifacts)
        Self.expectExactAccounting(done)
        #expect(try await target.cairn(["verify", "--tenant", "acme"]).status == 0)
    }
}
