import CairnClient
import CairnDigest
import CairnProtocol
import CairnStore
import Foundation
import Testing

/// `cairn backup` and `cairn restore` against a real server: a hot backup
/// during uploads restores to a store that serves exactly what the backup's
/// manifest lists, digests agree across store, backup and restore, and a
/// tampered backup does not restore.
@Suite(.timeLimit(.minutes(2)))
struct BackupEndToEndTests {
    @Test func aBackupDuringUploadsRestoresToAnExactStore() async throws {
        let server = try await ServerProcess.start()
        let socket = server.socketPath
        _ = try await server.cairn(["quota", "set", "--max-bytes", "1G", "--tenant", "acme"])
        // Uploads by three clients (one content shared), running while the backup is taken.
        let uploads = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<3 {
                    group.addTask {
                        try await CairnClient.withConnection(socketPath: socket) { connection in
                            for index in 0..<12 {
                                let bytes =
                                    index % 4 == 0 ? Array("shared".utf8) : Payload.random(1000 + index * 70_000)
                                _ = try await connection.upload(
                                    tenant: client == 2 ? "beta" : "acme", providerId: "p", mimeType: "x/y",
                                    bytes: bytes)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        // Both tenants hold something before the backup, however the uploads above are scheduled.
        _ = try await CairnClient.withConnection(socketPath: socket) { connection in
            _ = try await connection.upload(
                tenant: "beta", providerId: "p", mimeType: "x/y", bytes: Payload.random(2000))
            return try await connection.upload(
                tenant: "acme", providerId: "p", mimeType: "x/y", bytes: Payload.random(3 << 20))
        }
        let backup = server.scratch("backup")
        let taken = try await server.cairn(["backup", "--data-dir", server.dataDirectory, "--out", backup, "--json"])
        try await uploads.value
        #expect(taken.status == 0, "\(taken)")
        #expect(permissions(backup) == 0o700)
        #expect(permissions(backup + "/data.mdb") == 0o600)
        #expect(permissions(backup + "/MANIFEST.json") == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: backup).sorted() == ["MANIFEST.json", "data.mdb"])
        let manifest = try Audit.json(String(contentsOfFile: backup + "/MANIFEST.json", encoding: .utf8))

        // The data file checks out with sha256 alone, as the manifest records it.
        let dataFile = try #require(manifest["files"]?.arrayValue?.first)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: backup + "/data.mdb"))
        #expect(dataFile["sha256"]?.stringValue == SHA256Hasher.digest(Array(bytes)).hex)

        let restoredDir = server.scratch("restored")
        let restored = try await server.cairn(["restore", "--from", backup, "--data-dir", restoredDir])
        #expect(restored.status == 0, "\(restored)")
        let second = try await ServerProcess.start(dataDirectory: restoredDir)
        try await CairnClient.withConnection(socketPath: second.socketPath) { connection in
            for tenant in ["acme", "beta"] {
                let entry = try #require(manifest["tenants"]?.arrayValue?.first { $0["tenant"]?.stringValue == tenant })
                let listed = try await connection.listAll(tenant: tenant)
                #expect(listed.count == entry["artifacts"]?.arrayValue?.count)
                var logical: UInt64 = 0
                var distinct: [String: UInt64] = [:]
                for meta in listed {
                    let id = try #require(meta["artifactId"]?.stringValue)
                    let content = try await connection.readAll(tenant: tenant, artifactId: id)
                    #expect(Payload.sha256(content) == meta["sha256"]?.stringValue)
                    logical += UInt64(content.count)
                    distinct[Payload.sha256(content)] = UInt64(content.count)
                }
                let usage = try await connection.usage(tenant: tenant)
                #expect(usage["artifactCount"]?.intValue == listed.count)
                #expect(usage["logicalBytes"]?.intValue == Int(logical))
                #expect(usage["storedBytes"]?.intValue == Int(distinct.values.reduce(0, +)))
                for key in ["artifactCount", "logicalBytes", "storedBytes"] {
                    #expect(usage[key] == entry["usage"]?[key], "\(tenant) \(key)")
                }
            }
        }
        // The restored server's manifests are the backup's.
        for tenant in ["acme", "beta"] {
            let printed = try await second.cairn(["manifest", "--tenant", tenant])
            let entry = manifest["tenants"]?.arrayValue?.first { $0["tenant"]?.stringValue == tenant }
            #expect(Audit.printedDigest(printed.output) == entry?["digest"]?.stringValue, "\(printed)")
        }
    }

    /// LMDB answers `MDB_MAP_RESIZED` to a process whose map is smaller than
    /// what another process has since written; the backup adopts the new
    /// size and copies again.
    @Test func aBackupOpenedBeforeTheServerGrewItsMapCopiesEverything() async throws {
        let server = try await ServerProcess.start()
        var configuration = ArtifactStore.Configuration()
        // LMDB maps at least what the store holds: with a tiny size asked for, this
        // process maps exactly that, and anything the server adds lies beyond it.
        configuration.initialMapSize = 4096
        let store = try ArtifactStore.openReadOnly(
            directory: server.dataDirectory + "/store", configuration: configuration)
        let file = server.scratch("content.bin")
        let content = Payload.random(3 << 20)
        try Data(content).write(to: URL(fileURLWithPath: file))
        let put = try await server.cairn(["put", file, "--tenant", "acme", "--provider", "p", "--json"])
        #expect(put.status == 0, "\(put)")
        let id = try #require(try Audit.json(put.output)["artifactId"]?.stringValue)

        let (manifest, dataFile) = try store.backup(to: server.scratch("backup"))
        let artifacts = manifest.tenants.first { $0.tenant.rawValue == "acme" }?.artifacts ?? []
        #expect(artifacts.map(\.id) == [id])
        #expect(artifacts.first?.sha256.hex == Payload.sha256(content))
        #expect(dataFile.sizeBytes > UInt64(content.count))
    }

    @Test func digestsAgreeAcrossStoreBackupAndRestoreAndAnAuditorsScript() async throws {
        let server = try await ServerProcess.start(files: Self.configurationFiles)
        for index in 0..<5 {
            let put = try await server.cairn(
                [
                    "put", "-", "--provider", "excititor:oci-openvex", "--mime-type", "text/plain; charset=utf-8",
                    "--tenant", "acme",
                ],
                stdin: Payload.random(10_000 * (index + 1)))
            #expect(put.status == 0, "\(put)")
        }
        _ = try await server.cairn(["quota", "set", "--max-artifacts", "50", "--tenant", "acme"])
        let configured = try await CairnClient.withConnection(socketPath: server.socketPath) { connection in
            try await connection.call(
                "providers.config.set",
                JSONObject([
                    ("tenant", "acme"), ("providerId", "acme:feed"),
                    ("values", .object(JSONObject([("url", "https://feed.example"), ("token", "s3cret")]))),
                ])
            ).result
        }
        let live = try await server.cairn(["manifest", "--tenant", "acme"])
        #expect(live.status == 0, "\(live)")
        let liveDigest = try #require(Audit.printedDigest(live.output))
        // `sed '$d' | sha256sum`: the digest is that of the lines above it.
        let lines = live.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast(2)
        #expect(SHA256Hasher.digest(Array((lines.joined(separator: "\n") + "\n").utf8)).hex == liveDigest)
        let manifestJSON = server.scratch("manifest.json")
        let json = try await server.cairn(["manifest", "--json", "--tenant", "acme"])
        try Data(json.stdout).write(to: URL(fileURLWithPath: manifestJSON))
        #expect(try Audit.manifestDigestByScript(manifestJSON, tenant: "acme") == liveDigest)

        let backup = server.scratch("backup")
        #expect(try await server.cairn(["backup", "--data-dir", server.dataDirectory, "--out", backup]).status == 0)
        #expect(try Audit.manifestDigestByScript(backup + "/MANIFEST.json", tenant: "acme") == liveDigest)
        let restoredDir = server.scratch("restored")
        #expect(try await server.cairn(["restore", "--from", backup, "--data-dir", restoredDir]).status == 0)
        for (name, contents) in Self.configurationFiles {
            #expect(FileManager.default.contents(atPath: restoredDir + "/" + name) == Data(contents.utf8))
            #expect(permissions(restoredDir + "/" + name) == 0o600)
        }
        let restored = try await ServerProcess.start(dataDirectory: restoredDir)
        #expect(Audit.printedDigest(try await restored.cairn(["manifest", "--tenant", "acme"]).output) == liveDigest)
        // The configuration, its secret included (shown only as set), and the provider's definition came along.
        let snapshot = try await CairnClient.withConnection(socketPath: restored.socketPath) { connection in
            try await connection.call(
                "providers.config.get", JSONObject([("tenant", "acme"), ("providerId", "acme:feed")])
            ).result
        }
        #expect(snapshot == configured)
        #expect(snapshot["fields"]?.arrayValue?.last?["value"] == ["set": true])
        // A restore never lands on a data directory in use.
        let again = try await server.cairn(["restore", "--from", backup, "--data-dir", server.dataDirectory])
        #expect(again.status == 1, "\(again)")
        // Nor does a backup land in a directory with files in it; they are left alone.
        let occupied = server.scratch("occupied")
        try FileManager.default.createDirectory(atPath: occupied, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: occupied + "/keep.txt"))
        let refused = try await server.cairn(["backup", "--data-dir", server.dataDirectory, "--out", occupied])
        #expect(refused.status == 1, "\(refused)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: occupied) == ["keep.txt"])
    }

    @Test func aTamperedBackupDoesNotRestoreAndNamesTheBlob() async throws {
        let server = try await ServerProcess.start()
        let damaged = Payload.random(200_000)
        let put = try await server.cairn(["put", "-", "--provider", "p", "--json", "--tenant", "acme"], stdin: damaged)
        let id = try #require(try Audit.json(put.output)["artifactId"]?.stringValue)
        _ = try await server.cairn(["put", "-", "--provider", "p", "--tenant", "acme"], stdin: Payload.random(5000))
        // This backup is of a stopped server's data directory.
        try await server.stop()
        let backup = server.scratch("backup")
        #expect(try await server.cairn(["backup", "--data-dir", server.dataDirectory, "--out", backup]).status == 0)
        try Audit.flipByte(in: backup + "/data.mdb", after: Array(damaged[100_000..<100_064]), delta: 10)

        let target = server.scratch("restored")
        let restore = try await server.cairn(["restore", "--from", backup, "--data-dir", target])
        #expect(restore.status == 1, "\(restore)")
        #expect(restore.errorOutput.contains("blob sha256:\(Payload.sha256(damaged)) fails verification"), "\(restore)")
        #expect(restore.errorOutput.contains(id))
        #expect(restore.errorOutput.contains("data file is not the one the manifest records"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
    }
}

extension BackupEndToEndTests {
    @Test(.enabled(if: Audit.hasMDBDump, "needs mdb_dump (lmdb-utils)"))
    func theAuditChainRecomputedFromTheDataFileMatchesTheManifest() async throws {
        let server = try await ServerProcess.start()
        for tenant in ["acme", "beta"] {
            _ = try await server.cairn(["put", "-", "--provider", "p", "--tenant", tenant], stdin: Payload.random(100))
            _ = try await server.cairn(["quota", "set", "--max-bytes", "1M", "--tenant", tenant])
        }
        let backup = server.scratch("backup")
        #expect(try await server.cairn(["backup", "--data-dir", server.dataDirectory, "--out", backup]).status == 0)
        let manifest = try Audit.json(String(contentsOfFile: backup + "/MANIFEST.json", encoding: .utf8))
        let copy = server.scratch("copy")
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: backup + "/data.mdb", toPath: copy + "/data.mdb")
        let heads = try Audit.chainHeadsByScript(copy)
        for entry in manifest["tenants"]?.arrayValue ?? [] {
            let tenant = try #require(entry["tenant"]?.stringValue)
            let head = try #require(heads[tenant])
            #expect(head.intact)
            #expect(head.seq == entry["events"]?["seq"]?.intValue)
            #expect(head.head == entry["events"]?["head"]?.stringValue)
        }
        #expect(heads.count == 2)
    }
}

extension BackupEndToEndTests {
    /// An access policy for the user running the tests and a provider definition with a secret field.
    static let configurationFiles: [String: String] = [
        "access.json": #"{"grants":[{"uid":\#(getuid()),"tenants":["*"],"scopes":["read","admin"]}]}"#,
        "providers.d/feed.json": #"""
        {"providerId":"acme:feed","displayName":"Acme feed","fields":[
          {"key":"url","shape":"scalar","required":true},{"key":"token","shape":"scalar","secret":true}]}
        """#,
    ]
}

extension ServerProcess {
    /// A server whose data directory holds `files` (relative paths) before it starts.
    static func start(files: [String: String]) async throws -> ServerProcess {
        let server = try ServerProcess()
        for (name, contents) in files {
            let path = (server.dataDirectory as NSString).appendingPathComponent(name)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
        }
        try await server.start()
        return server
    }

    /// A server on an existing data directory (a restore's), in a fixture of its own.
    static func start(dataDirectory: String) async throws -> ServerProcess {
        let server = try ServerProcess()
        try? FileManager.default.removeItem(atPath: server.dataDirectory)
        try FileManager.default.moveItem(atPath: dataDirectory, toPath: server.dataDirectory)
        try await server.start()
        return server
    }
}
